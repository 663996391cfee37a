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
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// validationCheck returns the check the apply runs after its last statement:
// each validation script, in order, on the apply's own connection (inside
// its transaction where the engine has one, so a failed check rolls the
// plan back). A script passes when its last statement returns a row whose
// first column is true; no row, or a false value, fails the migration with
// the script's name.
func validationCheck(engine dbv1.DatabaseType, scripts []source.Script) func(context.Context, database.Querier) error {
	if len(scripts) == 0 {
		return nil
	}
	return func(ctx context.Context, q database.Querier) error {
		for _, s := range scripts {
			if err := runValidation(ctx, engine, q, s); err != nil {
				return fmt.Errorf("validation script %q: %w", s.Name, err)
			}
		}
		return nil
	}
}

func runValidation(ctx context.Context, engine dbv1.DatabaseType, q database.Querier, s source.Script) error {
	stmts, err := sqlstatic.SplitFor(engine, s.SQL)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return errors.New("has no statement")
	}
	for _, stmt := range stmts[:len(stmts)-1] {
		if _, err := q.ExecContext(ctx, stmt.Text); err != nil {
			return err
		}
	}
	var v any
	switch err := q.QueryRowContext(ctx, stmts[len(stmts)-1].Text).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		return errors.New("returned no row")
	case err != nil:
		return err
	}
	if !truthy(v) {
		return fmt.Errorf("returned %v", describe(v))
	}
	return nil
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
