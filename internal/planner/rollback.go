package planner

import (
	"context"
	"fmt"
)

// rollback takes the target back to the schema the apply was planned
// against: it inspects what the failed apply left, plans the statements
// from there to the starting schema (with the plan's renames undone as
// renames, so no column's data is lost to a drop and an add), and runs
// them on the connection holding the lock. It returns how many ran.
func (r *applyRun) rollback(ctx context.Context) (int, error) {
	live := r.live
	engine := r.target.Engine
	cur, err := live.drv.InspectSchema(ctx, r.target.Schema(), inspectOptions(live.exclude))
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
