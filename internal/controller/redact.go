package controller

import (
	"errors"
	"fmt"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// plannerDesiredName is how the planner's errors name the desired schema.
const plannerDesiredName = "desired schema"

// redactor hides the text of secret-sourced scripts (script.Script's
// Sensitive) wherever the controller shows something: the statements and
// findings of a plan in status (and its ConfigMap), the statement an apply
// reports as current, and every error a plan or an apply returns, which
// becomes a condition, status.message, an event and a log line. It is
// built from the scripts as loaded, so it knows what to hide; the plan's
// hash is the planner's, over the real statements.
type redactor struct {
	// engine splits the scripts into statements.
	engine dbv1.DatabaseType
	// scripts are the secret-sourced scripts by name, the desired schema
	// (under desiredSchemaName) included.
	scripts map[string]bool
	// desired is true when the desired schema came from a Secret: every
	// statement of a declarative plan is derived from it.
	desired bool
	// statements are the secret-sourced scripts and each of their
	// statements, for the leak check.
	statements []secretStatement
}

// secretStatement is one statement of a secret-sourced script.
type secretStatement struct {
	origin origin
	text   string
}

// origin places a statement: its 0-based index in a script (the desired
// schema is script desiredSchemaName), or in a declarative plan (planned).
// A negative index stands for the script as a whole.
type origin struct {
	script  string
	index   int
	planned bool
}

func (o origin) String() string {
	switch {
	case o.planned:
		return fmt.Sprintf("statement %d of the plan of the desired schema", o.index+1)
	case o.script == desiredSchemaName && o.index >= 0:
		return fmt.Sprintf("statement %d of the desired schema", o.index+1)
	case o.script == desiredSchemaName:
		return "the desired schema"
	case o.index < 0:
		return fmt.Sprintf("script %q", o.script)
	}
	return fmt.Sprintf("statement %d of script %q", o.index+1, o.script)
}

// newRedactor knows the secret-sourced scripts among scripts.
func newRedactor(engine dbv1.DatabaseType, scripts []script.Script) *redactor {
	r := &redactor{engine: engine, scripts: map[string]bool{}}
	for _, s := range scripts {
		if s.Sensitive {
			r.add(s.Name, s.SQL)
		}
	}
	return r
}

// addDesired knows the desired schema too, when it is secret-sourced.
func (r *redactor) addDesired(desired *source.Desired) {
	if desired.Sensitive {
		r.desired = true
		r.add(desiredSchemaName, desired.Text)
	}
}

func (r *redactor) add(name, text string) {
	r.scripts[name] = true
	r.statements = append(r.statements, secretStatement{origin: origin{script: name, index: -1}, text: text})
	stmts, err := sqlstatic.SplitFor(sqlstatic.Dialect(r.engine), text)
	if err != nil {
		return // the whole text is checked all the same
	}
	for i, s := range stmts {
		r.statements = append(r.statements, secretStatement{origin: origin{script: name, index: i}, text: s.Text})
	}
}

// sensitive says whether the script named so (as the planner names it)
// came from a Secret.
func (r *redactor) sensitive(name string) bool {
	if name == plannerDesiredName {
		name = desiredSchemaName
	}
	return r.scripts[name]
}

// plan turns the planner's plan into the API's, each secret-sourced
// statement replaced by a placeholder naming it and its checksum, and the
// findings on those statements by one that names the statement. The
// rollback is kept: Atlas writes it from the schemas, not from the scripts.
func (r *redactor) plan(p *planner.Plan, scripts []dbv1.PlannedScript) *Plan {
	out := &Plan{
		Hash:        p.Hash,
		Statements:  p.Statements,
		Changes:     p.Changes,
		Diagnostics: diagnostics(p.Diagnostics),
		Destructive: p.Destructive,
		Rollback:    p.Rollback,
		Scripts:     scripts,
	}
	for _, v := range p.Validations {
		sql := v.SQL
		if r.scripts[v.Name] {
			sql = fmt.Sprintf("-- %s (secret-sourced, %s): not shown", origin{script: v.Name, index: -1}, script.Checksum([]byte(v.SQL)))
		}
		out.Validations = append(out.Validations, dbv1.PlannedValidation{Name: v.Name, SQL: sql})
	}
	if len(r.scripts) == 0 {
		return out
	}
	hidden := map[int]origin{}
	out.Statements = make([]string, len(p.Statements))
	for i, stmt := range p.Statements {
		o, ok := r.statementOrigin(p, i)
		if !ok {
			out.Statements[i] = stmt
			continue
		}
		hidden[i] = o
		out.Statements[i] = fmt.Sprintf("-- %s (secret-sourced, %s): not shown", o, script.Checksum([]byte(stmt)))
	}
	for i := range out.Diagnostics {
		d := &out.Diagnostics[i]
		if d.Statement != nil {
			if o, ok := hidden[int(*d.Statement)]; ok {
				d.Text = fmt.Sprintf("finding on %s (secret-sourced): not shown", o)
			}
		}
		if o, ok := r.leak(d.Text); ok {
			d.Text = fmt.Sprintf("finding quoting %s (secret-sourced): not shown", o)
		}
	}
	return out
}

// statementOrigin says where the plan's statement i comes from, when that
// is a secret-sourced script.
func (r *redactor) statementOrigin(p *planner.Plan, i int) (origin, bool) {
	if r.desired {
		return origin{script: desiredSchemaName, index: i, planned: true}, true
	}
	if i < len(p.Steps) && r.scripts[p.Steps[i].Script] {
		return origin{script: p.Steps[i].Script, index: p.Steps[i].Index}, true
	}
	return origin{}, false
}

// progress wraps an apply's progress report so the statement it names as
// current is never a secret-sourced one.
func (r *redactor) progress(report func(done, total int, current string)) func(done, total int, current string) {
	if report == nil || len(r.scripts) == 0 {
		return report
	}
	return func(done, total int, current string) {
		switch o, ok := r.leak(current); {
		case r.desired:
			current = "a statement derived from the desired schema (secret-sourced): not shown"
		case ok:
			current = o.String() + " (secret-sourced): not shown"
		}
		report(done, total, current)
	}
}

// redact is err as conditions, events, status.message and logs may show
// it. An error about a secret-sourced script, or whose text quotes one (a
// whole statement or source.QuoteWindow bytes of it), becomes one that names the
// script, the statement and the kind of failure, not the SQL nor the
// database's message. The reconciler's errors.Is and errors.As see the
// original chain; a PermanentError keeps its reason.
func (r *redactor) redact(err error) error {
	if err == nil || len(r.scripts) == 0 {
		return err
	}
	message, hide := r.describe(err)
	if !hide {
		return err
	}
	hidden := &redactedError{message: message, err: err}
	var permanent *PermanentError
	if errors.As(err, &permanent) {
		return &PermanentError{Reason: permanent.Reason, Err: hidden}
	}
	return hidden
}

// describe says what redact shows of err, and whether err must be hidden.
func (r *redactor) describe(err error) (string, bool) {
	const notShown = "the statement and the database's message are not shown"
	var (
		invalid    *planner.InvalidSQLError
		failed     *planner.StatementError
		validation *planner.ValidationError
	)
	switch {
	case errors.As(err, &invalid) && r.sensitive(invalid.Script):
		o := origin{script: invalid.Script, index: invalid.Index}
		if o.script == plannerDesiredName {
			o.script = desiredSchemaName
		}
		return fmt.Sprintf("%s (secret-sourced): invalid SQL; %s", o, notShown), true
	case errors.As(err, &failed) && (r.sensitive(failed.Step.Script) || r.desired):
		where := origin{script: failed.Step.Script, index: failed.Step.Index}.String()
		if r.desired {
			where = "derived from the desired schema"
		}
		return fmt.Sprintf("statement %d of %d (%s, secret-sourced) failed on the database; %s%s; %s",
			failed.Index+1, failed.Total, where, statementOutcome(failed), rolledBack(err), notShown), true
	case errors.As(err, &validation) && r.sensitive(validation.Script):
		// Nor which statement failed: the reviewer did not read the
		// script, whose failing statement could be chosen by the data it
		// reads.
		o := origin{script: validation.Script, index: -1}
		return fmt.Sprintf("validation %s (secret-sourced) failed%s%s; which statement, and why, are not shown", o, verifyOutcome(err), rolledBack(err)), true
	}
	text := err.Error()
	var permanent *PermanentError
	if errors.As(err, &permanent) {
		// The reconciler shows the permanent error's own text.
		text += "\n" + permanent.Error()
	}
	if o, ok := r.leak(text); ok {
		return fmt.Sprintf("%s (secret-sourced): %s%s; the message quotes it and is not shown", o, errorClass(err), rolledBack(err)), true
	}
	return "", false
}

// leak finds the secret-sourced statement text quotes (source.Quotes):
// the statement when one is quoted, else the script.
func (r *redactor) leak(text string) (origin, bool) {
	var whole *origin
	for _, s := range r.statements {
		if !source.Quotes(text, s.text) {
			continue
		}
		if s.origin.index >= 0 {
			return s.origin, true
		}
		if whole == nil {
			whole = &s.origin
		}
	}
	if whole != nil {
		return *whole, true
	}
	return origin{}, false
}

// redactedError shows message in place of err's text; errors.Is and
// errors.As see err.
type redactedError struct {
	message string
	err     error
}

func (e *redactedError) Error() string { return e.message }
func (e *redactedError) Unwrap() error { return e.err }

// statementOutcome says what stays applied after a failed statement, as
// the planner's own message does.
func statementOutcome(e *planner.StatementError) string {
	switch {
	case e.RolledBack:
		return "the plan was rolled back, nothing was applied"
	case e.Applied == 0:
		return fmt.Sprintf("no statement was applied; revision %d records the failure", e.Revision)
	}
	return fmt.Sprintf("statements 1 to %d stay applied; revision %d records the checkpoint", e.Applied, e.Revision)
}

// verifyOutcome says what stays applied after a failed validation.
func verifyOutcome(err error) string {
	var verify *planner.VerifyError
	switch {
	case !errors.As(err, &verify):
		return ""
	case verify.RolledBack:
		return "; the plan was rolled back, nothing was applied"
	}
	return fmt.Sprintf("; the plan stays applied (revision %d records the failure): its rollback plan takes it back", verify.Revision)
}

// rolledBack notes an automatic rollback after the failure.
func rolledBack(err error) string {
	if rolledBackErr(err) {
		return "; rolled back automatically: the schema is the one the apply started from"
	}
	return ""
}
