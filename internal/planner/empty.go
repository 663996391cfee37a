package planner

import (
	"context"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// PlanEmpty computes the plan of in as if target held no table yet,
// without reaching target: everything happens on the dev database. It is
// what can be known of a migration before the database it will run on is
// at hand, in a pull request's CI: every statement replayed, the schema
// change each makes, and Atlas's findings on them, as `atlas migrate lint`
// knows them for a directory it lints from the first file. Findings that
// depend on the live schema (a column that already exists, rows a change
// meets) need Plan. The hash binds target and the empty schema: no
// reviewer approves it.
func (p *Planner) PlanEmpty(ctx context.Context, target *database.Target, in Input) (*Plan, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if err := p.gate(target, in); err != nil {
		return nil, err
	}
	// openDev refuses a dev database on target's server, as for a plan
	// against it: the dev database is emptied before and after.
	dev, err := p.openDev(ctx, target, nil)
	if err != nil {
		return nil, err
	}
	defer dev.close()
	empty, err := dev.inspect(ctx)
	if err != nil {
		return nil, err
	}
	// The live schema is the dev database's own, empty, read through its
	// driver: nothing of target is read.
	live := &liveState{target: target, q: dev.db, drv: dev.drv, schema: empty, exclude: in.exclude()}
	if live.fingerprint, err = fingerprint(ctx, live); err != nil {
		return nil, fmt.Errorf("fingerprinting the empty schema: %w", err)
	}
	plan, err := replay(ctx, live, dev, in.Desired, in.Scripts)
	if err != nil {
		return nil, err
	}
	plan.Hash = planHash(target, live, plan, in)
	return plan, nil
}
