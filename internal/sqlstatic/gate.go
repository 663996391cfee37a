package sqlstatic

import (
	"fmt"
	"slices"
	"strings"
)

// Reach is a kind of statement that reaches outside the migration's own
// database.
type Reach string

const (
	// ReachRole creates, alters, drops or renames a role, user or group, or
	// hands over what a role owns (REASSIGN/DROP OWNED).
	ReachRole Reach = "role"
	// ReachPrivilege grants or revokes privileges, alters default
	// privileges, or names another account as a MySQL DEFINER.
	ReachPrivilege Reach = "privilege"
	// ReachSystem changes the server: ALTER SYSTEM, SET GLOBAL/PERSIST,
	// plugins, extensions, languages, server libraries (LOAD 'lib', SONAME,
	// C and untrusted-language functions), databases, tablespaces,
	// CHECKPOINT, replication and administration statements, other
	// sessions (pg_terminate_backend), and in SQLite ATTACH, DETACH,
	// VACUUM INTO, PRAGMA (but a few harmless ones) and load_extension().
	ReachSystem Reach = "system"
	// ReachFile reads or writes files on the server, or runs a program
	// there: COPY to or from a file or PROGRAM, pg_read_file() and its
	// kin, lo_import/lo_export, LOAD DATA/XML, SELECT ... INTO
	// OUTFILE/DUMPFILE, LOAD_FILE().
	ReachFile Reach = "file"
	// ReachForeign connects to other servers: dblink*() calls, foreign
	// servers, tables, data wrappers and user mappings, IMPORT FOREIGN
	// SCHEMA, subscriptions, MySQL FEDERATED/CONNECT/SPIDER tables.
	ReachForeign Reach = "foreign"
	// ReachSession changes who the session is or where names resolve: SET
	// ROLE, SET SESSION AUTHORIZATION, RESET ROLE, search_path (SET or
	// set_config), USE of another database, a client character set whose
	// characters can hide quotes from the gate, or the session's named
	// locks (GET_LOCK, RELEASE_LOCK, pg_advisory_*), which the migration's
	// own lock is one of.
	ReachSession Reach = "session"
	// ReachOtherSchema names a table, function or schema qualified by
	// another schema or database than the migration's own, in any
	// statement, DML included.
	ReachOtherSchema Reach = "other-schema"
)

// AllReaches lists them all, for flags and docs.
var AllReaches = []Reach{
	ReachRole, ReachPrivilege, ReachSystem, ReachFile, ReachForeign, ReachSession, ReachOtherSchema,
}

// Gate refuses statements that reach outside the migration's own database.
//
// A user who may edit DatabaseMigrations writes their SQL, and the operator
// replays it on a dev database before any reviewer has approved it. The
// gate runs first, at admission and again before the replay, and refuses
// statements that act beyond the migration's database (roles, grants, the
// server, its files, other servers, other schemas) unless a platform-level
// setting allows that kind.
//
// It reads tokens, not a parse, and errs toward refusing. It looks inside
// SQL written as a string where the statement itself says it runs it:
// PostgreSQL DO blocks, SQL and PL/pgSQL function bodies, EXECUTE of a
// literal or of format('...'), MySQL PREPARE ... FROM '...', and the
// PostgreSQL functions that run a query given as text. SQL built by
// concatenation or from variables at run time (EXECUTE 'GR' || 'ANT ...',
// PREPARE s FROM @sql, or statements a trusted PL such as PL/Perl sends)
// cannot be seen statically: the dev database it is replayed on is
// isolated and runs with the migration's own credentials, and that, with
// the database role's privileges, is what contains it.
type Gate struct {
	// Schema is the migration's own schema (PostgreSQL, e.g. "public") or
	// database (MySQL); qualified names naming it are allowed. Empty: only
	// the built-in catalogs are allowed as qualifiers.
	Schema string
	// Allow are the kinds a platform setting lets through.
	Allow map[Reach]bool
}

// Violation says why one statement was refused.
type Violation struct {
	// Reach is the kind of the statement; empty when the gate could not
	// read the statement at all, which no setting allows.
	Reach Reach
	// Statement is the 0-based index in the statements checked.
	Statement int
	// Line is the 1-based line of the statement in its script (0 when the
	// statement was not split from a script).
	Line int
	// Message is a sentence for a person. It names keywords and kinds, never
	// the statement's text: the SQL may come from a Secret.
	Message string
}

// ParseReaches parses a comma-separated flag value ("role,privilege") into
// an Allow map.
func ParseReaches(s string) (map[Reach]bool, error) {
	allow := map[Reach]bool{}
	for part := range strings.SplitSeq(s, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if name == "" {
			continue
		}
		r := Reach(name)
		if !slices.Contains(AllReaches, r) {
			return nil, fmt.Errorf("unknown kind of SQL %q: the kinds are %s", strings.TrimSpace(part), reachList())
		}
		allow[r] = true
	}
	return allow, nil
}

func reachList() string {
	names := make([]string, len(AllReaches))
	for i, r := range AllReaches {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Check returns a violation for every statement, and every kind in it, that
// reaches outside the migration's database and that g does not allow.
func (g Gate) Check(engine Dialect, stmts []Stmt) []Violation {
	out, _ := g.check(engine, stmts)
	return out
}

// check is Check, with what each statement's readings in its server's
// modes cost of its budget.
func (g Gate) check(engine Dialect, stmts []Stmt) ([]Violation, []int) {
	var out []Violation
	costs := make([]int, len(stmts))
	for i, s := range stmts {
		var found []finding
		found, costs[i] = g.statement(engine, s, true, 0)
		out = g.violations(out, i, s, found)
	}
	return out, costs
}

// violations adds to out the findings of statement i that g does not allow.
func (g Gate) violations(out []Violation, i int, s Stmt, found []finding) []Violation {
	for _, f := range found {
		if f.reach != "" && g.Allow[f.reach] {
			continue
		}
		out = append(out, Violation{Reach: f.reach, Statement: i, Line: s.Line, Message: g.message(i, s.Line, f)})
	}
	return out
}

// CheckScript splits sql as the engine's driver does and checks the
// statements. Atlas's executors split a script without knowing its engine
// (migrate.Stmts, this package's Split), and where the two splits differ
// (MySQL's # comments and backslash escapes) a statement one of them drops
// as a comment can be one the other runs: `# x` + newline + `/*!50000
// GRANT ... */` is a comment to the MySQL split and a GRANT to the server
// when the generic split sends it. So the statements of both splits are
// checked, and a kind found on the same line by both is reported once,
// numbered as the engine's split numbers statements. The error is the
// engine's split's, for SQL that does not lex.
func (g Gate) CheckScript(engine Dialect, sql string) ([]Violation, error) {
	stmts, err := SplitFor(engine, sql)
	if err != nil {
		return nil, err
	}
	return g.CheckSplit(engine, sql, stmts), nil
}

// CheckSplit is CheckScript for a caller that has split sql already:
// stmts are SplitFor(engine, sql)'s statements.
//
// A statement of the generic split with the same text at the same place
// as one of the engine's has been read every way its engine reads it
// already; only the generic splitter's own reading is left to check, and
// none when it lexes as the engine's splitter does (PostgreSQL's).
func (g Gate) CheckSplit(engine Dialect, sql string, stmts []Stmt) []Violation {
	out, costs := g.check(engine, stmts)
	generic, err := Split(sql)
	if err != nil {
		return out // nothing runs what Atlas cannot split
	}
	type key struct {
		reach Reach
		line  int
	}
	seen := make(map[key]bool, len(out))
	for _, v := range out {
		seen[key{v.Reach, v.Line}] = true
	}
	read := make(map[int]int, len(stmts))
	for i, s := range stmts {
		read[s.Pos] = i
	}
	var more []Violation
	for i, s := range generic {
		j, same := read[s.Pos]
		same = same && stmts[j].Text == s.Text
		if same && stmts[j].lex == s.lex {
			continue
		}
		// The readings skipped cost what they cost the engine's statement:
		// reading every way would have charged them to this one too.
		charged := 0
		if same {
			charged = costs[j]
		}
		found, _ := g.statement(engine, s, !same, charged)
		more = g.violations(more[:0], i, s, found)
		for _, v := range more {
			if k := (key{v.Reach, v.Line}); !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// finding is one kind of reach found in a statement.
type finding struct {
	reach Reach // empty: the statement could not be read
	// what says what the statement does in words of ours, never its text:
	// "creates a role".
	what string
	// nested is true when it was found in SQL written as a string.
	nested bool
}

// statement reads s every way its engine may read it and returns what any
// reading finds, one finding per kind. With every false, it reads s only as
// its splitter did: its text has been read every other way already, and
// found readable.
//
// charged is what the readings skipped cost (with every false), counted
// against the budget as if they had run; the second result is what the
// readings in the server's modes cost.
func (g Gate) statement(engine Dialect, s Stmt, every bool, charged int) ([]finding, int) {
	text := s.Text
	if text == "" {
		text = s.Stripped
	}
	var (
		found    []finding
		read     = !every
		families = familiesFor(engine)
		modes    []lexMode
	)
	if loneCR(text) {
		// No reach: no setting allows it.
		found = mergeFindings(found, []finding{{what: "holds a carriage return that does not end a line, where PostgreSQL ends a -- comment and the splitter does not: the server would read statements no check read"}})
	}
	for _, fam := range families {
		m, ok := lexModes(fam, text)
		if !ok {
			found = mergeFindings(found, []finding{{what: "has too many differently numbered /*!...*/ comments to be read as every server version reads it"}})
			read = true
		}
		modes = append(modes, m...)
	}
	budget := workPerByte*(len(text)+1)*(len(modes)+len(families)) + baseWork
	run := func(m lexMode, toks []token) {
		k := &checker{g: g, mode: m, budget: &budget}
		k.stream(toks)
		found = mergeFindings(found, k.found)
	}
	// The statement as the splitter read it, so that what Atlas sees is
	// checked too.
	if toks, err := tokenize(text, s.lex); err == nil {
		read = true
		for _, fam := range families {
			run(lexMode{fam: fam, backslash: s.lex.backslashEscapes}, toks)
		}
	}
	if !every {
		modes = nil
	}
	before := budget
	for _, m := range modes {
		toks, err := lexAs(text, m)
		if err != nil {
			continue // the server in this mode cannot lex it either
		}
		read = true
		run(m, toks)
	}
	if !read {
		found = append(found, finding{what: "cannot be read the way the database reads it"})
	}
	modesCost := before - budget
	if budget-charged < 0 {
		found = mergeFindings(found, []finding{{what: "is too large or convoluted for the gate to check"}})
	}
	slices.SortStableFunc(found, func(a, b finding) int { return reachOrder(a.reach) - reachOrder(b.reach) })
	return found, modesCost
}

func reachOrder(r Reach) int {
	if i := slices.Index(AllReaches, r); i >= 0 {
		return i
	}
	return len(AllReaches)
}

// mergeFindings adds the findings of kinds not found yet.
func mergeFindings(found, more []finding) []finding {
	for _, f := range more {
		if !slices.ContainsFunc(found, func(g finding) bool { return g.reach == f.reach }) {
			found = append(found, f)
		}
	}
	return found
}

func (g Gate) message(i, line int, f finding) string {
	where := fmt.Sprintf("statement %d", i+1)
	if line > 0 {
		where += fmt.Sprintf(" (line %d)", line)
	}
	what := f.what
	if f.nested {
		what += " in SQL written as a string (a DO block, a function body or EXECUTE)"
	}
	if f.reach == "" {
		return fmt.Sprintf("%s %s: the gate refuses what it cannot check for statements that reach outside the migration's database", where, what)
	}
	var why string
	switch f.reach {
	case ReachRole, ReachPrivilege:
		why = "role and privilege statements reach outside the migration's database"
	case ReachSystem:
		why = "statements that change the database server reach outside the migration's database"
	case ReachFile:
		why = "statements that read or write files or run programs on the database server reach outside the migration's database"
	case ReachForeign:
		why = "statements that connect to other servers reach outside the migration's database"
	case ReachSession:
		why = "statements that change the session's identity, search path, character set, database or named locks reach outside the migration's database"
	case ReachOtherSchema:
		own := "a built-in catalog"
		if g.Schema != "" {
			own = fmt.Sprintf("%q or a built-in catalog", g.Schema)
		}
		why = "names qualified by anything but " + own + " reach outside the migration's schema"
	}
	return fmt.Sprintf("%s %s: %s; a platform administrator can allow them with --allow-sql=%s", where, what, why, f.reach)
}

// maxNesting bounds how deep SQL inside strings inside SQL is followed;
// deeper is refused.
const maxNesting = 4

// The gate reads what admission is sent, so its work is bounded: a
// statement may cost this many token steps per byte and reading, all its
// readings and nested bodies together; one that needs more is refused
// rather than half checked. Real SQL takes a few steps per token and
// reading; crafted SQL (thousands of DO or SET clauses in one statement,
// SQL nested in strings with many readings each) can take quadratically
// many.
const (
	workPerByte = 16
	baseWork    = 1 << 16
)

// checker runs the rules over one reading of one statement.
type checker struct {
	g     Gate
	mode  lexMode
	depth int // of SQL written as a string
	found []finding

	toks []token
	// table marks the tokens that start a name in table position, whose
	// qualifier is a schema or database.
	table []bool
	// listed marks the list items already read, so that no list is read twice.
	listed []bool
	// closing is, for each '(', the index of its ')' (len(toks) if none).
	closing []int
	// lead is the keyword the current clause starts with.
	lead string
	// budget is the work left for the statement; below zero, the checker
	// stops and the statement is refused.
	budget *int
}

// spend takes n steps from the budget and reports whether any were left.
func (k *checker) spend(n int) bool {
	*k.budget -= n
	return *k.budget >= 0
}

func (k *checker) add(r Reach, what string) {
	k.found = mergeFindings(k.found, []finding{{reach: r, what: what}})
}

// group is what a parenthesised group (or the statement) has seen so far.
type group struct {
	query       bool // SELECT, UPDATE, DELETE or STATISTICS: a FROM here lists tables
	deleteMerge bool // DELETE or MERGE: a USING here lists tables
}

// clauseStarters end one statement and start another inside compound
// statements, function bodies, triggers and rules.
var clauseStarters = keywords("BEGIN", "ATOMIC", "THEN", "ELSE", "LOOP", "DO", "REPEAT", "INSTEAD", "ALSO")

// stream checks a reading's tokens: first the keywords, which also mark
// the names in table position, then the names.
func (k *checker) stream(toks []token) {
	if !k.spend(4 * (len(toks) + 1)) {
		return
	}
	k.toks = toks
	k.table = make([]bool, len(toks))
	k.listed = make([]bool, len(toks))
	k.closing = make([]int, len(toks))
	var open []int
	for i, t := range toks {
		switch {
		case t.isPunct("("):
			k.closing[i] = len(toks)
			open = append(open, i)
		case t.isPunct(")") && len(open) > 0:
			k.closing[open[len(open)-1]] = i
			open = open[:len(open)-1]
		}
	}
	groups := []group{{}}
	start := true
	for i, t := range toks {
		if start {
			k.leading(i)
		}
		start = false
		top := &groups[len(groups)-1]
		switch {
		case t.isPunct("("):
			groups = append(groups, group{})
		case t.isPunct(")"):
			if len(groups) > 1 {
				groups = groups[:len(groups)-1]
			}
		case t.isPunct(";"):
			*top = group{}
			start = true
		case t.kind == word && !k.afterDot(i):
			k.positional(i, top)
			kw := strings.ToUpper(t.text)
			start = clauseStarters[kw] || (kw == "ROW" || kw == "STATEMENT") && i > 0 && toks[i-1].is("EACH")
		}
	}
	for i := 0; i < len(toks); {
		if !isIdent(toks[i]) || k.afterDot(i) {
			i++
			continue
		}
		parts, end := nameAt(toks, i)
		k.functionName(parts)
		switch {
		case end < len(toks) && toks[end].isPunct("("):
			k.call(parts, end, k.table[i])
		case k.table[i]:
			k.qualifier(parts, len(parts)-2, "names a table in another schema or database")
		case len(parts) >= 3:
			k.qualifier(parts, len(parts)-3, "names a column of a table in another schema or database")
		}
		i = max(end, i+1)
	}
}

func (k *checker) afterDot(i int) bool { return i > 0 && k.toks[i-1].isPunct(".") }

func isIdent(t token) bool { return t.kind == word || t.kind == quotedIdent }

// nameAt reads the possibly qualified name starting at i: its parts,
// unquoted, and the index past it.
func nameAt(toks []token, i int) ([]string, int) {
	var parts []string
	for i < len(toks) {
		part, ok := toks[i].ident()
		if !ok {
			break
		}
		parts = append(parts, part)
		i++
		if i+1 >= len(toks) || !toks[i].isPunct(".") || !isIdent(toks[i+1]) {
			break
		}
		i++
	}
	return parts, i
}

func keywords(kws ...string) map[string]bool {
	m := make(map[string]bool, len(kws))
	for _, kw := range kws {
		m[kw] = true
	}
	return m
}

// qualifier checks parts[idx], the schema or database a name is in.
func (k *checker) qualifier(parts []string, idx int, what string) {
	if idx < 0 || idx >= len(parts) || k.ownSchema(parts[idx]) {
		return
	}
	k.add(ReachOtherSchema, what)
}

// ownSchema reports whether a qualifier stays inside the migration's
// database: its own schema, or a built-in catalog.
func (k *checker) ownSchema(q string) bool {
	if k.g.Schema != "" && strings.EqualFold(q, k.g.Schema) {
		return true
	}
	switch strings.ToLower(q) {
	case "information_schema":
		return true
	case "pg_catalog", "pg_temp":
		return k.mode.fam == famPostgres
	case "main", "temp":
		return k.mode.fam == famSQLite
	}
	return false
}

// at is the token at i, or a zero token past the end.
func (k *checker) at(i int) token {
	if i < 0 || i >= len(k.toks) {
		return token{kind: punct}
	}
	return k.toks[i]
}

// skipWords returns the index of the first token from j that is not one of
// kws.
func (k *checker) skipWords(j int, kws ...string) int {
	for j < len(k.toks) && slices.ContainsFunc(kws, k.toks[j].is) {
		j++
	}
	return j
}

// listStops end a list of tables.
var listStops = keywords(
	"WHERE", "ON", "USING", "SET", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW", "UNION", "EXCEPT",
	"INTERSECT", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL", "STRAIGHT_JOIN", "OUTER",
	"RETURNING", "FOR", "OFFSET", "FETCH", "VALUES", "VALUE", "SELECT", "FROM", "INTO", "WITH", "TABLE",
	"BEGIN", "THEN", "ELSE", "LOOP", "DO", "END", "WHEN")

// refAt marks the name at j, after any of skip, as in table position and
// returns the index past it, or -1 when there is none.
func (k *checker) refAt(j int, skip ...string) int {
	j = k.skipWords(j, skip...)
	t := k.at(j)
	if !isIdent(t) || (t.kind == word && listStops[strings.ToUpper(t.text)] && !k.at(j+1).isPunct(".")) {
		return -1
	}
	k.table[j] = true
	_, end := nameAt(k.toks, j)
	return end
}

// listAt marks every table of a comma-separated list starting at j
// (FROM a x, b AS y; DROP TABLE a, b; LOCK TABLES a READ, b WRITE).
func (k *checker) listAt(j int, skip ...string) {
	for j < len(k.toks) {
		if k.listed[j] {
			return // read already, from an earlier start
		}
		k.listed[j] = true
		if end := k.refAt(j, skip...); end > 0 {
			j = end
		}
		// Skip the rest of the item (an alias, a column list, a lock mode)
		// up to the comma that starts the next.
		next := false
		k.depth0(j, func(i int) bool {
			t := k.toks[i]
			switch {
			case t.isPunct(","):
				next, j = true, i+1
				return false
			case t.kind == word && listStops[strings.ToUpper(t.text)] && !k.afterDot(i) && !k.at(i+1).isPunct("."):
				return false
			}
			return true
		})
		if !next {
			return
		}
	}
}

// depth0 calls f for each token of the clause from j on that is outside
// parentheses, until f returns false or the clause ends.
func (k *checker) depth0(j int, f func(int) bool) {
	for ; j < len(k.toks); j++ {
		if !k.spend(1) {
			return
		}
		t := k.toks[j]
		switch {
		case t.isPunct("("):
			j = k.closing[j]
		case t.isPunct(")"), t.isPunct(";"):
			return
		default:
			if !f(j) {
				return
			}
		}
	}
}

// objectKinds are the words after which a (possibly qualified) name of a
// schema object follows.
var objectKinds = keywords("VIEW", "INDEX", "SEQUENCE", "TYPE", "FUNCTION", "PROCEDURE", "TRIGGER", "DOMAIN",
	"AGGREGATE", "ROUTINE", "EVENT", "COLLATION", "CONVERSION", "STATISTICS")

// tableListLeads are statements whose TABLE takes a list of tables.
var tableListLeads = keywords("DROP", "TRUNCATE", "LOCK", "RENAME", "ANALYZE", "OPTIMIZE", "CHECK", "REPAIR", "CHECKSUM", "FLUSH")

// positional applies the rules of keywords that may stand anywhere in a
// statement.
func (k *checker) positional(i int, top *group) {
	t := k.toks[i]
	prev, next := k.at(i-1), k.at(i+1)
	kw := strings.ToUpper(t.text)
	switch kw {
	case "SELECT", "UPDATE", "DELETE", "MERGE", "STATISTICS":
		top.query = true
		top.deleteMerge = top.deleteMerge || kw == "DELETE" || kw == "MERGE"
	}
	switch kw {
	case "FROM":
		if top.query && !prev.is("DISTINCT") {
			k.listAt(i+1, "ONLY", "LATERAL")
		}
	case "JOIN", "STRAIGHT_JOIN":
		if !prev.is("SELECT") {
			k.refAt(i+1, "LATERAL", "ONLY")
		}
	case "INTO":
		if next.is("OUTFILE") || next.is("DUMPFILE") {
			k.add(ReachFile, "writes a file on the database server (SELECT ... INTO OUTFILE/DUMPFILE)")
			return
		}
		k.refAt(i+1, "STRICT", "TEMP", "TEMPORARY", "UNLOGGED", "TABLE")
	case "UPDATE":
		if !prev.is("KEY") {
			k.listAt(i+1, "ONLY", "LOW_PRIORITY", "IGNORE", "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL")
		}
	case "DELETE":
		if j := k.skipWords(i+1, "LOW_PRIORITY", "QUICK", "IGNORE"); !k.at(j).is("FROM") {
			k.listAt(j)
		}
	case "USING":
		if top.deleteMerge {
			k.listAt(i + 1)
		}
	case "TABLE":
		if prev.is("RETURNS") {
			return
		}
		if tableListLeads[k.lead] {
			k.listAt(i+1, "IF", "NOT", "EXISTS", "ONLY")
		} else {
			k.refAt(i+1, "IF", "NOT", "EXISTS", "ONLY")
		}
	case "REFERENCES", "HANDLER":
		if kw == "HANDLER" && next.is("FOR") {
			k.handlerBody(i + 2)
			return
		}
		k.refAt(i + 1)
	case "RENAME":
		if k.lead == "RENAME" {
			return
		}
		if j := k.skipWords(i+1, "TO", "AS"); !slices.ContainsFunc([]string{"COLUMN", "INDEX", "KEY", "CONSTRAINT", "USER"}, k.at(j).is) {
			k.refAt(j)
		}
	case "TO":
		if k.lead == "RENAME" {
			k.refAt(i + 1)
		}
	case "LIKE":
		if prev.isPunct("(") || prev.isPunct(",") {
			k.refAt(i + 1)
		}
	case "INHERITS":
		if next.isPunct("(") {
			k.listAt(i + 2)
		}
	case "PARTITION":
		switch {
		case prev.is("ATTACH") || prev.is("DETACH"):
			k.refAt(i + 1)
		case next.is("OF"):
			k.refAt(i + 2)
		}
	case "SCHEMA":
		if k.mode.fam.mysqlLike() || k.mode.fam == famSQLite {
			return
		}
		if !slices.ContainsFunc([]string{"CREATE", "ALTER", "DROP", "SET", "IN", "ON", "REINDEX"}, prev.is) {
			return
		}
		for j := k.skipWords(i+1, "IF", "NOT", "EXISTS"); isIdent(k.at(j)) && k.spend(1); j += 2 {
			if name, _ := k.at(j).ident(); !k.ownSchema(name) {
				k.add(ReachOtherSchema, "names another schema")
			}
			if !k.at(j + 1).isPunct(",") {
				break
			}
		}
	case "ENGINE", "CONNECTION", "DEFINER":
		// Options of CREATE and ALTER, before any query they hold (in which
		// `WHERE definer = 'x'` is a column).
		if (k.lead != "CREATE" && k.lead != "ALTER") || top.query {
			return
		}
		j := i + 1
		if k.at(j).isPunct("=") {
			j++
		}
		switch v := k.at(j); kw {
		case "ENGINE":
			if name := k.name(j); name == "FEDERATED" || name == "CONNECT" || name == "SPIDER" {
				k.add(ReachForeign, "creates a table stored on another server (ENGINE=FEDERATED/CONNECT/SPIDER)")
			}
		case "CONNECTION":
			if v.kind == literal {
				k.add(ReachForeign, "connects to another server (CONNECTION)")
			}
		case "DEFINER":
			if next.isPunct("=") && !v.is("CURRENT_USER") {
				k.add(ReachPrivilege, "names another account as DEFINER")
			}
		}
	case "SONAME":
		if next.kind == literal {
			k.add(ReachSystem, "loads a server library (SONAME)")
		}
	case "EXECUTE":
		j := k.skipWords(i+1, "IMMEDIATE")
		switch {
		case k.at(j).kind == literal:
			k.body(literalValue(k.at(j), k.mode))
		case k.at(j).is("format") && k.at(j+1).isPunct("(") && k.at(j+2).kind == literal:
			k.body(literalValue(k.at(j+2), k.mode))
		}
	default:
		if objectKinds[kw] {
			skip := []string{"IF", "NOT", "EXISTS", "CONCURRENTLY", "ONLY"}
			if k.lead == "DROP" {
				k.listAt(i+1, skip...)
			} else {
				k.refAt(i+1, skip...)
			}
		}
	}
}

// handlerBody finds the statement of a MySQL DECLARE ... HANDLER FOR
// condition[, ...] statement, and reads it as a clause.
func (k *checker) handlerBody(j int) {
	for k.spend(1) {
		switch {
		case k.at(j).is("SQLSTATE"):
			j = k.skipWords(j+1, "VALUE") + 1
		case k.at(j).is("NOT") && k.at(j+1).is("FOUND"):
			j += 2
		default:
			j++
		}
		if !k.at(j).isPunct(",") {
			break
		}
		j++
	}
	if j < len(k.toks) {
		k.leading(j)
	}
}

// leading applies the rules of the keywords a clause starts with.
func (k *checker) leading(i int) {
	t := k.toks[i]
	k.lead = ""
	if t.kind != word {
		return
	}
	k.lead = strings.ToUpper(t.text)
	c := &cursor{toks: k.toks, i: i + 1}
	switch k.lead {
	case "GRANT", "REVOKE":
		k.add(ReachPrivilege, "grants or revokes privileges ("+k.lead+")")
	case "CREATE", "ALTER", "DROP":
		k.object(k.lead, c)
	case "RENAME":
		if c.accept("USER") {
			k.add(ReachRole, "renames a user (RENAME USER)")
		}
	case "SET":
		k.set(c)
	case "RESET":
		switch {
		case c.accept("ROLE"), c.accept("SESSION", "AUTHORIZATION"), c.accept("ALL"):
			k.add(ReachSession, "resets the session's role (RESET)")
		case c.acceptAny("PERSIST", "MASTER", "SLAVE", "REPLICA", "BINARY", "QUERY"):
			k.add(ReachSystem, "resets server state (RESET)")
		}
	case "USE":
		if t := k.at(c.i); isIdent(t) {
			if name, _ := t.ident(); !k.ownSchema(name) {
				k.add(ReachSession, "switches to another database (USE)")
			}
		}
	case "COPY":
		k.copyStatement(c.i)
	case "LOAD":
		switch {
		case k.at(c.i).kind == literal:
			k.add(ReachSystem, "loads a server library (LOAD)")
		case c.acceptAny("DATA", "XML"):
			k.add(ReachFile, "loads a file (LOAD DATA/LOAD XML)")
		}
	case "INSTALL", "UNINSTALL":
		k.add(ReachSystem, "installs or removes a server plugin or component ("+k.lead+")")
	case "ATTACH":
		k.add(ReachSystem, "attaches another database file (ATTACH)")
	case "DETACH":
		k.add(ReachSystem, "detaches an attached database (DETACH)")
	case "VACUUM":
		k.vacuum(c.i)
	case "PRAGMA":
		k.pragma(c.i)
	case "CHECKPOINT":
		k.add(ReachSystem, "forces a checkpoint of the whole server (CHECKPOINT)")
	case "IMPORT":
		switch {
		case c.accept("FOREIGN"):
			k.add(ReachForeign, "imports foreign tables (IMPORT FOREIGN SCHEMA)")
		case c.accept("TABLE"):
			k.add(ReachFile, "imports table files from the server's disk (IMPORT TABLE)")
		}
	case "FLUSH", "KILL", "SHUTDOWN", "RESTART", "PURGE", "BINLOG", "CLONE":
		k.add(ReachSystem, "runs a server administration statement ("+k.lead+")")
	case "CHANGE":
		if c.acceptAny("MASTER", "REPLICATION") {
			k.add(ReachSystem, "changes the server's replication (CHANGE MASTER/REPLICATION)")
		}
	case "START", "STOP":
		if c.acceptAny("SLAVE", "REPLICA", "GROUP_REPLICATION") {
			k.add(ReachSystem, "starts or stops the server's replication")
		}
	case "REASSIGN":
		if c.accept("OWNED") {
			k.add(ReachRole, "hands what a role owns to another (REASSIGN OWNED)")
		}
	case "DO":
		k.doBlock(c.i)
	case "PREPARE":
		if isIdent(k.at(c.i)) && k.at(c.i+1).is("FROM") && k.at(c.i+2).kind == literal {
			k.body(literalValue(k.at(c.i+2), k.mode))
		}
	case "LOCK":
		if !k.at(c.i).is("TABLE") {
			k.listAt(c.i, "TABLES", "ONLY")
		}
	case "TRUNCATE":
		if !k.at(c.i).is("TABLE") {
			k.listAt(c.i, "ONLY")
		}
	case "ANALYZE", "ANALYSE", "CLUSTER":
		if k.mode.fam != famPostgres {
			return
		}
		j := c.i
		if k.at(j).isPunct("(") {
			j = k.pastParens(j)
		}
		k.listAt(j, "VERBOSE", "SKIP_LOCKED")
	}
}

// pastParens returns the index past the parenthesis that closes the one at j.
func (k *checker) pastParens(j int) int {
	return k.closing[j] + 1
}

// verbs say what CREATE, ALTER and DROP do, in a message.
var verbs = map[string]string{"CREATE": "creates", "ALTER": "alters", "DROP": "drops"}

// object reads CREATE|ALTER|DROP [modifiers] kind ...
func (k *checker) object(verb string, c *cursor) {
	for {
		switch {
		case c.accept("OR", "REPLACE"), c.accept("OR", "ALTER"):
		case c.accept("SPATIAL", "REFERENCE"):
			k.add(ReachSystem, verbs[verb]+" a spatial reference system for the whole server")
			return
		case c.acceptAny("TEMP", "TEMPORARY", "GLOBAL", "LOCAL", "UNLOGGED", "UNIQUE", "FULLTEXT", "SPATIAL",
			"ONLINE", "OFFLINE", "IGNORE", "RECURSIVE", "CONSTRAINT", "AGGREGATE", "TRUSTED", "PROCEDURAL",
			"VIRTUAL", "UNDO", "MATERIALIZED", "EXTERNAL"):
		case c.accept("DEFINER"):
			// Flagged by positional; skip user[@host] or CURRENT_USER[()].
			c.acceptPunct("=")
			c.i++
			if c.acceptPunct("@") {
				c.i++
			}
			if c.acceptPunct("(") {
				c.acceptPunct(")")
			}
		case c.accept("ALGORITHM"), c.accept("SQL", "SECURITY"):
			c.acceptPunct("=")
			c.i++
		default:
			k.objectKind(verb, c)
			return
		}
	}
}

func (k *checker) objectKind(verb string, c *cursor) {
	does := verbs[verb]
	mysql := k.mode.fam.mysqlLike()
	switch {
	case c.accept("ROLE"):
		k.add(ReachRole, does+" a role")
	case c.accept("USER", "MAPPING"):
		k.add(ReachForeign, does+" a user mapping for a foreign server")
	case c.accept("USER"):
		k.add(ReachRole, does+" a user")
	case c.accept("GROUP"):
		k.add(ReachRole, does+" a group role")
	case c.accept("DATABASE"), mysql && c.accept("SCHEMA"):
		k.add(ReachSystem, does+" a database")
	case c.accept("TABLESPACE"):
		k.add(ReachSystem, does+" a tablespace")
	case c.accept("EXTENSION"):
		k.add(ReachSystem, does+" an extension")
	case c.accept("LANGUAGE"):
		k.add(ReachSystem, does+" a procedural language")
	case c.accept("SERVER"):
		k.add(ReachForeign, does+" a foreign server")
	case c.accept("FOREIGN"):
		k.add(ReachForeign, does+" a foreign table or data wrapper")
	case c.accept("SUBSCRIPTION"):
		k.add(ReachForeign, does+" a subscription to another server")
	case c.accept("PUBLICATION"):
		k.add(ReachSystem, does+" a publication for replication")
	case c.accept("EVENT", "TRIGGER"):
		k.add(ReachSystem, does+" an event trigger for the whole database")
	case c.acceptAny("RESOURCE", "LOGFILE"):
		k.add(ReachSystem, does+" a server resource or log file group")
	case c.accept("INSTANCE"), c.accept("SYSTEM"):
		k.add(ReachSystem, does+" the server's configuration (ALTER SYSTEM/INSTANCE)")
	case c.accept("DEFAULT", "PRIVILEGES"):
		k.add(ReachPrivilege, does+" default privileges")
	case c.accept("OWNED"):
		k.add(ReachRole, does+" everything a role owns (DROP OWNED)")
	case c.accept("TABLE"):
		// The name is marked by positional; MySQL's CREATE TABLE t LIKE u
		// copies u.
		j := k.skipWords(c.i, "IF", "NOT", "EXISTS")
		if isIdent(k.at(j)) {
			if _, end := nameAt(k.toks, j); k.at(end).is("LIKE") {
				k.refAt(end + 1)
			}
		}
	case verb == "CREATE" && (c.accept("FUNCTION") || c.accept("PROCEDURE")):
		k.routine(c.i)
	case c.acceptAny("INDEX", "TRIGGER", "POLICY"):
		k.depth0(c.i, func(j int) bool {
			if k.toks[j].is("ON") {
				k.refAt(j+1, "ONLY", "TABLE")
				return false
			}
			return true
		})
	case c.accept("RULE"):
		k.depth0(c.i, func(j int) bool {
			if k.toks[j].is("TO") {
				k.refAt(j + 1)
				return false
			}
			return true
		})
	}
}

// untrustedLanguages run code outside the database's sandbox.
var untrustedLanguages = keywords("C", "INTERNAL", "PLR", "PLSH")

// routine reads the rest of a PostgreSQL CREATE FUNCTION/PROCEDURE: its
// language and, for SQL and PL/pgSQL, its body.
func (k *checker) routine(j int) {
	var (
		lang   string
		bodies []token
	)
	k.depth0(j, func(j int) bool {
		switch t := k.toks[j]; {
		case t.is("LANGUAGE"):
			lang = k.name(j + 1)
		case t.is("AS"):
			for j++; k.at(j).kind == literal; j += 2 {
				bodies = append(bodies, k.toks[j])
				if !k.at(j + 1).isPunct(",") {
					break
				}
			}
		}
		return true
	})
	k.language(lang, bodies)
}

// doBlock reads DO [LANGUAGE lang] code [LANGUAGE lang].
func (k *checker) doBlock(j int) {
	var (
		lang   string
		bodies []token
	)
	k.depth0(j, func(j int) bool {
		switch t := k.toks[j]; {
		case t.is("LANGUAGE"):
			lang = k.name(j + 1)
		case t.kind == literal && !k.at(j-1).is("LANGUAGE"):
			bodies = append(bodies, t)
		}
		return true
	})
	k.language(lang, bodies)
}

// name is the identifier or string literal at j, unquoted, upper case.
func (k *checker) name(j int) string {
	t := k.at(j)
	if t.kind == literal {
		return strings.ToUpper(literalValue(t, k.mode))
	}
	s, _ := t.ident()
	return strings.ToUpper(s)
}

func (k *checker) language(lang string, bodies []token) {
	switch {
	case untrustedLanguages[lang] || strings.HasPrefix(lang, "PL") && strings.HasSuffix(lang, "U"):
		k.add(ReachSystem, "runs code in a language that is not confined to the database (LANGUAGE C or an untrusted language)")
	case lang == "" || lang == "SQL" || lang == "PLPGSQL":
		for _, b := range bodies {
			k.body(literalValue(b, k.mode))
		}
	}
	// Bodies in trusted languages (PL/Perl, PL/v8, ...) are not SQL; what
	// they send to the database is dynamic SQL, not seen here.
}

// body checks SQL written as a string, in every mode the server may read
// it in: a function body is read again whenever the function runs.
func (k *checker) body(text string) {
	if k.depth >= maxNesting {
		k.found = mergeFindings(k.found, []finding{{what: "nests SQL inside strings too deeply to be checked"}})
		return
	}
	modes, ok := lexModes(k.mode.fam, text)
	if !ok {
		k.found = mergeFindings(k.found, []finding{{what: "has too many differently numbered /*!...*/ comments to be read as every server version reads it", nested: true}})
		return
	}
	for _, m := range modes {
		if !k.spend(len(text) + 1) {
			return
		}
		toks, err := lexAs(text, m)
		if err != nil {
			continue // the server cannot run it in this mode either
		}
		sub := &checker{g: k.g, mode: m, depth: k.depth + 1, budget: k.budget}
		sub.stream(toks)
		for _, f := range sub.found {
			f.nested = true
			k.found = mergeFindings(k.found, []finding{f})
		}
	}
}

// copyStatement reads COPY table|(query) ... FROM|TO target.
func (k *checker) copyStatement(j int) {
	if !k.at(j).isPunct("(") {
		k.refAt(j, "BINARY")
	}
	k.depth0(j, func(j int) bool {
		if !k.toks[j].is("FROM") && !k.toks[j].is("TO") {
			return true
		}
		switch target := k.at(j + 1); {
		case target.is("STDIN"), target.is("STDOUT"):
		case target.is("PROGRAM"):
			k.add(ReachFile, "runs a program on the database server (COPY ... PROGRAM)")
		default:
			k.add(ReachFile, "reads or writes a file on the database server (COPY ... FROM/TO a file)")
		}
		return false
	})
}

// vacuum reads PostgreSQL's VACUUM [(options)] [words] tables and SQLite's
// VACUUM [schema] [INTO file].
func (k *checker) vacuum(j int) {
	k.depth0(j, func(j int) bool {
		if k.toks[j].is("INTO") {
			k.add(ReachSystem, "writes a copy of the database to a file (VACUUM INTO)")
			return false
		}
		return true
	})
	switch k.mode.fam {
	case famPostgres:
		if k.at(j).isPunct("(") {
			j = k.pastParens(j)
		}
		k.listAt(j, "FULL", "FREEZE", "VERBOSE", "ANALYZE", "ANALYSE")
	case famSQLite:
		if t := k.at(j); isIdent(t) && !t.is("INTO") {
			if name, _ := t.ident(); !k.ownSchema(name) {
				k.add(ReachOtherSchema, "vacuums another database")
			}
		}
	}
}

// harmlessPragmas change nothing beyond the connection's own checks, or
// only read the schema.
var harmlessPragmas = keywords("FOREIGN_KEYS", "DEFER_FOREIGN_KEYS", "LEGACY_ALTER_TABLE", "RECURSIVE_TRIGGERS",
	"FOREIGN_KEY_CHECK", "FOREIGN_KEY_LIST", "TABLE_INFO", "TABLE_XINFO", "INDEX_LIST", "INDEX_INFO",
	"INDEX_XINFO", "INTEGRITY_CHECK", "QUICK_CHECK")

// pragma reads PRAGMA [schema.]name [= value | (value)].
func (k *checker) pragma(j int) {
	parts, _ := nameAt(k.toks, j)
	if len(parts) == 0 {
		return
	}
	k.qualifier(parts, len(parts)-2, "names another attached database")
	if !harmlessPragmas[strings.ToUpper(parts[len(parts)-1])] {
		k.add(ReachSystem, "changes a database setting or reads files with PRAGMA")
	}
}

// set reads SET a = x, b = y ...: each assignment may name a scope.
func (k *checker) set(c *cursor) {
	for {
		k.setItem(&cursor{toks: k.toks, i: c.i})
		next := -1
		k.depth0(c.i, func(j int) bool {
			if k.toks[j].isPunct(",") {
				next = j + 1
				return false
			}
			return true
		})
		if next < 0 {
			return
		}
		c.i = next
	}
}

func (k *checker) setItem(c *cursor) {
	global := c.acceptAny("GLOBAL", "PERSIST", "PERSIST_ONLY")
	if !global {
		c.acceptAny("SESSION", "LOCAL")
	}
	if c.acceptPunct("@") {
		if !c.acceptPunct("@") {
			if !global {
				return // a user variable
			}
		} else if k.at(c.i + 1).isPunct(".") {
			global = slices.ContainsFunc([]string{"GLOBAL", "PERSIST", "PERSIST_ONLY"}, k.at(c.i).is)
			c.i += 2
		}
	}
	if global {
		k.add(ReachSystem, "changes a server-wide setting (SET GLOBAL/PERSIST)")
		return
	}
	switch {
	case c.accept("ROLE"):
		k.add(ReachSession, "changes the session's role (SET ROLE)")
	case c.accept("SESSION", "AUTHORIZATION"), c.accept("AUTHORIZATION"), c.accept("SESSION_AUTHORIZATION"):
		k.add(ReachSession, "changes the session's user (SET SESSION AUTHORIZATION)")
	case c.accept("DEFAULT", "ROLE"):
		k.add(ReachRole, "sets a user's default role")
	case c.accept("PASSWORD"):
		k.add(ReachRole, "sets a password")
	case c.accept("RESOURCE", "GROUP"):
		k.add(ReachSystem, "assigns a server resource group")
	case c.accept("SEARCH_PATH"), c.accept("SCHEMA"):
		k.add(ReachSession, "changes the search path (SET search_path/SCHEMA)")
	case c.accept("SQL_LOG_BIN"):
		k.add(ReachSystem, "switches the server's binary log for the session (sql_log_bin)")
	case c.acceptAny("NAMES", "CHARSET", "CLIENT_ENCODING", "CHARACTER_SET_CLIENT", "CHARACTER_SET_CONNECTION"),
		c.accept("CHARACTER", "SET"):
		c.acceptPunct("=")
		c.accept("TO")
		if !safeCharset(k.at(c.i), k.mode) {
			k.add(ReachSession, "switches the connection to a character set whose characters can hide quotes")
		}
	}
}

// unsafeCharsets have multi-byte characters whose later bytes can be a
// quote or a backslash: in them the server reads strings differently from
// the gate.
var unsafeCharsets = keywords("BIG5", "BIG5HKSCS", "CP932", "CP936", "CP949", "CP950", "GBK", "GB18030", "SJIS",
	"SHIFTJIS", "SJIS2004", "SHIFTJIS2004", "UHC", "JOHAB", "WIN932", "WIN936", "WIN949", "WIN950",
	"WINDOWS932", "WINDOWS936", "WINDOWS949", "WINDOWS950", "MSKANJI")

func safeCharset(t token, m lexMode) bool {
	var name string
	switch t.kind {
	case literal:
		name = literalValue(t, m)
	case word, quotedIdent:
		name, _ = t.ident()
	default:
		return false // a variable: unknown until it runs
	}
	name = strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(name))
	return !unsafeCharsets[name]
}

// Functions by what they reach.
var (
	fileFunctions = keywords("PG_READ_FILE", "PG_READ_BINARY_FILE", "PG_LS_DIR", "PG_STAT_FILE", "LO_IMPORT",
		"LO_EXPORT", "PG_LS_LOGDIR", "PG_LS_WALDIR", "PG_LS_TMPDIR", "PG_LS_ARCHIVE_STATUSDIR",
		"PG_LS_LOGICALSNAPDIR", "PG_LS_LOGICALMAPDIR", "PG_LS_REPLSLOTDIR", "PG_FILE_WRITE", "PG_FILE_RENAME",
		"PG_FILE_UNLINK", "PG_FILE_SYNC", "PG_LOGDIR_LS", "LOAD_FILE", "READFILE", "WRITEFILE", "FSDIR")
	systemFunctions = keywords("LOAD_EXTENSION", "PG_RELOAD_CONF", "PG_TERMINATE_BACKEND", "PG_CANCEL_BACKEND",
		"PG_ROTATE_LOGFILE", "PG_PROMOTE", "PG_SWITCH_WAL", "PG_CREATE_PHYSICAL_REPLICATION_SLOT",
		"PG_CREATE_LOGICAL_REPLICATION_SLOT", "PG_DROP_REPLICATION_SLOT", "PG_COPY_PHYSICAL_REPLICATION_SLOT",
		"PG_COPY_LOGICAL_REPLICATION_SLOT", "SYS_EXEC", "SYS_EVAL")
	// dblinkFunctions are dblink's, refused wherever they are named; any
	// call of a dblink* function is refused too.
	dblinkFunctions = keywords("DBLINK", "DBLINK_EXEC", "DBLINK_CONNECT", "DBLINK_CONNECT_U", "DBLINK_OPEN",
		"DBLINK_FETCH", "DBLINK_SEND_QUERY", "DBLINK_GET_RESULT", "DBLINK_BUILD_SQL_INSERT",
		"DBLINK_BUILD_SQL_UPDATE", "DBLINK_BUILD_SQL_DELETE")
	// queryFunctions run a query given as text.
	queryFunctions = keywords("QUERY_TO_XML", "QUERY_TO_XMLSCHEMA", "QUERY_TO_XML_AND_XMLSCHEMA", "TS_STAT",
		"CROSSTAB", "CROSSTAB2", "CROSSTAB3", "CROSSTAB4")
	// lockFunctions take or release the session's named (advisory)
	// locks, which the migration's own lock is one of: a script
	// releasing it would let another apply start under this one.
	lockFunctions = keywords("GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS", "IS_FREE_LOCK", "IS_USED_LOCK",
		"PG_ADVISORY_LOCK", "PG_ADVISORY_LOCK_SHARED", "PG_ADVISORY_UNLOCK", "PG_ADVISORY_UNLOCK_SHARED",
		"PG_ADVISORY_UNLOCK_ALL", "PG_ADVISORY_XACT_LOCK", "PG_ADVISORY_XACT_LOCK_SHARED", "PG_TRY_ADVISORY_LOCK",
		"PG_TRY_ADVISORY_LOCK_SHARED", "PG_TRY_ADVISORY_XACT_LOCK", "PG_TRY_ADVISORY_XACT_LOCK_SHARED")
	// sequenceFunctions take a sequence's name as text.
	sequenceFunctions = keywords("NEXTVAL", "SETVAL", "CURRVAL")
	// sessionSettings are what set_config must not change.
	sessionSettings = keywords("SEARCH_PATH", "ROLE", "SESSION_AUTHORIZATION")
)

// functionName refuses a name of a function that reaches out wherever it
// stands, called or not: `CREATE OPERATOR ### (PROCEDURE = pg_read_file,
// ...)` or a cast WITH FUNCTION binds it to syntax that calls it later.
func (k *checker) functionName(parts []string) {
	fn := strings.ToUpper(parts[len(parts)-1])
	switch {
	case fileFunctions[fn]:
		k.add(ReachFile, "reads or writes files on the database server ("+strings.ToLower(fn)+")")
	case systemFunctions[fn]:
		k.add(ReachSystem, "acts on the server or its other sessions ("+strings.ToLower(fn)+")")
	case dblinkFunctions[fn]:
		k.add(ReachForeign, "connects to another database (dblink)")
	case lockFunctions[fn]:
		k.add(ReachSession, "takes or releases a named lock, as the migration's own lock is ("+strings.ToLower(fn)+")")
	}
}

// call checks a call of the function named parts, whose argument list
// opens at open. A table function in FROM is both a table and a call.
func (k *checker) call(parts []string, open int, table bool) {
	what := "calls a function in another schema or database"
	if table {
		what = "names a table in another schema or database"
	}
	k.qualifier(parts, len(parts)-2, what)
	fn := strings.ToUpper(parts[len(parts)-1])
	first := k.at(open + 1)
	switch {
	case strings.HasPrefix(fn, "DBLINK"):
		k.add(ReachForeign, "connects to another database (dblink)")
	case fn == "SET_CONFIG":
		if first.kind != literal {
			k.add(ReachSession, "changes a setting named only when it runs (set_config)")
			return
		}
		name := strings.ToUpper(strings.TrimSpace(literalValue(first, k.mode)))
		switch {
		case sessionSettings[name]:
			k.add(ReachSession, "changes the session's role or search path (set_config)")
		case name == "CLIENT_ENCODING" && (!k.at(open+2).isPunct(",") || !safeCharset(k.at(open+3), k.mode)):
			k.add(ReachSession, "switches the connection to a character set whose characters can hide quotes")
		}
	case queryFunctions[fn]:
		k.depth0(open+1, func(j int) bool {
			if t := k.toks[j]; t.kind == literal && (k.at(j-1).isPunct("(") || k.at(j-1).isPunct(",")) {
				k.body(literalValue(t, k.mode))
			}
			return true
		})
	case sequenceFunctions[fn] && first.kind == literal:
		seq := literalValue(first, k.mode)
		toks, err := lexAs(seq, lexMode{fam: k.mode.fam})
		if err == nil && len(toks) > 0 {
			parts, _ := nameAt(toks, 0)
			k.qualifier(parts, len(parts)-2, "uses a sequence in another schema or database")
		}
	}
}

// loneCR reports whether text holds a carriage return not followed by a
// newline: where PostgreSQL's lexer ends a -- comment and the splitters
// (Atlas's, this package's) do not.
func loneCR(text string) bool {
	for i := strings.IndexByte(text, '\r'); i >= 0; i = strings.IndexByte(text, '\r') {
		if i+1 == len(text) || text[i+1] != '\n' {
			return true
		}
		text = text[i+1:]
	}
	return false
}
