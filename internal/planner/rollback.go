package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// rollback takes the target back to the schema the apply was planned
// against: it inspects what the failed apply left, plans the statements
// from there to the starting schema (with the plan's renames undone as
// renames, so no column's data is lost to a drop and an add), and runs
// them on the connection holding the lock. It returns how many ran.
func (r *applyRun) rollback(ctx context.Context) (int, error) {
	live := r.live
	engine := r.target.Engine
	cur, err := inspectTarget(ctx, r.target, live.q, live.drv, live.exclude)
	if err != nil {
		return 0, fmt.Errorf("inspecting the schema the failed apply left: %w", err)
	}
	views, err := engine.Views(ctx, r.conn, r.target.Schema())
	if err != nil {
		return 0, fmt.Errorf("inspecting the views the failed apply left: %w", err)
	}
	views = excludeViews(views, live.exclude)
	back, err := live.drv.SchemaDiff(cur, live.schema)
	if err != nil {
		return 0, err
	}
	// A rename the failed apply did not reach finds no drop and add to
	// pair: undoing all of the plan's is safe.
	back = applyRenames(back, reversed(r.plan.renames))
	stmts, err := planStatements(ctx, live.drv, back, engine, views, live.views)
	if err != nil {
		return 0, fmt.Errorf("planning the rollback: %w", err)
	}
	for i, stmt := range stmts {
		if _, err := r.conn.ExecContext(ctx, stmt); err != nil {
			return i, fmt.Errorf("rollback statement %d of %d (%s): %w", i+1, len(stmts), abbreviate(normalize(stmt)), err)
		}
	}
	return len(stmts), nil
}

// rolledBackToResume ends the rollback of an apply that resumed after the
// r.base statements an interrupted apply committed (the manager died
// mid-plan, or in the middle of that apply's own rollback). The rollback
// took the schema back to where this apply resumed, not further: the
// schema the interrupted apply started from was known to it alone. So the
// apply failed with those statements applied, and the revision and the
// error say so rather than that the schema is back where it was.
func (r *applyRun) rolledBackToResume(ctx context.Context, cause error, n int) error {
	var se *StatementError
	if errors.As(cause, &se) {
		se.Applied = r.base
	}
	err := fmt.Errorf("%w (automatic rollback ran %d statement(s), taking back what this apply ran since it resumed; "+
		"it does not reach back past the %d statement(s) an interrupted apply committed before it: they stay applied)", cause, n, r.base)
	return errors.Join(err, r.record(ctx, database.RevisionFailed, r.base, err))
}
