package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/metrics"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

// lockWait is how long a migration waits for another apply on the same
// database before trying again.
const lockWait = 5 * time.Second

// applyPoll is how often a reconcile looks at an apply in flight: a
// safety net, since the runner requeues the migration when it ends.
const applyPoll = 30 * time.Second

// apply owns the Applied condition: it hands the approved plan to the
// apply runner, which runs it through the Migrator's guarded apply
// (database lock, re-plan, hash check, revision table), and records what
// happened once it ended.
func (r *DatabaseMigrationReconciler) apply(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter) (ctrl.Result, bool, error) {
	if job, record := r.applies.Lookup(dbm.UID); job != nil {
		return r.awaitApply(ctx, dbm, status, job, record)
	}
	plan := dbm.Status.Plan
	if applied := dbm.Status.LastApplied; applied != nil && applied.PlanHash == plan.Hash {
		return ctrl.Result{}, false, nil
	}

	// The pre-checks run under the database's lock, as the apply will.
	unlock, ok := r.applies.TryLock(dbm.DatabaseKey())
	if !ok {
		setCondition(dbm, dbv1.ConditionApplied, false, dbv1.ReasonLockBusy, "another migration is applying to this database; waiting for it")
		return ctrl.Result{RequeueAfter: lockWait}, true, nil
	}
	defer unlock()

	if dbm.Spec.Migration.Strategy == dbv1.MigrationStrategyBlueGreen {
		return r.applyBlueGreen(ctx, dbm, status)
	}
	if res, stop, err := r.preCheck(ctx, dbm); stop || err != nil {
		return res, stop, err
	}
	return r.startApply(ctx, dbm, status, dbv1.ReasonApplying, "applying plan "+plan.Hash, r.runApply)
}

// applyWork is an apply as the runner runs it, on the job's own copy of
// the migration, reporting progress through report.
type applyWork func(ctx context.Context, dbm *dbv1.DatabaseMigration, report *reporter) recordFunc

// startApply shows the apply started (phase Running, with reason and
// message) and submits it to the runner.
func (r *DatabaseMigrationReconciler) startApply(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter, reason, message string, work applyWork) (ctrl.Result, bool, error) {
	now := metav1.NewTime(r.now())
	dbm.Status.StartTime, dbm.Status.CompletionTime = &now, nil
	dbm.Status.Progress = &dbv1.ProgressInfo{TotalSteps: int32(len(dbm.Status.Plan.Statements))}
	if dbm.Spec.Migration.Strategy != dbv1.MigrationStrategyRolling {
		dbm.Status.Rolling = nil
	}
	// Queued until a worker takes it: the runner has a bounded pool and
	// one apply per database.
	queued := message + ": queued for a free apply worker"
	setCondition(dbm, dbv1.ConditionApplied, false, dbv1.ReasonApplyQueued, queued)
	setPhase(dbm, dbv1.PhaseRunning, dbv1.ReasonApplyQueued, queued)
	summarize(dbm)
	if err := status.flush(ctx); err != nil {
		return ctrl.Result{}, true, err
	}

	job := &applyJob{
		uid: dbm.UID, hash: dbm.Status.Plan.Hash, object: client.ObjectKeyFromObject(dbm), database: dbm.DatabaseKey(),
		dbm: dbm.DeepCopy(),
	}
	job.status = r.newStatusWriter(job.dbm)
	job.run = func(ctx context.Context) recordFunc {
		report := r.newReporter(ctx, job.status, &job.mu)
		report.update(true, func() {
			setCondition(job.dbm, dbv1.ConditionApplied, false, reason, message)
			setPhase(job.dbm, dbv1.PhaseRunning, reason, message)
			summarize(job.dbm)
		})
		return work(ctx, job.dbm, report)
	}
	r.applies.Submit(job)
	// The start of an apply (or of a blue-green copy) is news to whoever
	// watches the events, as its end is.
	r.event(dbm, false, reason, message)
	return ctrl.Result{RequeueAfter: applyPoll}, true, nil
}

// awaitApply watches the migration's apply in the runner. While it runs,
// the status is the one its progress reports write; once it ended, its
// outcome is recorded and written, and only then does the runner forget
// it: a failed write leaves it for the next reconcile to record again.
func (r *DatabaseMigrationReconciler) awaitApply(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter, job *applyJob, record recordFunc) (ctrl.Result, bool, error) {
	job.adoptInto(dbm, status)
	if record == nil {
		return ctrl.Result{RequeueAfter: applyPoll}, true, nil
	}
	res, stop, err := record(ctx, dbm, status)
	summarize(dbm)
	if ferr := status.flush(ctx); ferr != nil {
		return ctrl.Result{}, true, errors.Join(err, ferr)
	}
	r.applies.Forget(job)
	return res, stop, err
}

// runApply runs the approved plan in place.
func (r *DatabaseMigrationReconciler) runApply(ctx context.Context, dbm *dbv1.DatabaseMigration, report *reporter) recordFunc {
	opts := r.applyOptions(dbm, report)
	start := r.now()
	applied, err := r.Migrator.Apply(ctx, dbm, opts)
	end := r.now()
	metrics.ApplyDuration.Observe(end.Sub(start).Seconds())
	return func(_ context.Context, dbm *dbv1.DatabaseMigration, _ *statusWriter) (ctrl.Result, bool, error) {
		if err != nil {
			return r.applyFailed(dbm, err)
		}
		r.applySucceeded(dbm, opts.Approver, start, end, applied)
		return ctrl.Result{}, false, nil
	}
}

// applySucceeded records an apply that completed (or found its plan
// applied already).
func (r *DatabaseMigrationReconciler) applySucceeded(dbm *dbv1.DatabaseMigration, approvedBy string, start, end time.Time, applied *planner.ApplyResult) {
	plan := dbm.Status.Plan
	metrics.Applies.WithLabelValues(metrics.ResultSuccess).Inc()

	done := metav1.NewTime(end)
	dbm.Status.CompletionTime = &done
	dbm.Status.Metrics = &dbv1.MigrationMetrics{Duration: &metav1.Duration{Duration: end.Sub(start)}}
	if applied.LongestLock > 0 {
		dbm.Status.Metrics.LongestLock = &metav1.Duration{Duration: applied.LongestLock.Round(time.Millisecond)}
	}
	noteUnmeasured(dbm)
	if rs := dbm.Status.Rolling; rs != nil && !applied.AlreadyApplied {
		rs.Phase, rs.RollbackPoint, rs.CurrentScript = dbv1.RollingCompleted, rs.TotalSteps, ""
	}
	dbm.Status.Progress.CompletedSteps = dbm.Status.Progress.TotalSteps
	dbm.Status.Progress.PercentageComplete = 100
	dbm.Status.Progress.CurrentStep = ""
	dbm.Status.LastApplied = &dbv1.AppliedRevision{
		PlanHash: plan.Hash, AppliedAt: &done, ApprovedBy: approvedBy, Revision: applied.Revision, Scripts: plan.Scripts,
	}
	reason, message := dbv1.ReasonApplied, fmt.Sprintf("plan %s applied as revision %d", plan.Hash, applied.Revision)
	if dbm.Spec.Migration.Strategy == dbv1.MigrationStrategyShadowTable && plan.DatabaseType == dbv1.DatabaseTypeSQLite {
		message += " (shadow-table on SQLite: applied in one locked transaction, SQLite's own table copy)"
	}
	if applied.Resumed > 0 {
		message += fmt.Sprintf(", resuming after the %d step(s) an interrupted apply committed", applied.Resumed)
	}
	if applied.Landed != "" {
		message += fmt.Sprintf(" (%s had run when the interrupted apply was cut short, though not recorded: found on the live schema and recorded)", applied.Landed)
	}
	if applied.AlreadyApplied {
		reason, message = dbv1.ReasonAlreadyApplied, fmt.Sprintf("plan %s was already applied (revision %d): nothing ran again", plan.Hash, applied.Revision)
	}
	setCondition(dbm, dbv1.ConditionApplied, true, reason, message)
	setPhase(dbm, dbv1.PhaseSucceeded, reason, message)
	r.event(dbm, false, reason, message)
}

// applyOptions turns the spec into how the approved plan runs: its
// strategy and its settings, deadline, downtime budget, data integrity
// checks and rollback policy, and where it reports progress. The Migrator
// adds what it knows of the sources.
func (r *DatabaseMigrationReconciler) applyOptions(dbm *dbv1.DatabaseMigration, report *reporter) planner.ApplyOptions {
	spec := dbm.Spec
	opts := planner.ApplyOptions{
		ExpectHash: dbm.Status.Plan.Hash,
		Approver:   approver(dbm),
		Strategy:   planner.Strategy(spec.Migration.Strategy),
		Progress:   progressReporter(report, dbm),
		Rollback:   rollbackPolicy(spec.Rollback),
		Graceful:   spec.Rollback != nil && spec.Rollback.Strategy == dbv1.RollbackStrategyGraceful,
	}
	if v := spec.Validation; v != nil {
		if o, ok := integrityOptions(v.DataIntegrityChecks); ok {
			opts.Integrity = &o
		}
		if t := v.PerformanceThresholds; t != nil {
			if d := t.MaxMigrationTime; d != nil {
				opts.Deadline = r.now().Add(d.Duration)
			}
			if d := t.MaxDowntime; d != nil {
				opts.MaxLockTime = d.Duration
			}
		}
	}
	if opts.Rollback != nil {
		opts.RollingBack = func() {
			message := "the apply failed; rolling back to the schema it started from"
			r.event(dbm, true, dbv1.ReasonRollingBack, message)
			report.update(true, func() { setPhase(dbm, dbv1.PhaseRollingBack, dbv1.ReasonRollingBack, message) })
		}
	}
	switch opts.Strategy {
	case planner.StrategyShadowTable:
		opts.ShadowTable = shadowOptions(report, dbm, r.now)
	case planner.StrategyBlueGreen:
		opts.BlueGreen = &planner.BlueGreenOptions{
			Green: greenName(dbm), BatchSize: int(spec.Migration.BatchSize), Progress: copyReporter(report, dbm),
		}
	case planner.StrategyRolling:
		opts.Parallel = spec.Migration.Parallel
		opts.StepTimeouts = map[string]time.Duration{}
		for _, s := range spec.Migration.Scripts {
			if s.Timeout != nil {
				opts.StepTimeouts[s.Name] = s.Timeout.Duration
			}
		}
		opts.Step = stepReporter(report, dbm)
	}
	return opts
}

// unmeasured is what status.metrics says of a CPU or memory threshold:
// it is not checked, and the status says so rather than pretend.
const unmeasured = "not measured: " + dbv1.ThresholdsUnmeasurable

// noteUnmeasured notes in status.metrics the thresholds that were set and
// could not be checked.
func noteUnmeasured(dbm *dbv1.DatabaseMigration) {
	v := dbm.Spec.Validation
	if v == nil || v.PerformanceThresholds == nil || dbm.Status.Metrics == nil {
		return
	}
	if v.PerformanceThresholds.MaxCPUUsage != "" {
		dbm.Status.Metrics.CPUUsage = unmeasured
	}
	if v.PerformanceThresholds.MaxMemoryUsage != "" {
		dbm.Status.Metrics.MemoryUsage = unmeasured
	}
}

// rollbackPolicy is spec.rollback as a decision on a failure. A failed
// statement or validation always rolls back when rollback is automatic:
// stopping half-way is never what a migration wants. The listed
// conditions choose which threshold breaches do too (all when none are
// listed): timeout, performance-degradation (maxDowntime) and
// data-corruption.
func rollbackPolicy(rb *dbv1.RollbackConfig) func(error) bool {
	if rb == nil || rb.Automatic == nil || !*rb.Automatic {
		return nil
	}
	return func(err error) bool {
		if errors.Is(err, planner.ErrConnectionLost) {
			// Not the plan's failure, and no rollback can run on a
			// broken connection: the next apply resumes from the record.
			return false
		}
		c := rollbackCondition(err)
		return c == "" || len(rb.Conditions) == 0 || slices.Contains(rb.Conditions, c)
	}
}

// stepReporter writes status.rolling as a rolling apply moves from step
// to step.
func stepReporter(report *reporter, dbm *dbv1.DatabaseMigration) func(planner.StepProgress) {
	started := false
	return func(p planner.StepProgress) {
		report.update(true, func() {
			if !started {
				// Set on the first step, not before: an apply that finds
				// its plan already applied (a reconcile from a stale
				// cache) runs no step and leaves the record of the one
				// that did.
				started = true
				dbm.Status.Rolling = &dbv1.RollingStatus{Phase: dbv1.RollingRunning}
			}
			rs := dbm.Status.Rolling
			rs.TotalSteps, rs.CurrentStep, rs.CurrentScript = int32(p.Total), int32(p.Current), p.Script
			rs.RollbackPoint, rs.ResumedSteps = int32(p.Done), int32(p.Resumed)
			if p.Failed != "" {
				rs.Phase = dbv1.RollingFailed
				rs.FailedSteps = append(rs.FailedSteps, p.Failed)
			}
		})
	}
}

// preCheck runs the pre-checks and stops the apply when one failed. A
// failure is looked at again on the re-plan interval: granting a privilege
// or freeing space changes nothing the reconciler watches.
func (r *DatabaseMigrationReconciler) preCheck(ctx context.Context, dbm *dbv1.DatabaseMigration) (ctrl.Result, bool, error) {
	results, err := r.Migrator.PreCheck(ctx, dbm)
	if err != nil {
		return r.applyFailed(dbm, err)
	}
	dbm.Status.PreChecks = results
	if len(results) == 0 {
		return ctrl.Result{}, false, nil
	}
	ok, message := preChecksCondition(dbm, results)
	if !ok {
		setCondition(dbm, dbv1.ConditionApplied, false, dbv1.ReasonPreCheckFailed, message)
		setPhase(dbm, dbv1.PhaseFailed, dbv1.ReasonPreCheckFailed, message)
		r.event(dbm, true, dbv1.ReasonPreCheckFailed, message)
		return ctrl.Result{RequeueAfter: r.replanInterval()}, true, nil
	}
	return ctrl.Result{}, false, nil
}

// applyFailed reports an apply that did not complete, as the failure
// table classes its error.
func (r *DatabaseMigrationReconciler) applyFailed(dbm *dbv1.DatabaseMigration, err error) (ctrl.Result, bool, error) {
	f := classify(err, true)
	switch {
	case f.reason == dbv1.ReasonSchemaDrifted:
		metrics.Applies.WithLabelValues(metrics.ResultRefused).Inc()
		message := "not applied: " + err.Error() + "; a new plan is being computed and needs a new approval"
		setCondition(dbm, dbv1.ConditionApproved, false, f.reason, message)
		setCondition(dbm, dbv1.ConditionApplied, false, f.reason, message)
		setCondition(dbm, dbv1.ConditionPlanned, false, f.reason, message)
		setPhase(dbm, dbv1.PhaseAwaitingApproval, f.reason, message)
		dbm.Status.StartTime = nil
		r.event(dbm, true, f.reason, message)
		return ctrl.Result{RequeueAfter: f.after}, true, nil
	case f.retry == retryAfter:
		// Waiting is the course (the lock, a source not there yet):
		// nothing ran, nothing to event.
		setCondition(dbm, dbv1.ConditionApplied, false, f.reason, err.Error())
		setPhase(dbm, dbv1.PhaseAwaitingApproval, f.reason, err.Error())
		return ctrl.Result{RequeueAfter: f.after}, true, nil
	case f.retry == retryBackoff:
		// The database went away mid-apply: the guarded apply left it as
		// it was (or at a recorded checkpoint); try again with backoff.
		// A statement whose connection broke leaves the apply under way
		// (phase Running): the next apply resumes from its record.
		metrics.Applies.WithLabelValues(metrics.ResultError).Inc()
		phase, message := dbv1.PhaseAwaitingApproval, err.Error()
		if errors.Is(err, planner.ErrConnectionLost) {
			phase, message = dbv1.PhaseRunning, "the apply was interrupted and will be retried, resuming from what the database records: "+message
		}
		setCondition(dbm, dbv1.ConditionApplied, false, f.reason, message)
		setPhase(dbm, phase, f.reason, message)
		r.event(dbm, true, f.reason, message)
		return ctrl.Result{}, true, err
	}
	metrics.Applies.WithLabelValues(metrics.ResultError).Inc()
	done := metav1.NewTime(r.now())
	dbm.Status.CompletionTime = &done
	if rolledBackErr(err) {
		if rs := dbm.Status.Rolling; rs != nil {
			rs.Phase, rs.RollbackPoint = dbv1.RollingRolledBack, 0
		}
		r.event(dbm, false, dbv1.ReasonRolledBack, "rolled back to the schema the apply started from")
	}
	message := f.message(err)
	setCondition(dbm, dbv1.ConditionApplied, false, f.reason, message)
	setPhase(dbm, dbv1.PhaseFailed, f.reason, message)
	r.event(dbm, true, f.reason, message)
	return ctrl.Result{}, true, nil
}

// progressReporter writes status.progress as the apply moves.
func progressReporter(report *reporter, dbm *dbv1.DatabaseMigration) func(done, total int, current string) {
	return func(done, total int, current string) {
		report.update(done >= total, func() {
			p := dbm.Status.Progress
			p.TotalSteps, p.CompletedSteps, p.CurrentStep = int32(total), int32(done), abbreviate(current)
			if total > 0 {
				p.PercentageComplete = int32(done * 100 / total)
			}
		})
	}
}

// verify owns Ready through summarize: the applied plan is the current one.
func (r *DatabaseMigrationReconciler) verify(_ context.Context, dbm *dbv1.DatabaseMigration, _ *statusWriter) (ctrl.Result, bool, error) {
	applied := dbm.Status.LastApplied
	if applied == nil || applied.PlanHash != dbm.Status.Plan.Hash {
		return ctrl.Result{}, true, nil
	}
	if dbm.Status.Phase != dbv1.PhaseSucceeded {
		setPhase(dbm, dbv1.PhaseSucceeded, dbv1.ReasonSucceeded,
			fmt.Sprintf("plan %s applied as revision %d", applied.PlanHash, applied.Revision))
	}
	return ctrl.Result{RequeueAfter: r.replanInterval()}, true, nil
}

// abbreviate keeps a statement short enough for a progress line.
func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
