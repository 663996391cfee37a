package planner

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// ErrDataCorruption: a data integrity check found rows lost or changed.
var ErrDataCorruption = errors.New("data integrity check failed")

// checks are what every strategy runs around the plan's statements, on
// the apply's own connection (inside its transaction where the engine has
// one, so a failed check takes the plan back): the data integrity capture
// before the first statement, and after the last the integrity recheck
// and then the validation scripts.
type checks struct {
	target      *database.Target
	integrity   *integrity.Options
	validations []script.Script
	// captured is the state before the first statement.
	captured *integrity.State
}

// newChecks returns the checks of an apply of in on target. Tables a data
// script writes are expected to change: the integrity check leaves them
// out.
func newChecks(target *database.Target, in Input, opts *integrity.Options) *checks {
	c := &checks{target: target, validations: in.Validations}
	if opts != nil {
		o := *opts
		o.Exclude = append(slices.Clone(o.Exclude), writtenTables(in.Scripts)...)
		c.integrity = &o
	}
	return c
}

// before runs before the first statement.
func (c *checks) before(ctx context.Context, q database.Querier) error {
	if c.integrity == nil {
		return nil
	}
	state, err := integrity.Capture(ctx, c.target.Engine, q, c.target.Schema(), nil, *c.integrity)
	if err != nil {
		return fmt.Errorf("before the first statement: data integrity check, before the apply: %w", err)
	}
	c.captured = state
	return nil
}

// after runs when the last statement ran: integrity first, then the
// validation scripts in order.
func (c *checks) after(ctx context.Context, q database.Querier) error {
	if c.captured != nil {
		if err := integrity.Recheck(ctx, c.target.Engine, q, c.captured, *c.integrity); err != nil {
			return fmt.Errorf("%w: %w", ErrDataCorruption, err)
		}
	}
	for _, s := range c.validations {
		if i, err := runValidation(ctx, c.target, q, s); err != nil {
			return &ValidationError{Script: s.Name, Statement: i, Err: err}
		}
	}
	return nil
}

// shadowCopy is the integrity check of a shadow-table copy before its
// swap: the shadow must hold the live table's rows, by count and sampled
// checksum over the columns both share. Nil without integrity checks.
func (c *checks) shadowCopy() func(ctx context.Context, q database.Querier, table, copyName string, columns []string) error {
	if c.integrity == nil {
		return nil
	}
	return func(ctx context.Context, q database.Querier, table, copyName string, columns []string) error {
		cols := make([]string, len(columns))
		for i, col := range columns {
			cols[i] = sqlstatic.BareName(col)
		}
		if err := integrity.DiffTables(ctx, c.target.Engine, q, c.target.Schema(), sqlstatic.BareName(table), sqlstatic.BareName(copyName), cols, *c.integrity); err != nil {
			return fmt.Errorf("%w: %w", ErrDataCorruption, err)
		}
		return nil
	}
}

// writtenTables names the tables the data scripts write.
func writtenTables(scripts []script.Script) []string {
	var out []string
	for _, s := range scripts {
		if s.Type != script.TypeData {
			continue
		}
		for _, t := range sqlstatic.WrittenTables(s.SQL) {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// ValidationError is a validation script that failed, and where: a caller
// that must not show the script's SQL (a secret-sourced one) names it
// without its statement or the database's message.
//
// Its text never quotes what the script read: the status, events and
// logs that show this error are read by whoever may read the migration,
// who may not read the database (its Secret is a DatabaseTarget's); a
// reviewer approved the script's SQL, not the data it reads. So the
// script's answer is said without its value (validationAnswer), an error
// of the database's by its code alone (a message such as PostgreSQL's
// "invalid input syntax for type integer" or MariaDB's "XPATH syntax
// error" quotes the value the statement read), and any other error of a
// statement by its type alone (unsayable). Err keeps the whole chain for
// errors.Is and errors.As.
type ValidationError struct {
	Script string
	// Statement is the 0-based index of the statement that failed; -1
	// for the script as a whole.
	Statement int
	Err       error
}

func (e *ValidationError) Error() string {
	// A server's error anywhere in the chain (one joined to an answer
	// too: a failure to make the session writable again) is shown by its
	// code alone.
	if code, ok := database.ServerErrorCode(e.Err); ok {
		what := "it"
		if e.Statement >= 0 {
			what = fmt.Sprintf("statement %d", e.Statement+1)
		}
		return fmt.Sprintf("validation script %q: %s failed on the database (%s); the database's message is not shown: it may quote the data the script read",
			e.Script, what, code)
	}
	if bad := unsayable(e.Err); e.Statement >= 0 && bad != nil {
		// No driver is known to put what it read in an error of its own
		// (a value it could not decode, say), but none promises not to.
		return fmt.Sprintf("validation script %q: statement %d failed (%T); its message is not shown: it may quote the data the script read",
			e.Script, e.Statement+1, bad)
	}
	return fmt.Sprintf("validation script %q: %v", e.Script, e.Err)
}

// unsayable is the first error in a statement's failure, one that is
// not a server's error, that cannot be shown: nil when every error in
// its chain is the script's answer, said without its value, or a
// connection or time that ran out, which read nothing (the wrappers'
// words are kube-shift's).
func unsayable(err error) error {
	switch x := err.(type) {
	case validationAnswer:
		return nil
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			if bad := unsayable(e); bad != nil {
				return bad
			}
		}
		return nil
	}
	if err == context.Canceled || err == context.DeadlineExceeded || err == driver.ErrBadConn {
		return nil
	}
	if inner := errors.Unwrap(err); inner != nil {
		return unsayable(inner)
	}
	return err
}

func (e *ValidationError) Unwrap() error { return e.Err }

// validationAnswer is why a validation script's last statement did not
// pass, in words that quote nothing it read.
type validationAnswer string

func (a validationAnswer) Error() string { return string(a) }

// runValidation runs one validation script. It passes when its last
// statement returns a row whose first column is true; no row, or a false
// value, fails it. On failure it says which statement failed (-1: the
// script as a whole).
//
// It runs in a session that cannot change the database
// (database.ReadOnly): a validation script is shown with the plan, but
// none of its changes, findings or destructive flag count it. Every
// apply plans its input again before it runs, and planning refused a
// script whose statements are not all queries (sqlstatic.ReadOnly, in
// Planner.gate).
func runValidation(ctx context.Context, target *database.Target, q database.Querier, s script.Script) (int, error) {
	engine := sqlstatic.Dialect(target.Engine.Kinds()[0])
	stmts, err := sqlstatic.SplitFor(engine, s.SQL)
	if err != nil {
		return -1, err
	}
	if len(stmts) == 0 {
		return -1, errors.New("has no statement")
	}
	failed := -1
	err = database.ReadOnly(ctx, target.Engine, q, func(q database.Querier) error {
		// Each statement runs as a query, never as an Exec: PostgreSQL's
		// driver sends an Exec without arguments in the simple protocol,
		// where the server runs every statement of the text, and a text
		// the splitter reads as one statement the server may read as
		// several (a comment a lone carriage return ends for the server,
		// not for the splitter); a query goes in the extended protocol,
		// one statement or an error. MySQL's refuses several anyway
		// (multiStatements is never on).
		last := len(stmts) - 1
		for i, stmt := range stmts[:last] {
			rows, err := q.QueryContext(ctx, stmt.Text)
			if err == nil {
				err = errors.Join(rows.Err(), rows.Close())
			}
			if err != nil {
				failed = i
				return err
			}
		}
		failed = last
		var v any
		switch err := q.QueryRowContext(ctx, stmts[last].Text).Scan(&v); {
		case errors.Is(err, sql.ErrNoRows):
			return validationAnswer("returned no row")
		case err != nil:
			return err
		}
		if !truthy(v) {
			return describeFalse(v)
		}
		failed = -1
		return nil
	})
	return failed, err
}

// truthy reads a first column as the engines return booleans: PostgreSQL's
// bool, MySQL's and SQLite's integers, or their text forms.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case []byte:
		return truthyText(string(x))
	case string:
		return truthyText(x)
	}
	return false
}

func truthyText(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	if b, err := strconv.ParseBool(s); err == nil {
		return b
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return n != 0
	}
	return s == "yes" || s == "y"
}

// describeFalse says what a value truthy refused was, by its kind alone:
// the value is the database's data (see ValidationError).
func describeFalse(v any) validationAnswer {
	switch v.(type) {
	case nil:
		return "returned NULL"
	case bool:
		return "returned false"
	case int64, float64:
		return "returned 0"
	}
	return "returned a value that is not true (not shown: it is the database's data)"
}
