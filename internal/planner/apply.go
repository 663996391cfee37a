package planner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"ariga.io/atlas/sql/migrate"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
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
	// Strategy is how the plan runs; empty means StrategyTransactional.
	Strategy Strategy
	// Integrity, when set, checks the data around the apply: every
	// table's row count and sampled checksum are captured before the first
	// statement and compared after the last (tables a data script writes
	// are left out), and each shadow-table copy is compared with its table
	// before the swap. A difference fails the apply with ErrDataCorruption.
	// The input's validation scripts run after it, on the apply's own
	// connection: inside a transaction (transactional DDL) a failure rolls
	// the whole plan back; without one the statements stay applied and the
	// revision records the failure.
	Integrity *integrity.Options

	// StepTimeouts bound a rolling step's run, by script name.
	StepTimeouts map[string]time.Duration
	// Parallel lets a rolling apply run consecutive data scripts that do
	// not depend on each other and write different tables at the same
	// time, each on its own connection and in its own transaction (not on
	// SQLite, whose lock is one connection's). Schema scripts never run
	// alongside anything.
	Parallel bool
	// Step, when set, is told where a rolling apply stands.
	Step func(StepProgress)

	// Rollback, when set, decides whether a failed apply is taken back to
	// the schema it started from (rollback.automatic and its conditions).
	// With transactional DDL the transaction already took it back and the
	// revision table records the rollback; without it, the statements to
	// undo what ran are planned from the live schema and run.
	Rollback func(err error) bool
	// RollingBack, when set, is called before a rollback starts.
	RollingBack func()
	// Graceful lets the statement (or rolling step) running at the
	// deadline finish, and stops before the next; otherwise the deadline
	// cuts it short.
	Graceful bool
	// MaxLockTime bounds every stretch of the apply that blocks the
	// application's writes: the transaction, a statement run without one,
	// a batch of row changes run in one (see rowBatchSize), a rolling
	// step, a shadow table's swap. Zero means no bound.
	MaxLockTime time.Duration
	// ShadowTable are the settings of StrategyShadowTable; nil means
	// their defaults.
	ShadowTable *ShadowTableOptions
	// BlueGreen are the settings of StrategyBlueGreen, which needs them.
	BlueGreen *BlueGreenOptions
}

// StepProgress is where a rolling apply stands.
type StepProgress struct {
	// Current is the 1-based step running (or last run); Total the
	// plan's steps.
	Current, Total int
	// Script names the step.
	Script string
	// Done is how many steps are committed, Resumed how many of those a
	// previous apply committed.
	Done, Resumed int
	// Failed names the step that failed, if one did.
	Failed string
}

// ApplyResult is what an apply did.
type ApplyResult struct {
	// Revision is the row id in kube_shift_revisions.
	Revision int64
	// AlreadyApplied is true when a revision for ExpectHash was recorded
	// before: nothing ran this time.
	AlreadyApplied bool
	// Plan is the plan recomputed under the lock (nil when already
	// applied); its Rollback takes the change back. After a resumed
	// rolling apply it is what was left to run.
	Plan *Plan
	// Resumed is the number of rolling steps a previous apply committed.
	Resumed int
	// Landed names the statement or rolling step an apply cut short ran
	// without recording it, found applied and recorded by this one (see
	// planCutShort); empty when there was none.
	Landed string
	// LongestLock is the longest stretch the apply held locks that block
	// the application's writes (see ApplyOptions.MaxLockTime).
	LongestLock time.Duration
	// Copied is how many rows a blue-green copy moved (none when a
	// complete copy was reused).
	Copied int64
}

const defaultLockWait = 30 * time.Second

// rollbackTimeout bounds recording a failure and rolling it back, which
// run after the apply's own deadline may have passed.
const rollbackTimeout = 5 * time.Minute

// recordTimeout bounds writing a failure into the revision table.
const recordTimeout = 15 * time.Second

// Apply runs the approved plan under its strategy's contract: the
// deadline, the target's migration lock, the revision an earlier apply of
// the plan recorded (then nothing runs again), the plan recomputed under
// the lock and run only if its hash is opts.ExpectHash (a rolling apply
// cut short resumes when the plan left to run is the one its last
// checkpoint recorded), and the checks around the statements.
func (p *Planner) Apply(ctx context.Context, target *database.Target, in Input, opts ApplyOptions) (*ApplyResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if opts.ExpectHash == "" {
		return nil, errors.New("refusing to apply without the approved plan's hash")
	}
	how, err := strategyFor(opts, target.Engine)
	if err != nil {
		return nil, err
	}
	if !opts.Deadline.IsZero() && !opts.Graceful {
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

	run := &applyRun{
		p: p, target: target, db: db, conn: conn, revs: database.RevisionsOn(target.Engine, conn), opts: opts,
		declarative: in.Desired != nil, scripts: in.Scripts, in: in, checks: newChecks(target, in, opts.Integrity),
	}
	done, err := how.applied(ctx, run)
	if err != nil {
		return nil, err
	}
	if done != nil {
		return &ApplyResult{Revision: done.ID, AlreadyApplied: true}, nil
	}
	running, err := run.revs.RunningOf(ctx, opts.Identity)
	if err != nil {
		return nil, err
	}
	var cut *database.Revision
	if s, ok := how.(onTarget); ok && s.resumesStatements && in.Desired == nil {
		cut = cutShort(running, opts.ExpectHash)
	}
	if err := run.closeAbandoned(ctx, running, cut); err != nil {
		return nil, err
	}
	_, isRolling := how.(rolling)
	switch {
	case cut != nil:
		run.plan, run.live, err = p.planCutShort(ctx, run, in, cut)
	case isRolling:
		run.plan, run.live, err = p.planRolling(ctx, run, in)
	default:
		run.plan, run.live, err = p.plan(ctx, target, db, conn, in)
	}
	if err != nil {
		return nil, err
	}
	// A resumed plan is the approved plan's tail: its own hash differs,
	// and the row the approved apply opened vouches for it.
	if cut == nil && run.plan.Hash != opts.ExpectHash {
		if err := how.changed(ctx, run); err != nil {
			return nil, err
		}
	}
	run.rev = &database.Revision{
		PlanHash:  opts.ExpectHash,
		Object:    opts.Identity,
		Scripts:   run.plan.Scripts,
		Pins:      pins(in),
		Approver:  opts.Approver,
		StartedAt: time.Now(),
		Status:    database.RevisionRunning,
		Total:     len(run.plan.Statements),
	}
	if cut != nil {
		run.rev, run.base = cut, cut.Done
		run.rev.Total = cut.Done + len(run.plan.Statements)
	}
	if err := how.run(ctx, run); err != nil {
		return nil, how.failed(ctx, run, err)
	}
	return &ApplyResult{Revision: run.rev.ID, Plan: run.plan, Resumed: run.resumed, Landed: run.landed, LongestLock: run.longest, Copied: run.copied}, nil
}

// applyRun is one apply under the lock: the plan, the live schema it was
// planned against, and the connection holding the lock.
type applyRun struct {
	p      *Planner
	target *database.Target
	db     *sql.DB
	conn   *sql.Conn
	revs   *database.Revisions
	live   *liveState
	plan   *Plan
	opts   ApplyOptions
	rev    *database.Revision
	// declarative is true for a desired-schema plan.
	declarative bool
	// in is what was planned: a checkpoint's key hashes the rest of the
	// plan as the plan's own hash does.
	in Input
	// resumed is the number of rolling steps a previous apply committed;
	// base the statements they ran.
	resumed, base int
	// checkpoints are the rows this run's rolling steps wrote.
	checkpoints []int64
	// ran is how many statements of plan ran (and stay, without
	// transactional DDL) when the apply failed.
	ran int
	// longest is the longest stretch holding locks so far.
	longest time.Duration
	// swaps are the tables a shadow-table apply swapped, in order.
	swaps []shadow.Change
	// scripts are the input's scripts, for a rolling apply's waves.
	scripts []script.Script
	// checks run around the statements.
	checks *checks
	// copied is how many rows a blue-green copy moved.
	copied int64
	// landed is the statement or step found applied without its record.
	landed string
	// mu orders the commits of a rolling apply's parallel steps; done
	// are the steps (by index) committed so far.
	mu   sync.Mutex
	done map[int]bool
}

// inTx runs the plan and records its revision in one transaction: either
// all of it is applied and recorded, or nothing is.
func (r *applyRun) inTx(ctx context.Context) error {
	e, plan, opts := r.target.Engine, r.plan, r.opts
	ctx, end := r.window(ctx)
	defer end()
	tx, err := e.Begin(ctx, r.conn)
	if err != nil {
		return fmt.Errorf("beginning the apply transaction: %w", err)
	}
	if err := r.checks.before(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	for i, stmt := range plan.Statements {
		if err := r.expired(); err != nil {
			_ = tx.Rollback()
			return &StatementError{Index: i, Total: len(plan.Statements), Step: stepOf(plan, i), RolledBack: true, Err: err}
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			_ = tx.Rollback()
			return &StatementError{Index: i, Total: len(plan.Statements), Step: stepOf(plan, i), RolledBack: true, Err: deadline(ctx, err)}
		}
		report(opts.Progress, i+1, len(plan.Statements), stmt)
	}
	if err := r.checks.after(ctx, tx); err != nil {
		_ = tx.Rollback()
		return &VerifyError{RolledBack: true, Err: deadline(ctx, err)}
	}
	revs := database.RevisionsOn(e, tx)
	now := time.Now()
	r.rev.Status, r.rev.Done, r.rev.FinishedAt = database.RevisionSucceeded, len(plan.Statements), &now
	if err := revs.Ensure(ctx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if _, err := revs.Insert(ctx, r.rev); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing the apply: %w", deadline(ctx, err))
	}
	return nil
}

// withCheckpoints runs the plan statement by statement, recording after
// each one how far it got: without transactional DDL, a failure leaves the
// statements before it applied, and the revision says which.
func (r *applyRun) withCheckpoints(ctx context.Context) error {
	plan, opts, revs, base := r.plan, r.opts, r.revs, r.base
	if err := revs.Ensure(ctx); err != nil {
		return err
	}
	id := r.rev.ID
	if id == 0 {
		var err error
		if id, err = revs.Insert(ctx, r.rev); err != nil {
			return err
		}
	}
	if err := r.checks.before(ctx, r.conn); err != nil {
		return err
	}
	total := base + len(plan.Statements)
	for i := 0; i < len(plan.Statements); {
		stmt := plan.Statements[i]
		err := r.expired()
		n, failed := 1, i
		var recordErr error
		switch {
		case err != nil:
		case rowStatement.MatchString(stmt) && i+1 < len(plan.Statements) && rowStatement.MatchString(plan.Statements[i+1]):
			// The check failing (its connection lost, say) fails the
			// statement, which did not run.
			var batch bool
			if batch, err = r.batchable(ctx); err != nil || batch {
				if batch {
					n, failed, err = r.rowBatch(ctx, i, id)
				}
				break
			}
			fallthrough
		default:
			err, recordErr = r.statement(ctx, stmt, id, base+i+1)
		}
		if err != nil {
			r.ran = i
			return &StatementError{Index: base + failed, Total: total, Applied: base + i, Step: stepOf(plan, failed), Revision: id, Err: err}
		}
		i += n
		r.ran = i
		if recordErr != nil {
			return recordErr
		}
		report(opts.Progress, base+i, total, plan.Statements[i-1])
	}
	if err := r.checks.after(ctx, r.conn); err != nil {
		return &VerifyError{Revision: id, Err: deadline(ctx, err)}
	}
	now := time.Now()
	return revs.Checkpoint(ctx, id, database.RevisionSucceeded, total, &now, "")
}

// statement runs one statement of a plan applied statement by statement
// and records that done statements have run. A statement that reads or
// writes rows commits in one transaction with its record, since row
// changes are transactional even where DDL is not; other statements commit
// on their own, and the record follows (see planCutShort for a record
// lost in between). err is the statement's failure, recordErr the
// record's.
func (r *applyRun) statement(ctx context.Context, stmt string, id int64, done int) (err, recordErr error) {
	if !dataStatement.MatchString(stmt) {
		sctx, end := r.window(ctx)
		_, err := r.conn.ExecContext(sctx, stmt)
		err = deadline(sctx, err)
		end()
		if err != nil {
			return err, nil
		}
		return nil, r.revs.Checkpoint(ctx, id, database.RevisionRunning, done, nil, "")
	}
	sctx, end := r.window(ctx)
	defer end()
	tx, err := r.conn.BeginTx(sctx, nil)
	if err != nil {
		return deadline(sctx, err), nil
	}
	if _, err := tx.ExecContext(sctx, stmt); err != nil {
		_ = tx.Rollback()
		return deadline(sctx, err), nil
	}
	if err := database.RevisionsOn(r.target.Engine, tx).Checkpoint(sctx, id, database.RevisionRunning, done, nil, ""); err != nil {
		_ = tx.Rollback()
		return deadline(sctx, err), nil
	}
	return deadline(sctx, tx.Commit()), nil
}

// Row batches. Statement by statement, a row change costs four round
// trips (begin, the statement, its checkpoint, commit) where the
// database's own client spends one. Consecutive statements that only
// write rows therefore run in one transaction with the checkpoint after
// the last of them, up to rowBatchSize statements or rowBatchTime: a
// failure takes the whole batch back, and the revision records the
// statements before it, as it would a failure of the batch's first.
//
// That holds only if a rollback takes the whole batch back. A batch holds
// plain INSERT, UPDATE, DELETE and REPLACE statements only, never one with
// an implicit commit (TRUNCATE, CALL, LOAD, DDL run on their own), and
// starts only while the schema has nothing a rollback may not take back or
// whose writes are not known (database.Catalog.Untransactional: MyISAM
// and other non-InnoDB tables, sequences, views, triggers, functions),
// read again before every batch, and while the gate refuses names of
// other schemas.
const (
	rowBatchSize = 1000
	rowBatchTime = 25 * time.Millisecond
)

// rowStatement matches the statements a batch holds.
var rowStatement = regexp.MustCompile(`(?is)^\s*(INSERT|UPDATE|DELETE|REPLACE)\b`)

// batchable reports whether a batch of row statements may start now.
func (r *applyRun) batchable(ctx context.Context) (bool, error) {
	if r.p.AllowSQL[sqlstatic.ReachOtherSchema] {
		return false, nil
	}
	untransactional, err := r.target.Engine.Untransactional(ctx, r.conn, r.target.Schema())
	if err != nil {
		return false, fmt.Errorf("reading the storage engines of %s: %w", r.target, err)
	}
	return len(untransactional) == 0, nil
}

// rowBatch runs the row statements of the plan from index from on, in one
// transaction with the checkpoint after the last (see rowBatchSize). It
// returns how many ran and committed or, when one failed (and the batch
// was rolled back), its index and error.
func (r *applyRun) rowBatch(ctx context.Context, from int, id int64) (n, failed int, err error) {
	stmts := r.plan.Statements
	sctx, end := r.window(ctx)
	defer end()
	tx, err := r.conn.BeginTx(sctx, nil)
	if err != nil {
		return 0, from, deadline(sctx, err)
	}
	// A row change's locks last until its batch commits: rowBatchTime
	// and the statement that ends the batch, within MaxLockTime.
	limit := rowBatchTime
	if r.opts.MaxLockTime > 0 {
		limit = min(limit, r.opts.MaxLockTime/4)
	}
	start, i := time.Now(), from
	for i < len(stmts) && i-from < rowBatchSize && rowStatement.MatchString(stmts[i]) {
		if i > from && (time.Since(start) >= limit || r.expired() != nil) {
			break
		}
		if _, err := tx.ExecContext(sctx, stmts[i]); err != nil {
			_ = tx.Rollback()
			return 0, i, deadline(sctx, err)
		}
		i++
	}
	if err := database.RevisionsOn(r.target.Engine, tx).Checkpoint(sctx, id, database.RevisionRunning, r.base+i, nil, ""); err != nil {
		_ = tx.Rollback()
		return 0, i - 1, deadline(sctx, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, i - 1, deadline(sctx, err)
	}
	return i - from, 0, nil
}

// cutShort finds, among the object's running revisions, an apply of the
// approved plan that was cut short between two statements (some
// statements done): the manager died, or the connection did, mid-plan.
// With none recorded, the apply plans the whole input again and checks
// its hash, as a first apply does.
func cutShort(running []*database.Revision, approved string) *database.Revision {
	for i := len(running) - 1; i >= 0; i-- {
		if row := running[i]; row.PlanHash == approved && row.Done > 0 && row.Done < row.Total {
			return row
		}
	}
	return nil
}

// abandoned is what the revision table says of an apply that stopped
// without recording its end, once a later apply of the same object holds
// the lock.
const abandoned = "cut short: the apply stopped without recording its end (the connection to the database, or the manager, was lost); a later apply took over"

// closeAbandoned marks failed the object's running revisions, which no
// apply runs (this one holds the lock), but the one it resumes: applies
// cut short before they could record their failure. Their statements done
// stay as recorded.
func (r *applyRun) closeAbandoned(ctx context.Context, running []*database.Revision, resumed *database.Revision) error {
	now := time.Now()
	for _, row := range running {
		if resumed != nil && row.ID == resumed.ID {
			continue
		}
		if err := r.revs.Checkpoint(ctx, row.ID, database.RevisionFailed, row.Done, &now, abandoned); err != nil {
			return err
		}
	}
	return nil
}

// remainingInput is what is left of the approved plan's scripts after the
// statements a cut-short apply ran: the scripts it recorded, in order, the
// first cut.Done statements left out. The scripts must be the ones it
// recorded (the approved hash covers them); a changed one refuses.
func remainingInput(in Input, cut *database.Revision) (Input, error) {
	byRecord := map[database.ScriptRecord]script.Script{}
	for _, s := range in.Scripts {
		byRecord[database.ScriptRecord{Name: s.Name, Checksum: checksum(s)}] = s
	}
	// A row written before pins existed has none, and vouches for the
	// scripts alone.
	if len(cut.Pins) > 0 && !slices.Equal(cut.Pins, pins(in)) {
		return Input{}, fmt.Errorf("the apply cut short after %d of %d statements (revision %d) was approved with other validation scripts or run settings than the migration has now: the schema is part-way through the approved plan; restore the approved ones, or the schema, or approve a plan for it as it is",
			cut.Done, cut.Total, cut.ID)
	}
	skip := cut.Done
	out := in
	out.Scripts = nil
	for _, rec := range cut.Scripts {
		s, ok := byRecord[rec]
		if !ok {
			return Input{}, fmt.Errorf("the apply cut short after %d of %d statements (revision %d) ran script %s, which has changed since: the schema is part-way through the approved plan; restore it or approve a plan for it as it is",
				cut.Done, cut.Total, cut.ID, rec.Name)
		}
		stmts, err := migrate.Stmts(s.SQL)
		if err != nil {
			return Input{}, &InvalidSQLError{Script: s.Name, Index: -1, Err: err}
		}
		if skip >= len(stmts) {
			skip -= len(stmts)
			continue
		}
		if skip > 0 {
			rest := make([]string, 0, len(stmts)-skip)
			for _, st := range stmts[skip:] {
				rest = append(rest, strings.TrimSuffix(strings.TrimSpace(st.Text), ";")+";")
			}
			s.SQL = strings.Join(rest, "\n")
			s.Checksum = script.Checksum([]byte(s.SQL))
			skip = 0
		}
		out.Scripts = append(out.Scripts, s)
	}
	return out, nil
}

// An apply cut short resumes from its revision row, which the approval of
// its plan vouches for, without the plan's hash: the schema moved. The
// row's scripts pin what the rest of the plan runs; its pins do the same
// for what runs after it and how: each validation script and the run
// settings.
func pins(in Input) []database.ScriptRecord {
	out := make([]database.ScriptRecord, 0, len(in.Validations)+1)
	for _, v := range in.Validations {
		out = append(out, database.ScriptRecord{Name: database.PinPrefix + "validation/" + v.Name, Checksum: script.Checksum([]byte(v.SQL))})
	}
	return append(out, database.ScriptRecord{Name: database.PinPrefix + "settings", Checksum: script.Checksum([]byte(in.Settings))})
}

// failed records a failed apply and, when opts.Rollback asks for it,
// takes the target back to the schema the apply started from.
func (r *applyRun) failed(ctx context.Context, cause error) error {
	// The caller's context may be done (the deadline passed): record and
	// roll back anyway, within bounds of their own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	defer r.numberFailure(cause)
	switch {
	case r.opts.Rollback == nil || !r.opts.Rollback(cause):
		return errors.Join(cause, r.record(rctx, database.RevisionFailed, r.ran, cause))
	case !r.partial(cause):
		// Nothing stays applied: a transaction took it back. Say so in
		// the revision table.
		recordErr := r.record(rctx, database.RevisionRolledBack, 0, cause)
		return &RolledBackError{Err: cause, recordErr: recordErr, Revision: r.rev.ID}
	}
	if r.opts.RollingBack != nil {
		r.opts.RollingBack()
	}
	n, err := r.takeBack(rctx)
	if err != nil {
		err = fmt.Errorf("automatic rollback failed, the schema is as the failed apply left it: %w", err)
		return errors.Join(cause, err, r.record(rctx, database.RevisionFailed, r.ran, errors.Join(cause, err)))
	}
	if r.base > 0 {
		return r.rolledBackToResume(rctx, cause, n)
	}
	markRolledBack(cause)
	recordErr := r.record(rctx, database.RevisionRolledBack, 0, cause)
	return &RolledBackError{Err: cause, Statements: n, Revision: r.rev.ID, recordErr: recordErr}
}

// takeBack undoes what a failed apply left: the swapped tables from their
// backups, then the rest by statements planned from the live schema; the
// rolling checkpoints it passed no longer count as applied. It returns how
// many statements ran.
func (r *applyRun) takeBack(ctx context.Context) (int, error) {
	if err := r.swapBack(ctx); err != nil {
		return 0, err
	}
	n, err := r.rollback(ctx)
	if err != nil {
		return n, err
	}
	for _, id := range r.checkpoints {
		if err := r.revs.Checkpoint(ctx, id, database.RevisionRolledBack, 0, nil, "rolled back after a later step failed"); err != nil {
			return n, err
		}
	}
	return n, nil
}

// numberFailure gives a statement error the revision that records it,
// once it is written.
func (r *applyRun) numberFailure(err error) {
	var se *StatementError
	if errors.As(err, &se) && se.Revision == 0 {
		se.Revision = r.rev.ID
	}
	var ve *VerifyError
	if errors.As(err, &ve) && ve.Revision == 0 {
		ve.Revision = r.rev.ID
	}
}

// partial reports whether the failure may have left statements applied.
func (r *applyRun) partial(cause error) bool {
	var se *StatementError
	var ve *VerifyError
	switch {
	case errors.As(cause, &se):
		return !se.RolledBack
	case errors.As(cause, &ve):
		return !ve.RolledBack
	}
	return r.ran > 0 || len(r.checkpoints) > 0
}

// record writes the outcome of a failed apply: the revision row this run
// opened is updated, or one is added.
func (r *applyRun) record(ctx context.Context, status string, done int, cause error) error {
	// A path to the server that stalls must not hold the apply, and the
	// lock, for the rollback's bound.
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	now := time.Now()
	if r.rev.ID != 0 {
		return r.revs.Checkpoint(ctx, r.rev.ID, status, done, &now, cause.Error())
	}
	if err := r.revs.Ensure(ctx); err != nil {
		return err
	}
	r.rev.Status, r.rev.Done, r.rev.FinishedAt, r.rev.Error = status, done, &now, cause.Error()
	_, err := r.revs.Insert(ctx, r.rev)
	return err
}

// markRolledBack makes the failure say that nothing stays applied.
func markRolledBack(err error) {
	var se *StatementError
	if errors.As(err, &se) {
		se.RolledBack = true
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		ve.RolledBack = true
	}
}

func report(progress func(int, int, string), done, total int, stmt string) {
	if progress != nil {
		progress(done, total, abbreviate(normalize(stmt)))
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
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if errors.Is(err, cause) {
		return err
	}
	if !errors.Is(cause, ctx.Err()) {
		// A cause of our own (the lock-time budget) says why.
		return fmt.Errorf("%w: %w: %w", cause, ctx.Err(), err)
	}
	return fmt.Errorf("%w: %w", cause, err)
}
