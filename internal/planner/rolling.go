package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// A rolling apply runs the plan one step at a time: a script in versioned
// mode, a statement in declarative mode. Each step runs in its own
// transaction where the engine has transactional DDL, and commits with a
// checkpoint row in the revision table whose scripts count as applied. The
// checkpoint's plan hash is a key: the approved hash together with the
// hash of the plan left to run against the schema the step left. An apply
// cut short re-plans (what is left, since the committed scripts count as
// applied) and resumes only when that plan's hash gives the key of a
// checkpoint: the approved plan, stopped at that step, with nothing moved
// since. Anything else is a changed plan, refused as usual.

// rollingStep is a run of the plan's statements from one script.
type rollingStep struct {
	script     string
	first, end int
}

// stepsOf splits a plan into its rolling steps.
func stepsOf(plan *Plan) []rollingStep {
	var steps []rollingStep
	for i := range plan.Statements {
		script := stepOf(plan, i).Script
		if n := len(steps); n > 0 && script != "" && steps[n-1].script == script {
			steps[n-1].end = i + 1
			continue
		}
		steps = append(steps, rollingStep{script: script, first: i, end: i + 1})
	}
	return steps
}

// checkpointKey is the plan hash a checkpoint row is recorded under.
func checkpointKey(approved, remaining string) string {
	h := sha256.New()
	for _, s := range []string{"kube-shift checkpoint v1", approved, remaining} {
		_, _ = h.Write([]byte{byte(len(s) >> 8), byte(len(s))})
		_, _ = io.WriteString(h, s)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// resume finds the checkpoint the plan left to run continues from, or
// refuses the plan as changed.
func (r *applyRun) resume(ctx context.Context) error {
	refused := &HashMismatchError{Expected: r.opts.ExpectHash, Actual: r.plan.Hash}
	rows, err := r.revs.WithHash(ctx, checkpointKey(r.opts.ExpectHash, r.plan.Hash), database.RevisionCheckpoint)
	if err != nil || len(rows) == 0 {
		return errorOr(err, refused)
	}
	last := rows[len(rows)-1]
	all, err := r.revs.All(ctx)
	if err != nil {
		return err
	}
	// The steps committed are the checkpoint rows of this object since
	// its last finished apply, up to the one resumed from.
	for _, rev := range all {
		switch {
		case rev.ID > last.ID || rev.Object != last.Object:
		case rev.Status == database.RevisionCheckpoint:
			r.resumed++
		default:
			r.resumed = 0
		}
	}
	r.base = last.Done
	return nil
}

func errorOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// rolling runs the plan step by step.
func (r *applyRun) rolling(ctx context.Context) error {
	if err := r.revs.Ensure(ctx); err != nil {
		return err
	}
	if r.opts.Before != nil {
		if err := r.opts.Before(ctx, r.conn); err != nil {
			return fmt.Errorf("before the first statement: %w", err)
		}
	}
	steps := stepsOf(r.plan)
	total := r.resumed + len(steps)
	r.rev.Total = r.base + len(r.plan.Statements)
	for k, st := range steps {
		progress := StepProgress{Current: r.resumed + k + 1, Total: total, Script: st.script, Done: r.resumed + k, Resumed: r.resumed}
		r.tell(progress)
		err := r.expired()
		if err == nil {
			err = r.step(ctx, st)
		}
		if err != nil {
			progress.Failed = st.script
			r.tell(progress)
			return err
		}
	}
	r.tell(StepProgress{Current: total, Total: total, Done: total, Resumed: r.resumed})
	if r.opts.Verify != nil {
		if err := r.opts.Verify(ctx, r.conn); err != nil {
			return &VerifyError{Err: deadline(ctx, err)}
		}
	}
	now := time.Now()
	r.rev.Status, r.rev.Done, r.rev.FinishedAt = database.RevisionSucceeded, r.rev.Total, &now
	_, err := r.revs.Insert(ctx, r.rev)
	return err
}

// tell reports progress when asked to.
func (r *applyRun) tell(p StepProgress) {
	if r.opts.Step != nil {
		r.opts.Step(p)
	}
}

// step runs one step and commits it with its checkpoint: in one
// transaction where the engine allows, else statement by statement and the
// checkpoint after the last.
func (r *applyRun) step(ctx context.Context, st rollingStep) error {
	if d := r.opts.StepTimeouts[st.script]; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	ctx, end := r.window(ctx)
	defer end()
	var q database.Querier = r.conn
	var tx database.Tx
	if r.target.Engine.TransactionalDDL() {
		var err error
		if tx, err = r.target.Engine.Begin(ctx, r.conn); err != nil {
			return fmt.Errorf("beginning step %s: %w", st.script, err)
		}
		q = tx
	}
	fail := func(err error) error {
		if tx != nil {
			_ = tx.Rollback()
		}
		return err
	}
	for i := st.first; i < st.end; i++ {
		stmt := r.plan.Statements[i]
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			applied := r.base + i
			if tx != nil {
				applied = r.base + st.first
			}
			return fail(&StatementError{Index: r.base + i, Total: r.rev.Total, Applied: applied, Step: stepOf(r.plan, i), RolledBack: tx != nil && applied == 0, Err: deadline(ctx, err)})
		}
		if tx == nil {
			r.ran = i + 1
		}
		report(r.opts.Progress, r.base+i+1, r.rev.Total, stmt)
	}
	id, err := r.checkpoint(ctx, q, st)
	if err != nil {
		return fail(err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("committing step %s: %w", st.script, deadline(ctx, err))
		}
		r.ran = st.end
	}
	r.checkpoints = append(r.checkpoints, id)
	return nil
}

// checkpoint records a committed step through q, keyed by the plan left to
// run against the schema the step left.
func (r *applyRun) checkpoint(ctx context.Context, q database.Querier, st rollingStep) (int64, error) {
	after, err := openLive(ctx, r.target, nil, q, r.live.exclude)
	if err != nil {
		return 0, fmt.Errorf("inspecting the schema after step %s: %w", st.script, err)
	}
	remaining := &Plan{Statements: r.plan.Statements[st.end:], Scripts: scriptsAfter(r.plan, st)}
	key := checkpointKey(r.opts.ExpectHash, planHash(r.target, after, remaining, r.declarative))
	now := time.Now()
	rev := &database.Revision{
		PlanHash:   key,
		Object:     r.opts.Identity,
		Scripts:    scriptsOf(r.plan, st),
		Approver:   r.opts.Approver,
		StartedAt:  r.rev.StartedAt,
		FinishedAt: &now,
		Status:     database.RevisionCheckpoint,
		Done:       r.base + st.end,
		Total:      r.rev.Total,
	}
	return database.RevisionsOn(r.target.Engine, q).Insert(ctx, rev)
}

// scriptsOf is the step's script as the revision table records it.
func scriptsOf(plan *Plan, st rollingStep) []database.ScriptRecord {
	for _, s := range plan.Scripts {
		if s.Name == st.script {
			return []database.ScriptRecord{s}
		}
	}
	return nil
}

// scriptsAfter are the plan's scripts that come after step st: the
// scripts a plan of what is left would list.
func scriptsAfter(plan *Plan, st rollingStep) []database.ScriptRecord {
	if st.script == "" {
		return plan.Scripts
	}
	for i, s := range plan.Scripts {
		if s.Name == st.script {
			return plan.Scripts[i+1:]
		}
	}
	return nil
}
