package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/metrics"
)

// sourceWait is how long a migration waits before looking again for a
// ConfigMap or Secret that does not exist yet (a watch usually wakes it
// sooner).
const sourceWait = 30 * time.Second

// plan owns the Planned condition: it (re)computes the plan when the spec,
// a source or the live schema may have moved, and stops the lifecycle when
// the plan is empty, blocked by policy, or could not be computed.
func (r *DatabaseMigrationReconciler) plan(ctx context.Context, dbm *dbv1.DatabaseMigration, _ *statusWriter) (ctrl.Result, bool, error) {
	stale, err := r.planIsStale(ctx, dbm)
	if err != nil {
		return r.planFailed(dbm, err)
	}
	if stale {
		if res, stop, err := r.computePlan(ctx, dbm); stop || err != nil {
			return res, stop, err
		}
	}

	plan := dbm.Status.Plan
	policy, err := r.policyOf(ctx, dbm)
	if err != nil {
		return r.planFailed(dbm, err)
	}
	switch {
	// A plan whose first statement alone passes the status budget holds
	// no statement in status; it is not empty.
	case len(plan.Statements) == 0 && !plan.Truncated:
		if applied := dbm.Status.LastApplied; applied != nil {
			setPhase(dbm, dbv1.PhaseSucceeded, dbv1.ReasonSucceeded, fmt.Sprintf(
				"plan %s applied (revision %d); the database matches the migration", applied.PlanHash, applied.Revision))
		} else {
			setPhase(dbm, dbv1.PhaseSucceeded, dbv1.ReasonPlanEmpty, "nothing to do: the database already matches the migration")
		}
		return ctrl.Result{RequeueAfter: r.replanInterval()}, true, nil
	case plan.Destructive && policy.Destructive == dbv1.DestructiveBlock:
		setPhase(dbm, dbv1.PhaseBlocked, dbv1.ReasonDestructiveBlocked,
			"the plan is destructive and spec.policy.destructive (or the target's policy) is block: change the migration, or allow destructive plans with approval")
		return ctrl.Result{RequeueAfter: r.replanInterval()}, true, nil
	}
	return ctrl.Result{}, false, nil
}

// planIsStale says whether the plan in status no longer describes the
// migration: none yet, the spec changed, a source changed, or it is older
// than the replan interval (the live schema may have drifted). A plan
// approved and not applied yet, or being applied (phase Running: an apply in flight, queued,
// cut short by a restart, or interrupted and retried) is not planned again
// for drift: the apply re-checks the live schema under its lock and
// refuses a plan that moved, and a plan recomputed from a schema an apply
// left part-way (MySQL, between two statements) would replay what already
// ran, where the apply resumes it.
func (r *DatabaseMigrationReconciler) planIsStale(ctx context.Context, dbm *dbv1.DatabaseMigration) (bool, error) {
	plan := dbm.Status.Plan
	if plan == nil || plan.ComputedAt == nil {
		return true, nil
	}
	applied := dbm.Status.LastApplied != nil && dbm.Status.LastApplied.PlanHash == plan.Hash
	awaitsApply := dbm.Annotations[dbv1.AnnotationApprovedPlan] == plan.Hash && !applied
	if dbm.Status.Phase != dbv1.PhaseRunning && !awaitsApply && r.now().Sub(plan.ComputedAt.Time) >= r.replanInterval() {
		return true, nil
	}
	return r.planOutdated(ctx, dbm)
}

// planOutdated says whether the spec or a source moved since the plan in
// status was computed.
func (r *DatabaseMigrationReconciler) planOutdated(ctx context.Context, dbm *dbv1.DatabaseMigration) (bool, error) {
	plan := dbm.Status.Plan
	planned := meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionPlanned)
	if plan == nil || planned == nil || planned.Status != metav1.ConditionTrue || planned.ObservedGeneration != dbm.Generation {
		return true, nil
	}
	sources, err := r.Migrator.Sources(ctx, dbm)
	if err != nil {
		return false, err
	}
	return !slices.Equal(sources, plan.Scripts), nil
}

// computePlan plans against the live database and records the plan.
func (r *DatabaseMigrationReconciler) computePlan(ctx context.Context, dbm *dbv1.DatabaseMigration) (ctrl.Result, bool, error) {
	if dbm.Status.Phase == "" {
		setPhase(dbm, dbv1.PhasePending, dbv1.ReasonPlanning, "computing the plan")
	}
	start := r.now()
	plan, err := r.Migrator.Plan(ctx, dbm)
	metrics.PlanDuration.Observe(r.now().Sub(start).Seconds())
	if err != nil {
		metrics.Plans.WithLabelValues(metrics.ResultError).Inc()
		return r.planFailed(dbm, err)
	}
	metrics.Plans.WithLabelValues(metrics.ResultSuccess).Inc()

	previous := dbm.Status.Plan
	if err := r.storePlan(ctx, dbm, plan, metav1.NewTime(r.now())); err != nil {
		// A plan ConfigMap someone else owns is for a person to resolve;
		// an API error writing ours is retried.
		var permanent *PermanentError
		if errors.As(err, &permanent) {
			return r.planFailed(dbm, err)
		}
		return ctrl.Result{}, true, err
	}
	message := fmt.Sprintf("plan %s: %d statement(s), %d finding(s)", plan.Hash, len(plan.Statements), len(plan.Diagnostics))
	setCondition(dbm, dbv1.ConditionPlanned, true, dbv1.ReasonPlanReady, message)
	if previous == nil || previous.Hash != plan.Hash {
		r.event(dbm, false, dbv1.ReasonPlanReady, message)
	}
	return ctrl.Result{}, false, nil
}

// planFailed reports a plan that could not be computed, as the failure
// table classes its error: waiting for a source, a permanent fault for a
// person to fix, or a transient one retried with backoff.
func (r *DatabaseMigrationReconciler) planFailed(dbm *dbv1.DatabaseMigration, err error) (ctrl.Result, bool, error) {
	f := classify(err, false)
	switch f.retry {
	case retryAfter:
		// A source or a target not created yet, a target not ready.
		setCondition(dbm, dbv1.ConditionPlanned, false, f.reason, err.Error())
		message := "waiting: " + err.Error()
		if f.reason == dbv1.ReasonSourceNotFound {
			message = "waiting for a source: " + err.Error()
		}
		setPhase(dbm, dbv1.PhasePending, f.reason, message)
		return ctrl.Result{RequeueAfter: f.after}, true, nil
	case retryBackoff:
		setCondition(dbm, dbv1.ConditionPlanned, false, f.reason, err.Error())
		if dbm.Status.Phase == "" {
			setPhase(dbm, dbv1.PhasePending, f.reason, err.Error())
		}
		r.event(dbm, true, f.reason, err.Error())
		return ctrl.Result{}, true, err
	}
	setCondition(dbm, dbv1.ConditionPlanned, false, f.reason, err.Error())
	setPhase(dbm, dbv1.PhaseFailed, f.reason, err.Error())
	r.event(dbm, true, f.reason, err.Error())
	return ctrl.Result{}, true, nil
}
