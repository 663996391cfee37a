package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
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
		name := stepOf(plan, i).Script
		if n := len(steps); n > 0 && name != "" && steps[n-1].script == name {
			steps[n-1].end = i + 1
			continue
		}
		steps = append(steps, rollingStep{script: name, first: i, end: i + 1})
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
	if err := r.checks.before(ctx, r.conn); err != nil {
		return err
	}
	steps := stepsOf(r.plan)
	total := r.resumed + len(steps)
	r.rev.Total = r.base + len(r.plan.Statements)
	r.done = map[int]bool{}
	for _, wave := range r.waves(steps) {
		err := r.expired()
		if err == nil && len(wave) == 1 {
			err = r.sequentialStep(ctx, steps, wave[0], total)
		} else if err == nil {
			err = r.parallelSteps(ctx, steps, wave, total)
		}
		if err != nil {
			return err
		}
	}
	r.tell(StepProgress{Current: total, Total: total, Done: total, Resumed: r.resumed})
	if err := r.checks.after(ctx, r.conn); err != nil {
		return &VerifyError{Err: deadline(ctx, err)}
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

// progress is where the apply stands with step k running.
func (r *applyRun) progress(steps []rollingStep, k, total int) StepProgress {
	return StepProgress{Current: r.resumed + k + 1, Total: total, Script: steps[k].script, Done: r.resumed + len(r.done), Resumed: r.resumed}
}

// sequentialStep runs step k on the connection holding the lock.
func (r *applyRun) sequentialStep(ctx context.Context, steps []rollingStep, k, total int) error {
	p := r.progress(steps, k, total)
	r.tell(p)
	if err := r.step(ctx, steps, k); err != nil {
		p.Failed = steps[k].script
		r.tell(p)
		return err
	}
	return nil
}

// waves groups the steps that run together: a run of consecutive data
// scripts, none depending on another of the run and each writing tables
// the others do not, when Parallel allows it and the engine can; every
// other step is a wave of its own.
func (r *applyRun) waves(steps []rollingStep) [][]int {
	byName := map[string]script.Script{}
	for _, s := range r.scripts {
		byName[s.Name] = s
	}
	parallel := r.opts.Parallel && r.target.Engine.Server()
	var waves [][]int
	// open is the last wave while more data scripts may join it.
	var open *dataWave
	for k, st := range steps {
		s := byName[st.script]
		tables := sqlstatic.WrittenTables(s.SQL)
		if !parallel || s.Type != script.TypeData || len(tables) == 0 {
			waves, open = append(waves, []int{k}), nil
			continue
		}
		if open.admits(s, tables) {
			waves[len(waves)-1] = append(waves[len(waves)-1], k)
		} else {
			waves, open = append(waves, []int{k}), &dataWave{}
		}
		open.add(s.Name, tables)
	}
	return waves
}

// dataWave is what a wave of parallel data scripts holds: their names and
// the tables they write.
type dataWave struct {
	names, tables []string
}

// admits reports whether s, writing tables, may join the wave: it depends
// on none of the wave's scripts and writes none of its tables.
func (w *dataWave) admits(s script.Script, tables []string) bool {
	if w == nil {
		return false
	}
	dependent := slices.ContainsFunc(s.DependsOn, func(d string) bool { return slices.Contains(w.names, d) })
	shared := slices.ContainsFunc(tables, func(t string) bool {
		return slices.ContainsFunc(w.tables, func(u string) bool { return strings.EqualFold(t, u) })
	})
	return !dependent && !shared
}

func (w *dataWave) add(name string, tables []string) {
	w.names, w.tables = append(w.names, name), append(w.tables, tables...)
}

// parallelSteps runs a wave's steps at the same time, each on a connection
// of its own and in its own transaction; the first failure cancels the
// others (what they committed stays, with its checkpoint).
func (r *applyRun) parallelSteps(ctx context.Context, steps []rollingStep, wave []int, total int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(wave))
	var wg sync.WaitGroup
	for i, k := range wave {
		wg.Go(func() {
			r.mu.Lock()
			p := r.progress(steps, k, total)
			r.tell(p)
			r.mu.Unlock()
			if errs[i] = r.stepOnOwnConn(ctx, steps, k); errs[i] != nil {
				cancel()
				r.mu.Lock()
				p.Failed = steps[k].script
				r.tell(p)
				r.mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		// The first failure that is not another's cancellation.
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// stepOnOwnConn runs step k in a transaction on a connection of its own.
func (r *applyRun) stepOnOwnConn(ctx context.Context, steps []rollingStep, k int) error {
	st := steps[k]
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return connErr(r.target, err)
	}
	defer func() { _ = conn.Close() }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning step %s: %w", st.script, err)
	}
	return r.runStep(ctx, steps, k, tx, tx)
}

// step runs step k on the connection holding the lock and commits it with
// its checkpoint: in one transaction where the engine allows, else
// statement by statement and the checkpoint after the last.
func (r *applyRun) step(ctx context.Context, steps []rollingStep, k int) error {
	var q database.Querier = r.conn
	var tx database.Tx
	if r.target.Engine.TransactionalDDL() {
		var err error
		if tx, err = r.target.Engine.Begin(ctx, r.conn); err != nil {
			return fmt.Errorf("beginning step %s: %w", steps[k].script, err)
		}
		q = tx
	}
	return r.runStep(ctx, steps, k, q, tx)
}

// runStep runs step k's statements through q, then records its checkpoint
// and commits tx (nil: no transaction). Checkpoints are written one at a
// time: each one's key names the plan left once it commits.
func (r *applyRun) runStep(ctx context.Context, steps []rollingStep, k int, q database.Querier, tx database.Tx) error {
	st := steps[k]
	if d := r.opts.StepTimeouts[st.script]; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	ctx, end := r.window(ctx)
	defer end()
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
	r.mu.Lock()
	defer r.mu.Unlock()
	id, err := r.checkpoint(ctx, q, steps, k)
	if err != nil {
		return fail(err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("committing step %s: %w", st.script, deadline(ctx, err))
		}
		r.ran = max(r.ran, st.end)
	}
	r.done[k] = true
	r.checkpoints = append(r.checkpoints, id)
	return nil
}

// checkpoint records step k, about to commit, through q, keyed by the plan
// left to run once it has: the steps not committed, against the schema it
// leaves.
func (r *applyRun) checkpoint(ctx context.Context, q database.Querier, steps []rollingStep, k int) (int64, error) {
	st := steps[k]
	after, err := openLive(ctx, r.target, nil, q, r.live.exclude)
	if err != nil {
		return 0, fmt.Errorf("inspecting the schema after step %s: %w", st.script, err)
	}
	key := checkpointKey(r.opts.ExpectHash, planHash(r.target, after, r.remaining(steps, k), r.in))
	now := time.Now()
	rev := &database.Revision{
		PlanHash:   key,
		Object:     r.opts.Identity,
		Scripts:    scriptsOf(r.plan, st),
		Approver:   r.opts.Approver,
		StartedAt:  r.rev.StartedAt,
		FinishedAt: &now,
		Status:     database.RevisionCheckpoint,
		Done:       r.base + r.statementsDone(steps) + st.end - st.first,
		Total:      r.rev.Total,
	}
	return database.RevisionsOn(r.target.Engine, q).Insert(ctx, rev)
}

// remaining is the plan left once step k and the steps done have
// committed: what a plan of the scripts not yet applied would list, in
// plan order.
func (r *applyRun) remaining(steps []rollingStep, k int) *Plan {
	left := &Plan{Statements: []string{}}
	committed := map[string]bool{}
	for j, st := range steps {
		if j == k || r.done[j] {
			committed[st.script] = true
			continue
		}
		left.Statements = append(left.Statements, r.plan.Statements[st.first:st.end]...)
	}
	for _, s := range r.plan.Scripts {
		if !committed[s.Name] {
			left.Scripts = append(left.Scripts, s)
		}
	}
	if r.declarative {
		// Declarative steps are statements: what is left is what follows.
		left.Statements, left.Scripts = r.plan.Statements[steps[k].end:], r.plan.Scripts
	}
	return left
}

// statementsDone counts the statements of the steps committed so far.
func (r *applyRun) statementsDone(steps []rollingStep) int {
	n := 0
	for j := range r.done {
		n += steps[j].end - steps[j].first
	}
	return n
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
