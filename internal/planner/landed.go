package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// Without transactional DDL (MySQL, MariaDB) a statement commits on its
// own and the record that it ran follows it, so an apply cut short between
// the two (the connection dropped, the path stalled past the deadline, the
// manager died) leaves the schema one statement, or one rolling step,
// ahead of the revision table. A statement sent just before a stall does
// the same when the path heals: it reaches the server after the client
// gave up. Replaying the approved plan from the recorded point then fails
// on its first statement ("Duplicate column").
//
// The next apply of a plan run statement by statement tells the two apart
// on the dev database, when the revision row of the approved plan says
// how far it got: the statement after the recorded point fails on the
// live schema because its effect is there already (a column, table or key
// that exists; database.AlreadyThere), and the plan left after it replays
// cleanly. Then the statement landed: the apply records it and goes on.
// Anything else leaves the schema at no point of the approved plan, and
// the apply refuses, saying how far the record goes. A rolling step has no
// such row while it runs: the apply refuses rather than guess (see
// planRolling).
//
// Row changes never land unrecorded: they commit in one transaction with
// their checkpoint (see applyRun.statement).

// firstStatementFails reports whether err is the first statement of the
// script named first failing on the dev database.
func firstStatementFails(err error, first string) bool {
	var bad *InvalidSQLError
	return errors.As(err, &bad) && bad.Index == 0 && bad.Script == first
}

// planCutShort plans what is left of an apply cut short after cut.Done
// statements, counting the statement in flight as run when it landed.
func (p *Planner) planCutShort(ctx context.Context, r *applyRun, in Input, cut *database.Revision) (*Plan, *liveState, error) {
	planned, err := remainingInput(in, cut)
	if err != nil {
		return nil, nil, err
	}
	plan, live, planErr := p.plan(ctx, r.target, r.db, r.conn, planned)
	if planErr == nil || len(planned.Scripts) == 0 || !firstStatementFails(planErr, planned.Scripts[0].Name) || !database.AlreadyThere(planErr) {
		return plan, live, planErr
	}
	next := *cut
	next.Done++
	after, err := remainingInput(in, &next)
	if err == nil {
		plan, live, err = p.plan(ctx, r.target, r.db, r.conn, after)
	}
	if err != nil {
		return nil, nil, partWay(fmt.Sprintf("after %d of %d statements (revision %d)", cut.Done, cut.Total, cut.ID), planErr, err)
	}
	if err := r.revs.Checkpoint(ctx, cut.ID, database.RevisionRunning, next.Done, nil, ""); err != nil {
		return nil, nil, err
	}
	r.landed = fmt.Sprintf("statement %d of %d", next.Done, cut.Total)
	cut.Done = next.Done
	return plan, live, nil
}

// planRolling plans what is left of a rolling apply. Without
// transactional DDL a step can run without its checkpoint (the apply cut
// between the two), and the plan left then fails on the step's first
// statement. No record says the step started, so the apply does not guess
// that it ran: it refuses, naming the step.
func (p *Planner) planRolling(ctx context.Context, r *applyRun, in Input) (*Plan, *liveState, error) {
	plan, live, planErr := p.plan(ctx, r.target, r.db, r.conn, in)
	if planErr == nil || r.target.Engine.TransactionalDDL() || in.Desired != nil {
		return plan, live, planErr
	}
	pending, err := pendingScripts(ctx, r.target, r.conn, in.Scripts)
	if err != nil || len(pending) == 0 || !firstStatementFails(planErr, pending[0].Name) {
		return plan, live, planErr
	}
	return nil, nil, fmt.Errorf("rolling step %s cannot run: its first statement fails on the live schema (%w); the step may have run "+
		"without its checkpoint (an apply cut short between the two, on an engine without transactional DDL), or the schema moved, "+
		"and kube-shift does not guess which: check the schema, then restore it or approve a plan for it as it is", pending[0].Name, planErr)
}

// partWay is the refusal of a schema that is at no point of the approved
// plan after an apply cut short.
func partWay(where string, next, after error) error {
	return fmt.Errorf("the apply cut short %s left the schema part-way through the approved plan, at no point it can resume from: "+
		"what comes next fails on it (%w), and what would follow it does not replay either (%v); restore the schema or approve a plan for it as it is",
		where, next, after)
}
