package sqlstatic

import (
	"fmt"
	"strings"
)

// Kind names what a destructive statement does.
type Kind string

const (
	KindDropTable          Kind = "DropTable"
	KindDropColumn         Kind = "DropColumn"
	KindDropSchema         Kind = "DropSchema"
	KindDropDatabase       Kind = "DropDatabase"
	KindTruncate           Kind = "Truncate"
	KindDeleteWithoutWhere Kind = "DeleteWithoutWhere"
	KindUpdateWithoutWhere Kind = "UpdateWithoutWhere"
)

// Finding is one statically destructive statement, or one object a
// statement destroys when it names several.
type Finding struct {
	// Statement is the statement's index in the slice given to Destructive.
	Statement int
	// Line is the line of the script the statement starts on.
	Line int
	Kind Kind
	// Object is what is lost, unquoted: a table, schema or database name
	// (schema-qualified as written), or `table.column` for a column.
	Object string
	// Text is the statement without comments, cut to maxTextLen.
	Text string
	// Message says all of it to a person, counting statements from 1:
	// `statement 2 (line 4) drops table "users": DROP TABLE users`.
	Message string
}

const maxTextLen = 120

// Destructive returns a finding for every statement that drops a table,
// column, schema or database, truncates a table, or deletes or updates rows
// without a WHERE clause.
func Destructive(stmts []Stmt) []Finding {
	var findings []Finding
	for i, s := range stmts {
		toks, err := tokenize(s.Stripped, s.lex)
		if s.Stripped == "" || err != nil {
			// A Stmt built by hand rather than by Split.
			if toks, err = tokenize(s.Text, s.lex); err != nil {
				continue
			}
			toks = trimDelimiter(toks)
		}
		text := abbreviate(render(toks))
		for _, l := range destroyed(toks) {
			findings = append(findings, Finding{
				Statement: i,
				Line:      s.Line,
				Kind:      l.kind,
				Object:    l.object,
				Text:      text,
				Message:   message(i, s.Line, l, text),
			})
		}
	}
	return findings
}

// loss is one thing a statement destroys.
type loss struct {
	kind   Kind
	object string
	table  string // the column's table, for KindDropColumn
}

// destroyed reads one statement's tokens and returns what it destroys.
func destroyed(toks []token) []loss {
	c := &cursor{toks: skipWith(toks)}
	switch {
	case c.accept("DROP"):
		return dropped(c)
	case c.accept("ALTER"):
		return droppedColumns(c)
	case c.accept("TRUNCATE"):
		c.accept("TABLE")
		return lossesOf(KindTruncate, c.names())
	case c.accept("DELETE"):
		if c.hasTopLevel("WHERE") {
			return nil
		}
		for c.acceptAny("LOW_PRIORITY", "QUICK", "IGNORE") {
		}
		// `DELETE FROM t` or MySQL's multi-table `DELETE t1 FROM t1 JOIN ...`.
		c.accept("FROM")
		c.accept("ONLY")
		return []loss{{kind: KindDeleteWithoutWhere, object: c.name()}}
	case c.accept("UPDATE"):
		if c.hasTopLevel("WHERE") {
			return nil
		}
		for c.acceptAny("LOW_PRIORITY", "IGNORE", "ONLY") {
		}
		return []loss{{kind: KindUpdateWithoutWhere, object: c.name()}}
	}
	return nil
}

// skipWith drops a leading `WITH name AS (...), ...` so that the statement
// the common table expressions serve is read: their bodies sit in
// parentheses, so the first top-level statement keyword is that statement.
func skipWith(toks []token) []token {
	if len(toks) == 0 || !toks[0].is("WITH") {
		return toks
	}
	depth := 0
	for i, t := range toks {
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		case depth == 0 && (t.is("SELECT") || t.is("INSERT") || t.is("UPDATE") || t.is("DELETE") || t.is("MERGE")):
			return toks[i:]
		}
	}
	return nil
}

// dropped reads DROP [TEMPORARY] TABLE|SCHEMA|DATABASE [IF EXISTS] name, ...
func dropped(c *cursor) []loss {
	if c.acceptAny("TEMPORARY", "TEMP") {
		return nil // a session's scratch table holds nothing that outlives it
	}
	var kind Kind
	switch {
	case c.accept("TABLE"):
		kind = KindDropTable
	case c.accept("SCHEMA"):
		kind = KindDropSchema
	case c.accept("DATABASE"):
		kind = KindDropDatabase
	default:
		return nil
	}
	c.accept("IF", "EXISTS")
	return lossesOf(kind, c.names())
}

// notColumns are what ALTER TABLE ... DROP removes when it is not a
// column; none of them holds data.
var notColumns = []string{
	"CONSTRAINT", "INDEX", "KEY", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK",
	"DEFAULT", "NOT", "PARTITION", "PERIOD", "SYSTEM", "TRIGGER",
}

// droppedColumns reads ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] [ONLY] t
// action, ... and returns the columns its DROP [COLUMN] actions remove.
// Only a DROP that starts an action counts: in `ALTER COLUMN a DROP
// DEFAULT` it belongs to ALTER COLUMN.
func droppedColumns(c *cursor) []loss {
	for c.acceptAny("ONLINE", "IGNORE") {
	}
	if !c.accept("TABLE") {
		return nil
	}
	c.accept("IF", "EXISTS")
	c.accept("ONLY")
	table := c.name()
	c.acceptPunct("*")
	var losses []loss
	for _, action := range c.splitTopLevel(",") {
		a := &cursor{toks: action}
		if !a.accept("DROP") {
			continue
		}
		if !a.accept("COLUMN") && a.acceptAny(notColumns...) {
			continue
		}
		a.accept("IF", "EXISTS")
		column := a.name()
		losses = append(losses, loss{kind: KindDropColumn, object: table + "." + column, table: table})
	}
	return losses
}

func lossesOf(kind Kind, names []string) []loss {
	if len(names) == 0 {
		names = []string{""}
	}
	losses := make([]loss, len(names))
	for i, n := range names {
		losses[i] = loss{kind: kind, object: n}
	}
	return losses
}

func message(i, line int, l loss, text string) string {
	var what string
	switch l.kind {
	case KindDropTable:
		what = "drops table " + quote(l.object)
	case KindDropColumn:
		column := strings.TrimPrefix(l.object, l.table+".")
		what = fmt.Sprintf("drops column %s of table %s", quote(column), quote(l.table))
	case KindDropSchema:
		what = "drops schema " + quote(l.object)
	case KindDropDatabase:
		what = "drops database " + quote(l.object)
	case KindTruncate:
		what = "truncates table " + quote(l.object)
	case KindDeleteWithoutWhere:
		what = fmt.Sprintf("deletes every row of %s (DELETE without WHERE)", quote(l.object))
	case KindUpdateWithoutWhere:
		what = fmt.Sprintf("updates every row of %s (UPDATE without WHERE)", quote(l.object))
	}
	where := fmt.Sprintf("statement %d", i+1)
	if line > 0 {
		where += fmt.Sprintf(" (line %d)", line)
	}
	return fmt.Sprintf("%s %s: %s", where, what, text)
}

func quote(name string) string {
	if name == "" {
		return "?"
	}
	return fmt.Sprintf("%q", name)
}

// abbreviate cuts s to maxTextLen runes, marking the cut.
func abbreviate(s string) string {
	runes := 0
	for i := range s {
		if runes == maxTextLen {
			return s[:i] + "..."
		}
		runes++
	}
	return s
}
