package sqlstatic

import (
	"strconv"
	"strings"
)

// queryVerbs are the first words of the statements a validation script may
// hold: queries.
var queryVerbs = keywords("SELECT", "WITH", "VALUES", "TABLE")

// ReadOnly returns a violation for each statement of a validation script
// (as engine splits it) that is not a query. A validation script runs on
// the target after the plan's statements, and none of the plan's
// changes, findings or destructive flag count it: it may only read. The apply runs it in a
// read-only session too (database.ReadOnly); this check comes first, and
// at planning and admission, so that a script that would write is refused
// with a message rather than failing the apply, and catches what a
// read-only transaction would not: a statement that ends the transaction
// (COMMIT, ROLLBACK, RELEASE SAVEPOINT) or, on MySQL and MariaDB, commits
// it implicitly (DDL), or a /*!...*/ comment, which those servers run and
// which the first word of the statement does not show. A data-changing
// WITH (PostgreSQL, MySQL 8) passes here and fails in the read-only
// session. Messages name no SQL: a script may come from a Secret.
func ReadOnly(engine Dialect, stmts []Stmt) []Violation {
	var out []Violation
	for i, s := range stmts {
		var what string
		switch {
		case (engine == DialectMySQL || engine == DialectMariaDB) && (strings.Contains(s.Text, "/*!") || strings.Contains(s.Text, "/*M!")):
			what = "holds a /*!...*/ comment, which the server runs"
		case !queryVerbs[strings.ToUpper(firstWord(s.Stripped))]:
			what = "is not a query"
		default:
			continue
		}
		// No Reach: no setting allows it.
		out = append(out, Violation{Statement: i, Line: s.Line,
			Message: "statement " + strconv.Itoa(i+1) + " " + what + ": a validation script may only read (SELECT, WITH, VALUES, TABLE)"})
	}
	return out
}

// firstWord is the statement's first word: letters, up to anything else.
func firstWord(stripped string) string {
	end := strings.IndexFunc(stripped, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && r != '_'
	})
	if end < 0 {
		return stripped
	}
	return stripped[:end]
}
