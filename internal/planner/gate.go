package planner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// ErrRefusedSQL matches every *RefusedSQLError.
var ErrRefusedSQL = errors.New("statement reaches outside the migration's database")

// RefusedSQLError is a script with statements the static gate refused:
// they reach outside the migration's own database (roles, grants, files,
// other schemas, foreign servers). It is found before anything is
// replayed or applied.
type RefusedSQLError struct {
	// Script is the script's name.
	Script string
	// Violations say which statements, and why. Their messages never quote
	// the SQL, which may come from a Secret.
	Violations []sqlstatic.Violation
}

func (e *RefusedSQLError) Error() string {
	msgs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		msgs[i] = v.Message
	}
	return fmt.Sprintf("script %s: %s", e.Script, strings.Join(msgs, "; "))
}

func (e *RefusedSQLError) Is(target error) bool { return target == ErrRefusedSQL }

// gate runs the static gate over everything in that will run on a
// database, the validation scripts included, before any of it is replayed
// on the dev database or applied.
func (p *Planner) gate(target *database.Target, in Input) error {
	g := sqlstatic.Gate{Schema: target.Schema(), Allow: p.AllowSQL}
	engine := sqlstatic.Dialect(target.Engine.Kinds()[0])
	// check reads a script as the engine splits it and as the planner
	// splits it (Atlas's generic scanner), so a statement one split takes
	// for a comment cannot slip through the other; a validation script's
	// statements must also be queries alone (none of the plan's changes,
	// findings or destructive flag count them).
	check := func(name, sql string, validation bool) error {
		stmts, err := sqlstatic.SplitFor(engine, sql)
		if err != nil {
			return &InvalidSQLError{Script: name, Index: -1, Err: err}
		}
		v := g.CheckSplit(engine, sql, stmts)
		if validation {
			v = append(v, sqlstatic.ReadOnly(engine, stmts)...)
		}
		if len(v) > 0 {
			return &RefusedSQLError{Script: name, Violations: v}
		}
		return nil
	}
	for _, s := range in.Scripts {
		if err := check(s.Name, s.SQL, false); err != nil {
			return err
		}
	}
	for _, s := range in.Validations {
		if err := check(s.Name, s.SQL, true); err != nil {
			return err
		}
	}
	if d := in.Desired; d != nil && (d.Format == "" || d.Format == SchemaFormatSQL) {
		return check(desiredName, d.Text, false)
	}
	return nil
}
