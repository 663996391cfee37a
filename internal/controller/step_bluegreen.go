package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/metrics"
)

// Blue-green phases, as status.blueGreen.phase shows them.
const (
	blueGreenCopying        = "Copying"
	blueGreenAwaitingSwitch = "AwaitingSwitch"
	blueGreenSwitched       = "Switched"
	blueGreenFailed         = "Failed"
)

// defaultSwitchKey is the switch Secret's key when the spec names none.
const defaultSwitchKey = "database"

// applyBlueGreen runs the blue-green strategy: green, a copy of the
// database, gets the approved plan and the validation scripts; then the
// switch rewrites the Secret applications read the database name from
// (spec.migration.blueGreen.switchSecret), or, without one, waits at
// AwaitingSwitch for a reviewer's switch-approved annotation. Blue is
// never written and never dropped.
func (r *DatabaseMigrationReconciler) applyBlueGreen(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter) (ctrl.Result, bool, error) {
	green := greenName(dbm)
	bg := dbm.Status.BlueGreen
	if bg == nil || bg.GreenDatabase != green {
		bg = &dbv1.BlueGreenStatus{BlueDatabase: dbm.Status.Plan.Database, GreenDatabase: green}
		dbm.Status.BlueGreen = bg
	}
	if bg.ValidationPassed && bg.GreenRevision != 0 {
		return r.switchToGreen(ctx, dbm, green)
	}
	// Green may have the plan already when the manager stopped between
	// green's commit and the status write: the planner's blue-green
	// apply finds it in green's revision table and runs nothing again.
	if res, stop, err := r.preCheck(ctx, dbm); stop || err != nil {
		return res, stop, err
	}
	bg.Phase = blueGreenCopying
	message := fmt.Sprintf("copying %s to %s, then applying plan %s there", bg.BlueDatabase, green, dbm.Status.Plan.Hash)
	return r.startApply(ctx, dbm, status, dbv1.ReasonCloning, message,
		func(ctx context.Context, dbm *dbv1.DatabaseMigration, report *reporter) recordFunc {
			return r.runGreen(ctx, dbm, report, green)
		})
}

// greenName is the database a blue-green apply of dbm's plan copies blue
// to.
func greenName(dbm *dbv1.DatabaseMigration) string {
	return bluegreen.GreenName(dbm.Status.Plan.Database, shortHash(dbm.Status.Plan.Hash))
}

// runGreen copies blue to green and applies the plan there (the planner's
// blue-green strategy; a failure the rollback policy covers drops green).
// Once recorded, the switch is next.
func (r *DatabaseMigrationReconciler) runGreen(ctx context.Context, dbm *dbv1.DatabaseMigration, report *reporter, green string) recordFunc {
	opts := r.applyOptions(dbm, report)
	start := r.now()
	applied, err := r.Migrator.Apply(ctx, dbm, opts)
	end := r.now()
	metrics.ApplyDuration.Observe(end.Sub(start).Seconds())
	if err != nil {
		report.update(false, func() { dbm.Status.BlueGreen.Phase = blueGreenFailed })
	}
	return func(ctx context.Context, dbm *dbv1.DatabaseMigration, _ *statusWriter) (ctrl.Result, bool, error) {
		bg := dbm.Status.BlueGreen
		if err != nil {
			bg.Phase = blueGreenFailed
			return r.applyFailed(dbm, err)
		}
		bg.RowsCopied += applied.Copied
		bg.ValidationPassed, bg.GreenRevision = true, applied.Revision
		bg.Phase = blueGreenAwaitingSwitch
		dbm.Status.Metrics = &dbv1.MigrationMetrics{Duration: &metav1.Duration{Duration: end.Sub(start)}}
		noteUnmeasured(dbm)
		dbm.Status.Progress.CompletedSteps, dbm.Status.Progress.PercentageComplete, dbm.Status.Progress.CurrentStep = dbm.Status.Progress.TotalSteps, 100, ""
		return r.switchToGreen(ctx, dbm, green)
	}
}

// switchToGreen moves applications to green, or waits for the reviewer
// who lets it.
func (r *DatabaseMigrationReconciler) switchToGreen(ctx context.Context, dbm *dbv1.DatabaseMigration, green string) (ctrl.Result, bool, error) {
	plan, bg := dbm.Status.Plan, dbm.Status.BlueGreen
	revision := bg.GreenRevision
	var ref *dbv1.SwitchSecretRef
	if c := dbm.Spec.Migration.BlueGreen; c != nil {
		ref = c.SwitchSecret
	}
	by := "switchSecret " + secretRefName(ref)
	if ref == nil {
		if dbm.Annotations[dbv1.AnnotationSwitchApproved] != plan.Hash {
			message := fmt.Sprintf("green %s has plan %s and passed its validation; switch with the annotation %s=%s",
				green, plan.Hash, dbv1.AnnotationSwitchApproved, plan.Hash)
			if dbm.Status.Phase != dbv1.PhaseAwaitingSwitch {
				r.event(dbm, false, dbv1.ReasonAwaitingSwitch, message)
			}
			setCondition(dbm, dbv1.ConditionApplied, false, dbv1.ReasonAwaitingSwitch, message)
			setPhase(dbm, dbv1.PhaseAwaitingSwitch, dbv1.ReasonAwaitingSwitch, message)
			return ctrl.Result{}, true, nil
		}
		by = dbm.Annotations[dbv1.AnnotationSwitchApprovedBy]
	} else if err := r.rewriteSwitchSecret(ctx, dbm, ref, green); err != nil {
		return ctrl.Result{}, true, err
	}

	now := metav1.NewTime(r.now())
	bg.TrafficSwitched, bg.SwitchedAt, bg.Phase = true, &now, blueGreenSwitched
	dbm.Status.CompletionTime = &now
	dbm.Status.BackupInfo = &dbv1.BackupInfo{Location: "database " + bg.BlueDatabase, CreatedAt: &now}
	dbm.Status.LastApplied = &dbv1.AppliedRevision{
		PlanHash: plan.Hash, AppliedAt: &now, ApprovedBy: approver(dbm), Revision: revision, Scripts: plan.Scripts,
	}
	message := fmt.Sprintf("plan %s applied to green %s as its revision %d; switched by %s; blue %s is kept as it was",
		plan.Hash, green, revision, by, bg.BlueDatabase)
	setCondition(dbm, dbv1.ConditionApplied, true, dbv1.ReasonSwitched, message)
	setPhase(dbm, dbv1.PhaseSucceeded, dbv1.ReasonSwitched, message)
	r.event(dbm, false, dbv1.ReasonSwitched, message)
	metrics.Applies.WithLabelValues(metrics.ResultSuccess).Inc()
	return ctrl.Result{}, false, nil
}

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;patch

// rewriteSwitchSecret points the Secret applications read at green.
func (r *DatabaseMigrationReconciler) rewriteSwitchSecret(ctx context.Context, dbm *dbv1.DatabaseMigration, ref *dbv1.SwitchSecretRef, green string) error {
	key := ref.Key
	if key == "" {
		key = defaultSwitchKey
	}
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: ref.Name}, &s); err != nil {
		return fmt.Errorf("reading the switch Secret %s/%s: %w", dbm.Namespace, ref.Name, err)
	}
	if string(s.Data[key]) == green {
		return nil
	}
	base := s.DeepCopy()
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Data[key] = []byte(green)
	if err := r.Patch(ctx, &s, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("switching Secret %s/%s key %s to green: %w", dbm.Namespace, ref.Name, key, err)
	}
	return nil
}

// copyReporter shows the copy's progress in status.progress.currentStep.
// Until a table's copy ends its total is the server's estimate, which
// done may pass; the table's last report has done equal to it.
func copyReporter(report *reporter, dbm *dbv1.DatabaseMigration) func(string, int64, int64) {
	return func(table string, done, total int64) {
		report.update(done == total, func() {
			step := fmt.Sprintf("copying table %s: %d rows", table, done)
			if done < total {
				step = fmt.Sprintf("copying table %s: %d of about %d rows", table, done, total)
			}
			dbm.Status.Progress.CurrentStep = step
		})
	}
}

func secretRefName(ref *dbv1.SwitchSecretRef) string {
	if ref == nil {
		return ""
	}
	return ref.Name
}

// shortHash is a plan hash's first hex digits, naming its green database.
func shortHash(h string) string {
	return strings.TrimPrefix(h, "sha256:")[:8]
}
