package v1alpha1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// validateScriptContents lints each script whose SQL admission could read,
// split by the rules of the target engine (MySQL's backslash escapes,
// PostgreSQL's dollar quotes):
// the source URI parses, the checksum matches, the SQL lexes, no statement
// reaches outside the migration's database unless the platform allows
// that kind (gate), and no statement is statically destructive unless the
// policy lets a reviewer approve such plans.
func validateScriptContents(engine dbv1.DatabaseType, scripts []dbv1.MigrationScript, texts []scriptText, policy dbv1.Policy, gate sqlstatic.Gate, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range scripts {
		p := path.Index(i)
		if _, err := source.ParseRef(s.Source); err != nil {
			errs = append(errs, field.Invalid(p.Child("source"), s.Source, err.Error()))
			continue
		}
		if !texts[i].known {
			continue
		}
		errs = append(errs, hideSecret(engine, s.Source, texts[i].sql,
			validateSQL(engine, texts[i].sql, s.Checksum, policy, gate, s.Type == dbv1.ScriptTypeValidation, p))...)
	}
	return errs
}

// validateDesiredSchema lints a declarative schema the same way; only SQL
// schemas are lexed and gated here (HCL is parsed by the planner).
func validateDesiredSchema(engine dbv1.DatabaseType, d *dbv1.DesiredSchema, text scriptText, gate sqlstatic.Gate, path *field.Path) field.ErrorList {
	if _, err := source.ParseRef(d.Source); err != nil {
		return field.ErrorList{field.Invalid(path.Child("source"), d.Source, err.Error())}
	}
	if !text.known {
		return nil
	}
	var errs field.ErrorList
	if d.Checksum != "" {
		if got := script.Checksum([]byte(text.sql)); got != d.Checksum {
			errs = append(errs, field.Invalid(path.Child("checksum"), d.Checksum, "does not match the schema's content, whose checksum is "+got))
		}
	}
	if d.Format == dbv1.SchemaFormatSQL || d.Format == "" {
		if stmts, err := sqlstatic.SplitFor(sqlstatic.Dialect(engine), text.sql); err != nil {
			errs = append(errs, field.Invalid(path.Child("sql"), abbreviate(text.sql), "the SQL does not lex: "+err.Error()))
		} else {
			errs = append(errs, validateReach(gate.CheckSplit(sqlstatic.Dialect(engine), text.sql, stmts), path)...)
		}
	}
	return hideSecret(engine, d.Source, text.sql, errs)
}

// validateSQL lints a script's SQL: its checksum, what the gate refuses,
// destructive statements under a blocking policy and, for a validation
// script (queryOnly), any statement that is not a query: none of a plan's
// changes, findings or destructive flag count a validation script (the
// planner and the apply hold it to that too, whenever its source changes).
func validateSQL(engine dbv1.DatabaseType, sql, checksum string, policy dbv1.Policy, gate sqlstatic.Gate, queryOnly bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if checksum != "" {
		if got := script.Checksum([]byte(sql)); got != checksum {
			errs = append(errs, field.Invalid(path.Child("checksum"), checksum, "does not match the script's content, whose checksum is "+got))
		}
	}
	stmts, err := sqlstatic.SplitFor(sqlstatic.Dialect(engine), sql)
	if err != nil {
		return append(errs, field.Invalid(path.Child("sql"), abbreviate(sql), "the SQL does not lex: "+err.Error()))
	}
	errs = append(errs, validateReach(gate.CheckSplit(sqlstatic.Dialect(engine), sql, stmts), path)...)
	if queryOnly {
		errs = append(errs, validateReach(sqlstatic.ReadOnly(sqlstatic.Dialect(engine), stmts), path)...)
	}
	if policy.Destructive == dbv1.DestructiveAllowWithApproval {
		return errs
	}
	for _, f := range sqlstatic.Destructive(stmts) {
		errs = append(errs, field.Forbidden(path.Child("sql"), fmt.Sprintf(
			"%s; destructive statements are refused while spec.policy.destructive is block (set it to allowWithApproval to let a reviewer approve them)", f.Message)))
	}
	return errs
}

// validateReach refuses the statements that reach outside the migration's
// database (roles, grants, the server, its files, other servers, the
// session, other schemas) before anything is stored or replayed, unless
// the platform allows that kind. The messages name the statement, its line
// and the kind, never the SQL.
func validateReach(violations []sqlstatic.Violation, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, v := range violations {
		errs = append(errs, field.Forbidden(path.Child("sql"), v.Message))
	}
	return errs
}

// gateFor is the static gate for a migration's target: the names its
// statements may qualify are those of its own database for MySQL and
// MariaDB, PostgreSQL's default schema, SQLite's main database.
// Admission does not read the connection Secret, so a search_path in its
// URL is not known here; the planner, which reads it, gates again.
func gateFor(db dbv1.DatabaseConfig, allow map[sqlstatic.Reach]bool) sqlstatic.Gate {
	schema := "public"
	switch db.Type {
	case dbv1.DatabaseTypeMySQL, dbv1.DatabaseTypeMariaDB:
		schema = db.Database
	case dbv1.DatabaseTypeSQLite:
		schema = "main"
	}
	return sqlstatic.Gate{Schema: schema, Allow: allow}
}

// hideSecret keeps the text of a Secret-sourced script out of the errors
// about it: whoever may create a migration need not be able to read the
// Secret. The value of an error about the SQL becomes the source URI; a
// destructive statement is named by its number, line and kind; any other
// message that still quotes the text is replaced. Scripts from elsewhere
// keep their errors as they are.
func hideSecret(engine dbv1.DatabaseType, uri, sql string, errs field.ErrorList) field.ErrorList {
	if !source.IsSecret(uri) || len(errs) == 0 {
		return errs
	}
	var findings []sqlstatic.Finding
	if stmts, err := sqlstatic.SplitFor(sqlstatic.Dialect(engine), sql); err == nil {
		findings = sqlstatic.Destructive(stmts)
	}
	out := make(field.ErrorList, len(errs))
	for i, e := range errs {
		e := *e
		if text, ok := e.BadValue.(string); ok && (strings.HasSuffix(e.Field, ".sql") || source.Quotes(text, sql)) {
			e.BadValue = uri
		}
		for _, f := range findings {
			e.Detail = strings.ReplaceAll(e.Detail, f.Message, fmt.Sprintf("statement %d (line %d) is destructive (%s)", f.Statement+1, f.Line, f.Kind))
		}
		if source.Quotes(e.Detail, sql) {
			e.Detail = fmt.Sprintf("refused (%s); the message quotes the script, which comes from %s, and is not shown", e.Type, uri)
		}
		out[i] = &e
	}
	return out
}

// abbreviate keeps error values short: the full SQL is in the object.
func abbreviate(s string) string {
	const limit = 120
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
