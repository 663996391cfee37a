package planner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"ariga.io/atlas/sql/migrate"

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
// The next apply tells the two apart on the dev database: the plan left
// after the recorded point fails at its first statement on the live
// schema, and the plan left after that statement (or step) replays
// cleanly. Then the statement landed: the apply records it and goes on.
// Anything else leaves the schema at no point of the approved plan, and
// the apply refuses, saying how far the record goes.
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
	if planErr == nil || len(planned.Scripts) == 0 || !firstStatementFails(planErr, planned.Scripts[0].Name) {
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

// planRolling plans what is left of a rolling apply: when the step a
// cut-short apply was running landed without its checkpoint, the
// checkpoint is written now and the apply resumes after it.
func (p *Planner) planRolling(ctx context.Context, r *applyRun, in Input) (*Plan, *liveState, error) {
	plan, live, planErr := p.plan(ctx, r.target, r.db, r.conn, in)
	if planErr == nil || r.target.Engine.TransactionalDDL() || in.Desired != nil {
		return plan, live, planErr
	}
	pending, err := pendingScripts(ctx, r.target, r.conn, in.Scripts)
	if err != nil || len(pending) == 0 || !firstStatementFails(planErr, pending[0].Name) {
		return plan, live, planErr
	}
	step := pending[0]
	stmts, err := migrate.Stmts(step.SQL)
	if err != nil {
		return nil, nil, planErr
	}
	rec := database.ScriptRecord{Name: step.Name, Checksum: checksum(step)}
	assumed := in
	assumed.landed = []database.ScriptRecord{rec}
	if plan, live, err = p.plan(ctx, r.target, r.db, r.conn, assumed); err != nil {
		return nil, nil, partWay("at step "+step.Name, planErr, err)
	}
	done, started, err := r.checkpointed(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	done += len(stmts)
	_, err = r.revs.Insert(ctx, &database.Revision{
		PlanHash:   checkpointKey(r.opts.ExpectHash, plan.Hash),
		Object:     r.opts.Identity,
		Scripts:    []database.ScriptRecord{rec},
		Approver:   r.opts.Approver,
		StartedAt:  started,
		FinishedAt: &now,
		Status:     database.RevisionCheckpoint,
		Done:       done,
		Total:      done + len(plan.Statements),
		Error:      "found applied without its checkpoint; recorded by the next apply",
	})
	if err != nil {
		return nil, nil, err
	}
	r.landed = "step " + step.Name
	return plan, live, nil
}

// checkpointed is how many statements the object's current rolling apply
// committed (its checkpoints since its last finished apply), and when it
// started; none and now when it has no checkpoint.
func (r *applyRun) checkpointed(ctx context.Context) (int, time.Time, error) {
	all, err := r.revs.All(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	done, started := 0, time.Now()
	for _, rev := range all {
		switch {
		case rev.Object != r.opts.Identity:
		case rev.Status == database.RevisionCheckpoint:
			done, started = rev.Done, rev.StartedAt
		default:
			done, started = 0, time.Now()
		}
	}
	return done, started, nil
}

// partWay is the refusal of a schema that is at no point of the approved
// plan after an apply cut short.
func partWay(where string, next, after error) error {
	return fmt.Errorf("the apply cut short %s left the schema part-way through the approved plan, at no point it can resume from: "+
		"what comes next fails on it (%w), and what would follow it does not replay either (%v); restore the schema or approve a plan for it as it is",
		where, next, after)
}
