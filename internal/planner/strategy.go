package planner

import (
	"context"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// Strategy is how an approved plan runs on its target. The values are
// the API's spec.migration.strategy values.
type Strategy string

const (
	// StrategyTransactional runs the plan in one transaction where the
	// engine has transactional DDL, else statement by statement with a
	// checkpoint after each. It is the default.
	StrategyTransactional Strategy = "transactional"
	// StrategyRolling runs the plan a step at a time (a script in
	// versioned mode, a statement in declarative mode), each committed
	// with a checkpoint: an apply cut short resumes after the last one.
	StrategyRolling Strategy = "rolling"
	// StrategyShadowTable makes each table change through a shadow table
	// (copy, sync, verify, swap). An engine without a server, SQLite,
	// applies in its one locked transaction instead.
	StrategyShadowTable Strategy = "shadow-table"
	// StrategyBlueGreen copies the target (blue) to a database green on
	// the same server and applies the plan there; blue is never written.
	StrategyBlueGreen Strategy = "blue-green"
)

// Strategies lists every strategy.
var Strategies = []Strategy{StrategyTransactional, StrategyRolling, StrategyShadowTable, StrategyBlueGreen}

// strategy is one way of running an approved plan. Every strategy runs
// under the same contract, which Apply keeps: the apply's deadline (cut
// off, or graceful), the target's migration lock, the revision an earlier
// apply recorded, the plan recomputed under the lock and its hash checked,
// and the checks around the statements (data integrity before and after,
// then the validation scripts). A strategy says only where an earlier
// apply is recorded, what a changed hash means, how the statements run,
// and how a failure is recorded and taken back.
type strategy interface {
	// applied is the revision an earlier apply of the approved plan
	// recorded, or nil.
	applied(ctx context.Context, r *applyRun) (*database.Revision, error)
	// changed is asked when the plan recomputed under the lock is not
	// the approved one: nil lets the apply go on (a rolling apply that
	// resumes), an error refuses it.
	changed(ctx context.Context, r *applyRun) error
	// run runs the plan.
	run(ctx context.Context, r *applyRun) error
	// failed records a failed run and takes it back when the rollback
	// policy asks for it.
	failed(ctx context.Context, r *applyRun, err error) error
}

// strategyFor chooses the strategy of an apply: the one place that maps
// ApplyOptions.Strategy and the engine to how the plan runs.
func strategyFor(opts ApplyOptions, e database.Engine) (strategy, error) {
	inTx := onTarget{runPlan: (*applyRun).withCheckpoints, resumesStatements: true}
	if e.TransactionalDDL() {
		inTx = onTarget{runPlan: (*applyRun).inTx}
	}
	switch opts.Strategy {
	case "", StrategyTransactional:
		return inTx, nil
	case StrategyRolling:
		return rolling{onTarget{runPlan: (*applyRun).rolling}}, nil
	case StrategyShadowTable:
		if !e.Server() {
			return inTx, nil
		}
		return onTarget{runPlan: (*applyRun).shadowTable}, nil
	case StrategyBlueGreen:
		return blueGreen{}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", opts.Strategy)
}

// onTarget strategies change the target itself and record the apply in
// its revision table.
type onTarget struct {
	runPlan func(*applyRun, context.Context) error
	// resumesStatements is true for statements run one by one with a
	// checkpoint after each (no transactional DDL): an apply of a
	// versioned plan cut short between two of them goes on from the last
	// one (see cutShort).
	resumesStatements bool
}

func (s onTarget) applied(ctx context.Context, r *applyRun) (*database.Revision, error) {
	return r.revs.Succeeded(ctx, r.opts.ExpectHash)
}

func (s onTarget) changed(_ context.Context, r *applyRun) error {
	return &HashMismatchError{Expected: r.opts.ExpectHash, Actual: r.plan.Hash}
}

func (s onTarget) run(ctx context.Context, r *applyRun) error { return s.runPlan(r, ctx) }

func (s onTarget) failed(ctx context.Context, r *applyRun, err error) error {
	return r.failed(ctx, err)
}

// rolling is in place, and resumes: a plan left to run that the last
// checkpoint recorded is the approved plan, cut short.
type rolling struct{ onTarget }

func (rolling) changed(ctx context.Context, r *applyRun) error { return r.resume(ctx) }
