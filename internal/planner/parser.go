package planner

import (
	"regexp"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// stmtParser answers the questions Atlas's analyzers ask a migration file's
// parser (sqlcheck.File.Parser is duck-typed). Without answers they assume
// the worst: a column back-filled by an UPDATE before SET NOT NULL would
// still be reported as data-dependent. The questions are about simple
// statement shapes, so regular expressions over the statement text, with
// any of the engines' identifier quotes, answer them.
type stmtParser struct{}

// ident matches name quoted the way any of the engines may quote it.
func ident(name string) string {
	return "[`\"\\[]?" + regexp.QuoteMeta(name) + "[`\"\\]]?"
}

// qualified matches an optionally schema-qualified table name.
func qualified(name string) string {
	return `(?:[^\s.]+\.)?` + ident(name)
}

func updateSets(t *schema.Table, c *schema.Column) *regexp.Regexp {
	return regexp.MustCompile(`(?is)^\s*UPDATE\s+` + qualified(t.Name) + `\s+SET\b.*?(?:^|[\s,])` + ident(c.Name) + `\s*=`)
}

// ColumnFilledBefore reports whether an UPDATE before pos sets c.
func (stmtParser) ColumnFilledBefore(stmts []*migrate.Stmt, t *schema.Table, c *schema.Column, pos int) (bool, error) {
	re := updateSets(t, c)
	for _, s := range stmts {
		if s.Pos < pos && re.MatchString(s.Text) {
			return true, nil
		}
	}
	return false, nil
}

// ColumnFilledAfter reports whether an UPDATE after pos sets c (MySQL's
// analyzers ask it about implicit defaults).
func (stmtParser) ColumnFilledAfter(stmts []*migrate.Stmt, t *schema.Table, c *schema.Column, pos int, _ any) (bool, error) {
	re := updateSets(t, c)
	for _, s := range stmts {
		if s.Pos > pos && re.MatchString(s.Text) {
			return true, nil
		}
	}
	return false, nil
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
