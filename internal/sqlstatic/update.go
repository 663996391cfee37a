package sqlstatic

import (
	"strings"
)

// Update is an UPDATE statement read as far as a linter asks of it: which
// table it writes, which columns it sets to a value, and whether it
// writes every row, only the rows where a column is NULL, or only the
// rows where a column holds a given value. Atlas's analyzers ask these
// questions before a SET NOT NULL (was the column back-filled?) and after
// MySQL adds a NOT NULL column (were the rows it set implicitly filled?).
type Update struct {
	// schema and table name the table updated; schema is empty when the
	// name is not qualified. alias is the table's alias, which may
	// qualify a column.
	schema, table, alias ident
	set                  []assignment
	// where is the condition's tokens; nil when there is none.
	where []token
	// narrowed is true when something other than the condition decides
	// which rows are written: other tables (FROM, a join, a second table)
	// or a LIMIT.
	narrowed bool
}

// ident is an identifier as written: a quoted one is matched exactly, an
// unquoted one regardless of case, as the engines fold or ignore it.
type ident struct {
	name   string
	quoted bool
}

// Is reports whether the identifier names name.
func (i ident) Is(name string) bool {
	if i.quoted {
		return i.name == name
	}
	return strings.EqualFold(i.name, name)
}

func (i ident) String() string { return i.name }

type assignment struct {
	column ident
	null   bool // the value is the NULL literal
}

// updateEnd are the keywords that end an UPDATE's SET list or its WHERE
// condition.
var updateEnd = []string{"FROM", "WHERE", "RETURNING", "ORDER", "LIMIT"}

// ParseUpdate reads stmt, written for dialect d, as an UPDATE of one table.
// It returns false for any other statement, and for UPDATE forms it does
// not read (a WITH before it, a tuple assignment), about which a linter
// must then assume nothing was filled.
func ParseUpdate(d Dialect, stmt string) (*Update, bool) {
	opts, ok := dialects[d]
	if !ok {
		opts = generic
	}
	toks, err := tokenize(stmt, lexOptionsFor(opts))
	if err != nil {
		return nil, false
	}
	c := &cursor{toks: trimDelimiter(toks)}
	if !c.accept("UPDATE") {
		return nil, false
	}
	// MySQL's LOW_PRIORITY and IGNORE, SQLite's OR <conflict>,
	// PostgreSQL's ONLY.
	c.accept("LOW_PRIORITY")
	c.accept("IGNORE")
	if c.accept("OR") {
		c.i++
	}
	c.accept("ONLY")
	u := &Update{}
	parts := c.identParts()
	switch len(parts) {
	case 1:
		u.table = parts[0]
	case 2:
		u.schema, u.table = parts[0], parts[1]
	default:
		return nil, false
	}
	c.acceptPunct("*")
	c.accept("AS")
	if c.i < len(c.toks) && !c.toks[c.i].is("SET") {
		if alias := c.identParts(); len(alias) == 1 {
			u.alias = alias[0]
		}
	}
	if !c.accept("SET") {
		// A second table or a join before SET (MySQL's multiple-table
		// form): the rows updated depend on the others.
		if !c.skipToTopLevel("SET") {
			return nil, false
		}
		u.narrowed = true
	}
	for _, part := range c.untilTopLevel(updateEnd...) {
		a, ok := u.assignment(part)
		if !ok {
			return nil, false
		}
		u.set = append(u.set, a)
	}
	if c.accept("FROM") {
		u.narrowed = true
		c.untilTopLevel(updateEnd...)
	}
	if c.accept("WHERE") {
		start := c.i
		c.untilTopLevel("RETURNING", "ORDER", "LIMIT")
		u.where = c.toks[start:c.i]
	}
	if c.hasTopLevel("LIMIT") {
		u.narrowed = true
	}
	return u, true
}

// Updates reports whether u writes the table named table in schema (the
// statement names it unqualified or in that schema).
func (u *Update) Updates(schema, table string) bool {
	return u.table.Is(table) && (u.schema.name == "" || u.schema.Is(schema))
}

// Sets reports whether u sets column to something other than NULL.
func (u *Update) Sets(column string) bool {
	for _, a := range u.set {
		if a.column.Is(column) && !a.null {
			return true
		}
	}
	return false
}

// AllRows reports whether u writes every row of its table: no condition,
// no other table, no LIMIT.
func (u *Update) AllRows() bool { return u.where == nil && !u.narrowed }

// OnlyWhereNull reports whether u's condition is exactly `column IS NULL`,
// so every row left NULL is written.
func (u *Update) OnlyWhereNull(column string) bool {
	w := u.where
	if u.narrowed || len(w) < 3 {
		return false
	}
	name, rest := u.column(w)
	return name.Is(column) && len(rest) == 2 && rest[0].is("IS") && rest[1].is("NULL")
}

// OnlyWhereEquals reports whether u's condition is exactly `column =
// value` (either way round), value being a string literal or a number
// with that text.
func (u *Update) OnlyWhereEquals(column, value string) bool {
	w := u.where
	if u.narrowed || len(w) < 3 {
		return false
	}
	if name, rest := u.column(w); name.name != "" && len(rest) == 2 && rest[0].isPunct("=") {
		return name.Is(column) && literalIs(rest[1], value)
	}
	if len(w) >= 3 && w[1].isPunct("=") && literalIs(w[0], value) {
		name, rest := u.column(w[2:])
		return len(rest) == 0 && name.Is(column)
	}
	return false
}

// column reads a column reference at the start of toks (bare, or
// qualified by the table's name or alias) and returns the tokens after
// it.
func (u *Update) column(toks []token) (ident, []token) {
	c := &cursor{toks: toks}
	parts := c.identParts()
	switch {
	case len(parts) == 1:
		return parts[0], toks[c.i:]
	case len(parts) == 2 && (parts[0].Is(u.table.name) || (u.alias.name != "" && parts[0].Is(u.alias.name))):
		return parts[1], toks[c.i:]
	}
	return ident{}, toks
}

// assignment reads `column = value`.
func (u *Update) assignment(toks []token) (assignment, bool) {
	name, rest := u.column(toks)
	if name.name == "" || len(rest) < 2 || !rest[0].isPunct("=") {
		return assignment{}, false
	}
	value := rest[1:]
	return assignment{column: name, null: len(value) == 1 && value[0].is("NULL")}, true
}

// literalIs reports whether t is a string literal or a number whose value
// is value.
func literalIs(t token, value string) bool {
	switch t.kind {
	case literal:
		if !strings.HasPrefix(t.text, "'") {
			return false
		}
		return strings.ReplaceAll(t.text[1:len(t.text)-1], "''", "'") == value
	case quotedIdent:
		// MySQL reads "..." as a string unless ANSI_QUOTES is set.
		if !strings.HasPrefix(t.text, `"`) {
			return false
		}
		return strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`) == value
	case word:
		return t.text == value && strings.IndexFunc(t.text, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) < 0
	}
	return false
}

// identParts consumes a possibly qualified name and returns its parts.
func (c *cursor) identParts() []ident {
	var parts []ident
	for c.i < len(c.toks) {
		t := c.toks[c.i]
		name, ok := t.ident()
		if !ok {
			break
		}
		parts = append(parts, ident{name: name, quoted: t.kind == quotedIdent})
		c.i++
		if c.i+1 >= len(c.toks) || !c.toks[c.i].isPunct(".") {
			break
		}
		c.i++
	}
	return parts
}

// untilTopLevel consumes tokens up to one of the keywords kws outside
// parentheses (or the end) and returns them cut at top-level commas.
func (c *cursor) untilTopLevel(kws ...string) [][]token {
	var (
		parts [][]token
		depth int
		start = c.i
	)
	for ; c.i < len(c.toks); c.i++ {
		t := c.toks[c.i]
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		case depth == 0 && t.isPunct(","):
			parts = append(parts, c.toks[start:c.i])
			start = c.i + 1
		case depth == 0 && isAny(t, kws):
			return append(parts, c.toks[start:c.i])
		}
	}
	return append(parts, c.toks[start:c.i])
}

// skipToTopLevel moves past the keyword kw outside parentheses; false
// when there is none.
func (c *cursor) skipToTopLevel(kw string) bool {
	c.untilTopLevel(kw)
	return c.accept(kw)
}

func isAny(t token, kws []string) bool {
	for _, kw := range kws {
		if t.is(kw) {
			return true
		}
	}
	return false
}
