package planner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// ShadowTableOptions run a plan's table changes through shadow tables
// (spec.migration.strategy shadow-table).
type ShadowTableOptions struct {
	// BatchSize is the rows of the first copy transaction
	// (spec.migration.batchSize); with BatchTime unset, of every one.
	BatchSize int
	// BatchTime sizes the copy's batches by time
	// (spec.migration.shadowTable.batchTime).
	BatchTime time.Duration
	// MaxLag pauses the copy while the database lags behind more
	// (spec.migration.shadowTable.maxLag); 0: never.
	MaxLag time.Duration
	// CutOverLockTimeout and CutOverAttempts bound the swap's lock waits
	// (spec.migration.shadowTable); 0: the shadow package's defaults.
	CutOverLockTimeout time.Duration
	CutOverAttempts    int
	// PreserveBackup keeps each old table as its backup
	// (spec.rollback.preserveBackup); a rollback after a swap needs it.
	PreserveBackup bool
	// Progress is told where each table's copy stands.
	Progress func(shadow.Progress)
	// Swapped is told of each table swapped, with what the swap did.
	Swapped func(*shadow.Result)
}

// alterTable matches ALTER TABLE <name> <clauses>: a change of one table's
// definition, which a shadow can make.
var alterTable = regexp.MustCompile("(?is)^\\s*ALTER\\s+TABLE\\s+(?:ONLY\\s+)?((?:[`\"]?[\\w$]+[`\"]?\\s*\\.\\s*)?[`\"]?[\\w$]+[`\"]?)\\s+(.+?)\\s*;?\\s*$")

// inPlace matches clauses a shadow must not make: renames (the copy
// moves columns by name, so a renamed column's data would stay behind;
// a rename is a catalogue change anyway) and partitioning.
var inPlace = regexp.MustCompile(`(?i)\b(RENAME|PARTITION|ATTACH|DETACH)\b`)

// shadowGroup is a run of the plan's statements: consecutive changes of one
// table, made through a shadow, or one statement run as it is.
type shadowGroup struct {
	table      string
	clauses    []string
	first, end int
}

// shadowGroups splits a plan into what goes through a shadow and what runs
// as it is (new tables, indexes, views, data, renames).
func shadowGroups(plan *Plan) []shadowGroup {
	var groups []shadowGroup
	for i, stmt := range plan.Statements {
		m := alterTable.FindStringSubmatch(stmt)
		if m == nil || inPlace.MatchString(m[2]) {
			groups = append(groups, shadowGroup{first: i, end: i + 1})
			continue
		}
		table := sqlstatic.BareName(m[1])
		if n := len(groups); n > 0 && groups[n-1].table == table {
			groups[n-1].clauses = append(groups[n-1].clauses, m[2])
			groups[n-1].end = i + 1
			continue
		}
		groups = append(groups, shadowGroup{table: table, clauses: []string{m[2]}, first: i, end: i + 1})
	}
	return groups
}

// shadowTable runs the plan group by group: table changes through a
// shadow (copy, sync, verify, swap in one short lock), the rest as
// statements, with a checkpoint after each group. A swap that held its
// lock past MaxLockTime fails with ErrLockTimeExceeded.
func (r *applyRun) shadowTable(ctx context.Context) error {
	plan, revs := r.plan, r.revs
	if err := revs.Ensure(ctx); err != nil {
		return err
	}
	id, err := revs.Insert(ctx, r.rev)
	if err != nil {
		return err
	}
	if err := r.checks.before(ctx, r.conn); err != nil {
		return err
	}
	for _, g := range shadowGroups(plan) {
		if err := r.expired(); err != nil {
			return &StatementError{Index: g.first, Total: len(plan.Statements), Applied: g.first, Step: stepOf(plan, g.first), Revision: id, Err: err}
		}
		if g.table == "" {
			err = r.direct(ctx, g.first)
		} else {
			err = r.throughShadow(ctx, g)
		}
		if err != nil {
			return &StatementError{Index: g.first, Total: len(plan.Statements), Applied: g.first, Step: stepOf(plan, g.first), Revision: id, Err: err}
		}
		r.ran = g.end
		if err := revs.Checkpoint(ctx, id, database.RevisionRunning, g.end, nil, ""); err != nil {
			return err
		}
		report(r.opts.Progress, g.end, len(plan.Statements), plan.Statements[g.end-1])
	}
	if err := r.checks.after(ctx, r.conn); err != nil {
		return &VerifyError{Revision: id, Err: deadline(ctx, err)}
	}
	now := time.Now()
	return revs.Checkpoint(ctx, id, database.RevisionSucceeded, len(plan.Statements), &now, "")
}

// direct runs one statement as it is, within the lock-time budget.
func (r *applyRun) direct(ctx context.Context, i int) error {
	sctx, end := r.window(ctx)
	defer end()
	_, err := r.conn.ExecContext(sctx, r.plan.Statements[i])
	return deadline(sctx, err)
}

// throughShadow changes one table through a shadow.
func (r *applyRun) throughShadow(ctx context.Context, g shadowGroup) error {
	o := r.opts.ShadowTable
	if o == nil {
		o = &ShadowTableOptions{}
	}
	change, err := shadow.FromAlter(r.target.Engine, r.target.Schema(), g.table, g.clauses...)
	if err != nil {
		return err
	}
	res, err := shadow.Run(ctx, r.target.Engine, r.db, change, shadow.Options{
		BatchSize: o.BatchSize, BatchTime: o.BatchTime, CopyLanes: copyLanes(r.target.Limit), PreserveBackup: o.PreserveBackup,
		CutOverLockTimeout: o.CutOverLockTimeout, CutOverAttempts: o.CutOverAttempts, MaxLag: o.MaxLag,
		Progress: o.Progress, Verify: r.checks.shadowCopy(),
	})
	if res != nil {
		// Swapped: the change is made, whatever came after.
		r.swaps = append(r.swaps, change)
		r.longest = max(r.longest, res.LockTime)
		if o.Swapped != nil {
			o.Swapped(res)
		}
	}
	if err != nil {
		return fmt.Errorf("table %s through a shadow: %w", g.table, err)
	}
	if budget := r.opts.MaxLockTime; budget > 0 && res.LockTime > budget {
		return fmt.Errorf("%w (%s): the swap of table %s held its lock %s", ErrLockTimeExceeded, budget, g.table, res.LockTime.Round(time.Millisecond))
	}
	return nil
}

// copyLanes is how many lanes a shadow-table copy runs in on a target
// under limit: what the limit leaves beside the apply's lock session, the
// copy's own and one for the rest (the lag probe, the plans of other
// migrations on the target), at most shadow's default; 0, the default,
// without a limit. A copy takes its lanes' sessions only when they come
// at once (see shadow.Options.CopyLanes): it does not make others wait.
func copyLanes(limit *database.ConnLimit) int {
	if limit == nil {
		return 0
	}
	return min(shadow.DefaultCopyLanes, max(1, limit.Max()-3))
}

// swapBack puts the kept originals back in place, the last swapped first,
// before the rest of a rollback: only a backup has the rows as they were.
func (r *applyRun) swapBack(ctx context.Context) error {
	var errs []error
	for i := len(r.swaps) - 1; i >= 0; i-- {
		if err := shadow.SwapBack(ctx, r.target.Engine, r.db, r.swaps[i]); err != nil {
			errs = append(errs, fmt.Errorf("swapping table %s back: %w", r.swaps[i].Table, err))
			continue
		}
		if err := shadow.Abort(ctx, r.target.Engine, r.db, r.swaps[i]); err != nil {
			errs = append(errs, fmt.Errorf("dropping the changed copy of table %s: %w", r.swaps[i].Table, err))
		}
	}
	return errors.Join(errs...)
}
