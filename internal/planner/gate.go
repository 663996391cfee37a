package planner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
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
	check := func(name, sql string) error {
		// CheckScript reads the script as the engine splits it and as the
		// planner splits it (Atlas's generic scanner), so a statement one
		// split takes for a comment cannot slip through the other.
		v, err := g.CheckScript(engine, sql)
		if err != nil {
			return &InvalidSQLError{Script: name, Index: -1, Err: err}
		}
		if len(v) > 0 {
			return &RefusedSQLError{Script: name, Violations: v}
		}
		return nil
	}
	scripts := append(append([]script.Script{}, in.Scripts...), in.Validations...)
	for _, s := range scripts {
		if err := check(s.Name, s.SQL); err != nil {
			return err
		}
	}
	for _, s := range in.Validations {
		stmts, err := sqlstatic.SplitFor(engine, s.SQL)
		if err != nil {
			return &InvalidSQLError{Script: s.Name, Index: -1, Err: err}
		}
		if v := sqlstatic.ReadOnly(engine, stmts); len(v) > 0 {
			return &RefusedSQLError{Script: s.Name, Violations: v}
		}
	}
	if d := in.Desired; d != nil && (d.Format == "" || d.Format == SchemaFormatSQL) {
		return check(desiredName, d.Text)
	}
	return nil
}
