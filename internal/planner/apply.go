package planner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// ApplyOptions say which plan to apply and how.
type ApplyOptions struct {
	// ExpectHash is the approved plan's hash; any other plan is refused.
	ExpectHash string
	// Identity names what applies the plan (the object's uid and
	// namespace/name), recorded in the revision.
	Identity string
	// Approver is recorded in the revision.
	Approver string
	// Progress, when set, is called after each statement.
	Progress func(done, total int, current string)
	// Deadline bounds the apply; zero means none.
	Deadline time.Time
	// Verify, when set, checks the result on the apply's own connection
	// after the last statement and before the revision is recorded as
	// succeeded. Inside a transaction (transactional DDL) an error rolls
	// the whole plan back; without one the statements stay applied and the
	// revision records the failure.
	Verify func(ctx context.Context, q database.Querier) error
}

// ApplyResult is what an apply did.
type ApplyResult struct {
	// Revision is the row id in kube_shift_revisions.
	Revision int64
	// AlreadyApplied is true when a revision for ExpectHash was recorded
	// before: nothing ran this time.
	AlreadyApplied bool
	// Plan is the plan recomputed under the lock (nil when already
	// applied); its Rollback takes the change back.
	Plan *Plan
}

const defaultLockWait = 30 * time.Second

// Apply takes the target's migration lock, recomputes the plan, and runs it
// if its hash is opts.ExpectHash and no revision records that hash yet.
func (p *Planner) Apply(ctx context.Context, target *database.Target, in Input, opts ApplyOptions) (*ApplyResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if opts.ExpectHash == "" {
		return nil, errors.New("refusing to apply without the approved plan's hash")
	}
	if !opts.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, opts.Deadline)
		defer cancel()
	}
	db, err := target.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, connErr(target, err)
	}
	defer func() { _ = conn.Close() }()
	wait := p.LockWait
	if wait == 0 {
		wait = defaultLockWait
	}
	unlock, err := target.Engine.Lock(ctx, conn, target.Identity(), wait)
	if err != nil {
		return nil, err
	}
	defer func() { _ = unlock() }()

	revs := database.RevisionsOn(target.Engine, conn)
	done, err := revs.Succeeded(ctx, opts.ExpectHash)
	if err != nil {
		return nil, err
	}
	if done != nil {
		return &ApplyResult{Revision: done.ID, AlreadyApplied: true}, nil
	}
	plan, err := p.plan(ctx, target, db, conn, in)
	if err != nil {
		return nil, err
	}
	if plan.Hash != opts.ExpectHash {
		return nil, &HashMismatchError{Expected: opts.ExpectHash, Actual: plan.Hash}
	}
	rev := &database.Revision{
		PlanHash:  plan.Hash,
		Object:    opts.Identity,
		Scripts:   plan.Scripts,
		Approver:  opts.Approver,
		StartedAt: time.Now(),
		Status:    database.RevisionRunning,
		Total:     len(plan.Statements),
	}
	if target.Engine.TransactionalDDL() {
		err = runInTx(ctx, target.Engine, conn, plan, rev, opts)
	} else {
		err = runWithCheckpoints(ctx, revs, conn, plan, rev, opts)
	}
	if err != nil {
		return nil, err
	}
	return &ApplyResult{Revision: rev.ID, Plan: plan}, nil
}

// runInTx runs the plan and records its revision in one transaction: either
// all of it is applied and recorded, or nothing is.
func runInTx(ctx context.Context, e database.Engine, conn *sql.Conn, plan *Plan, rev *database.Revision, opts ApplyOptions) error {
	tx, err := e.Begin(ctx, conn)
	if err != nil {
		return fmt.Errorf("beginning the apply transaction: %w", err)
	}
	for i, stmt := range plan.Statements {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			_ = tx.Rollback()
			return &StatementError{Index: i, Total: len(plan.Statements), Step: stepOf(plan, i), RolledBack: true, Err: deadline(ctx, err)}
		}
		report(opts.Progress, i+1, plan, stmt)
	}
	if opts.Verify != nil {
		if err := opts.Verify(ctx, tx); err != nil {
			_ = tx.Rollback()
			return &VerifyError{RolledBack: true, Err: deadline(ctx, err)}
		}
	}
	revs := database.RevisionsOn(e, tx)
	now := time.Now()
	rev.Status, rev.Done, rev.FinishedAt = database.RevisionSucceeded, len(plan.Statements), &now
	if err := revs.Ensure(ctx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if _, err := revs.Insert(ctx, rev); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing the apply: %w", deadline(ctx, err))
	}
	return nil
}

// runWithCheckpoints runs the plan statement by statement, recording after
// each one how far it got: without transactional DDL, a failure leaves the
// statements before it applied, and the revision says which.
func runWithCheckpoints(ctx context.Context, revs *database.Revisions, conn *sql.Conn, plan *Plan, rev *database.Revision, opts ApplyOptions) error {
	if err := revs.Ensure(ctx); err != nil {
		return err
	}
	id, err := revs.Insert(ctx, rev)
	if err != nil {
		return err
	}
	for i, stmt := range plan.Statements {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			serr := &StatementError{Index: i, Total: len(plan.Statements), Step: stepOf(plan, i), Revision: id, Err: deadline(ctx, err)}
			// The caller's context may be done: record the failure anyway.
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			now := time.Now()
			return errors.Join(serr, revs.Checkpoint(rctx, id, database.RevisionFailed, i, &now, serr.Error()))
		}
		if err := revs.Checkpoint(ctx, id, database.RevisionRunning, i+1, nil, ""); err != nil {
			return err
		}
		report(opts.Progress, i+1, plan, stmt)
	}
	now := time.Now()
	if opts.Verify != nil {
		if err := opts.Verify(ctx, conn); err != nil {
			verr := &VerifyError{Revision: id, Err: deadline(ctx, err)}
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return errors.Join(verr, revs.Checkpoint(rctx, id, database.RevisionFailed, len(plan.Statements), &now, verr.Error()))
		}
	}
	return revs.Checkpoint(ctx, id, database.RevisionSucceeded, len(plan.Statements), &now, "")
}

func report(progress func(int, int, string), done int, plan *Plan, stmt string) {
	if progress != nil {
		progress(done, len(plan.Statements), abbreviate(normalize(stmt)))
	}
}

func stepOf(plan *Plan, i int) Step {
	if i < len(plan.Steps) {
		return plan.Steps[i]
	}
	return Step{Index: i}
}

// deadline makes a statement cut off by the apply's deadline say so.
func deadline(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}
