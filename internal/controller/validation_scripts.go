package controller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// validationCheck returns the check the apply runs after its last statement:
// each validation script, in order, on the apply's own connection (inside
// its transaction where the engine has one, so a failed check rolls the
// plan back). A script passes when its last statement returns a row whose
// first column is true; no row, or a false value, fails the migration with
// the script's name.
func validationCheck(engine dbv1.DatabaseType, scripts []script.Script) func(context.Context, database.Querier) error {
	if len(scripts) == 0 {
		return nil
	}
	return func(ctx context.Context, q database.Querier) error {
		for _, s := range scripts {
			if i, err := runValidation(ctx, engine, q, s); err != nil {
				return &validationError{Script: s.Name, Statement: i, Err: err}
			}
		}
		return nil
	}
}

// validationError is a validation script that failed, and where: the
// redactor names a secret-sourced one without its SQL or the database's
// message.
type validationError struct {
	Script string
	// Statement is the 0-based index of the statement that failed; -1
	// for the script as a whole.
	Statement int
	Err       error
}

func (e *validationError) Error() string {
	return fmt.Sprintf("validation script %q: %v", e.Script, e.Err)
}

func (e *validationError) Unwrap() error { return e.Err }

// runValidation runs one validation script; on failure it says which
// statement failed (-1: the script as a whole).
func runValidation(ctx context.Context, engine dbv1.DatabaseType, q database.Querier, s script.Script) (int, error) {
	stmts, err := sqlstatic.SplitFor(sqlstatic.Dialect(engine), s.SQL)
	if err != nil {
		return -1, err
	}
	if len(stmts) == 0 {
		return -1, errors.New("has no statement")
	}
	last := len(stmts) - 1
	for i, stmt := range stmts[:last] {
		if _, err := q.ExecContext(ctx, stmt.Text); err != nil {
			return i, err
		}
	}
	var v any
	switch err := q.QueryRowContext(ctx, stmts[last].Text).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		return last, errors.New("returned no row")
	case err != nil:
		return last, err
	}
	if !truthy(v) {
		return last, fmt.Errorf("returned %v", describe(v))
	}
	return -1, nil
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

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return strconv.Quote(string(x))
	}
	return fmt.Sprint(v)
}
