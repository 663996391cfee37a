package controller

import (
	"context"
	"fmt"
	"slices"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// integrityCheck is spec.validation.dataIntegrityChecks around an apply:
// before runs on the apply's connection before the first statement and
// captures every table's row count and sampled checksum; after captures
// them again when the last statement ran and fails with ErrDataCorruption
// when one changed. Tables a data script writes are expected to change and
// left out. Inside a transaction (PostgreSQL, SQLite) the failure rolls
// the whole plan back; elsewhere the rollback policy decides.
type integrityCheck struct {
	engine database.Engine
	schema string
	opts   integrity.Options
	before *integrity.State
}

// newIntegrityCheck returns the check dbm asks for, or nil.
func newIntegrityCheck(dbm *dbv1.DatabaseMigration, target *database.Target, scripts []script.Script) *integrityCheck {
	v := dbm.Spec.Validation
	if v == nil {
		return nil
	}
	opts, ok := integrityOptions(v.DataIntegrityChecks)
	if !ok {
		return nil
	}
	opts.Exclude = append(opts.Exclude, writtenTables(scripts)...)
	return &integrityCheck{engine: target.Engine, schema: target.Schema(), opts: opts}
}

// capture is the Before hook.
func (c *integrityCheck) capture(ctx context.Context, q database.Querier) error {
	state, err := integrity.Capture(ctx, c.engine, q, c.schema, nil, c.opts)
	if err != nil {
		return fmt.Errorf("data integrity check, before the apply: %w", err)
	}
	c.before = state
	return nil
}

// recheck is the first part of the Verify hook.
func (c *integrityCheck) recheck(ctx context.Context, q database.Querier) error {
	if c.before == nil {
		return nil
	}
	if err := integrity.Recheck(ctx, c.engine, q, c.before, c.opts); err != nil {
		return fmt.Errorf("%w: %w", ErrDataCorruption, err)
	}
	return nil
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

// verifyHook chains the checks run after the last statement: integrity
// first, then the validation scripts.
func verifyHook(checks ...func(context.Context, database.Querier) error) func(context.Context, database.Querier) error {
	var set []func(context.Context, database.Querier) error
	for _, c := range checks {
		if c != nil {
			set = append(set, c)
		}
	}
	if len(set) == 0 {
		return nil
	}
	return func(ctx context.Context, q database.Querier) error {
		for _, c := range set {
			if err := c(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}
}
