package planner

import (
	"fmt"
	"regexp"
	"strconv"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// stmtParser answers the questions Atlas's analyzers ask a migration file's
// parser (sqlcheck.File.Parser is duck-typed). Without answers they assume
// the worst: a column back-filled by an UPDATE before SET NOT NULL would
// still be reported as data-dependent. Whether an UPDATE fills a column is
// read from its tokens (sqlstatic.ParseUpdate) with Atlas's own rule; the
// other questions are about simple statement shapes, which regular
// expressions over the statement text, with any of the engines' identifier
// quotes, answer.
type stmtParser struct {
	// dialect is how the file's statements are written.
	dialect sqlstatic.Dialect
}

// ident matches name quoted the way any of the engines may quote it.
func ident(name string) string {
	return "[`\"\\[]?" + regexp.QuoteMeta(name) + "[`\"\\]]?"
}

// qualified matches an optionally schema-qualified table name.
func qualified(name string) string {
	return `(?:[^\s.]+\.)?` + ident(name)
}

// ColumnFilledBefore reports whether an UPDATE before pos fills c in every
// row that may be NULL.
func (p stmtParser) ColumnFilledBefore(stmts []*migrate.Stmt, t *schema.Table, c *schema.Column, pos int) (bool, error) {
	for _, s := range stmts {
		if s.Pos < pos && p.fills(s.Text, t, c, nil) {
			return true, nil
		}
	}
	return false, nil
}

// ColumnFilledAfter reports whether an UPDATE after pos fills c in every
// row holding match, the value MySQL set implicitly when it added c NOT
// NULL (nil: in every row that may be NULL).
func (p stmtParser) ColumnFilledAfter(stmts []*migrate.Stmt, t *schema.Table, c *schema.Column, pos int, match any) (bool, error) {
	var value *string
	if match != nil {
		v := fmt.Sprint(match)
		if unquoted, err := strconv.Unquote(v); err == nil {
			v = unquoted
		}
		value = &v
	}
	for _, s := range stmts {
		if s.Pos > pos && p.fills(s.Text, t, c, value) {
			return true, nil
		}
	}
	return false, nil
}

// fills is Atlas's rule for a back-fill: an UPDATE of t that sets c to
// something other than NULL, in every row or in exactly the rows that
// need it (`WHERE c IS NULL`, or `WHERE c = value` when value is given).
// An UPDATE with any other condition fills some rows; which, only the
// data knows, so it does not count.
func (p stmtParser) fills(stmt string, t *schema.Table, c *schema.Column, value *string) bool {
	u, ok := sqlstatic.ParseUpdate(p.dialect, stmt)
	if !ok || !u.Updates(schemaName(t), t.Name) || !u.Sets(c.Name) {
		return false
	}
	switch {
	case u.AllRows():
		return true
	case value == nil:
		return u.OnlyWhereNull(c.Name)
	}
	return u.OnlyWhereEquals(c.Name, *value)
}

func schemaName(t *schema.Table) string {
	if t.Schema == nil {
		return ""
	}
	return t.Schema.Name
}

// CheckNotNullFor reports whether a CHECK says column IS NOT NULL.
func (stmtParser) CheckNotNullFor(ck *schema.Check, column string) (bool, error) {
	return regexp.MustCompile(`(?i)` + ident(column) + `\s+IS\s+NOT\s+NULL`).MatchString(ck.Expr), nil
}

// CreateViewAfter reports whether a view named after a renamed table (old)
// and reading the new one is created after pos, keeping old readers working.
func (stmtParser) CreateViewAfter(stmts []*migrate.Stmt, old, new string, pos int) (bool, error) {
	re := regexp.MustCompile(`(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+` + qualified(old) + `\s.*\bFROM\s+` + qualified(new) + `(?:\s|$|;)`)
	for _, s := range stmts {
		if s.Pos > pos && re.MatchString(s.Text) {
			return true, nil
		}
	}
	return false, nil
}

// ColumnHasReferences reports whether stmt defines c with an inline
// REFERENCES clause, which MySQL ignores.
func (stmtParser) ColumnHasReferences(stmt *migrate.Stmt, c *schema.Column) (bool, error) {
	re := regexp.MustCompile(`(?is)(?:^|[,(]|\bCOLUMN)\s*` + ident(c.Name) + `\s+[^,]*?\bREFERENCES\b`)
	return re.MatchString(stmt.Text), nil
}
