package controller

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/plandoc"
)

// statusPlanBudget bounds the bytes of statements kept in status: an object
// must stay well under etcd's request limit and readable with kubectl. A
// plan past it is cut in status and kept whole in a ConfigMap the
// migration owns.
const statusPlanBudget = 64 << 10

// planConfigMapSuffix makes a migration's name the name of the ConfigMap
// holding its full plan.
const planConfigMapSuffix = "-plan"

// planConfigMapName names the ConfigMap holding a migration's full plan.
func planConfigMapName(dbm *dbv1.DatabaseMigration) string {
	return dbm.Name + planConfigMapSuffix
}

// storePlan writes plan into status, spilling a large one to a ConfigMap.
// Status records the digest of what the ConfigMap holds: the ConfigMap
// can be edited by anyone who writes ConfigMaps in the namespace, status
// only by the controller.
func (r *DatabaseMigrationReconciler) storePlan(ctx context.Context, dbm *dbv1.DatabaseMigration, plan *Plan, at metav1.Time) error {
	statements, truncated := fitStatements(plan.Statements, statusPlanBudget)
	validations, validationsCut := fit(plan.Validations, statusPlanBudget-sizeOf(statements, stmtSize), validationSize)
	rollback, rollbackTruncated := fitStatements(plan.Rollback, statusPlanBudget/2)
	status := &dbv1.PlanStatus{
		Hash:         plan.Hash,
		DatabaseType: plan.DatabaseType,
		Database:     plan.Database,
		Statements:   statements,
		Changes:      plan.Changes,
		Scripts:      plan.Scripts,
		Diagnostics:  plan.Diagnostics,
		Validations:  validations,
		Destructive:  plan.Destructive,
		ComputedAt:   &at,
		Truncated:    truncated || validationsCut || rollbackTruncated,
	}
	if status.Truncated {
		status.ConfigMapName = planConfigMapName(dbm)
		digest, err := r.writePlanConfigMap(ctx, dbm, plan)
		if err != nil {
			return err
		}
		status.ConfigMapDigest = digest
	}
	dbm.Status.Plan = status
	dbm.Status.RollbackPlan = &dbv1.RollbackPlan{Statements: rollback, Truncated: rollbackTruncated}
	return nil
}

// fitStatements keeps whole statements while they fit in budget bytes.
func fitStatements(stmts []string, budget int) ([]string, bool) {
	return fit(stmts, budget, stmtSize)
}

// fit keeps whole items, each of size bytes, while they fit in budget.
func fit[T any](items []T, budget int, size func(T) int) ([]T, bool) {
	total := 0
	for i, item := range items {
		total += size(item)
		if total > budget {
			return items[:i], true
		}
	}
	return items, false
}

// sizeOf is the bytes of items, each of size bytes.
func sizeOf[T any](items []T, size func(T) int) int {
	n := 0
	for _, item := range items {
		n += size(item)
	}
	return n
}

func stmtSize(s string) int                       { return len(s) }
func validationSize(v dbv1.PlannedValidation) int { return len(v.Name) + len(v.SQL) }

// writePlanConfigMap keeps the whole plan in the migration's plan
// ConfigMap and returns the digest of its plan.json. It writes only a
// ConfigMap the migration controls: one of that name made by someone
// else is neither adopted nor overwritten (its owner may read it, or may
// count on readers trusting it), and the plan fails until it is renamed
// or deleted.
func (r *DatabaseMigrationReconciler) writePlanConfigMap(ctx context.Context, dbm *dbv1.DatabaseMigration, plan *Plan) (string, error) {
	name := planConfigMapName(dbm)
	data, digest, err := plandoc.Encode(plandoc.Document{Hash: plan.Hash, Statements: plan.Statements, Rollback: plan.Rollback, Validations: plan.Validations})
	if err != nil {
		return "", err
	}
	cm := &corev1.ConfigMap{}
	switch err := r.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: name}, cm); {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: dbm.Namespace, Name: name}, Data: data}
		if err := controllerutil.SetControllerReference(dbm, cm, r.Scheme()); err != nil {
			return "", err
		}
		// Created meanwhile by someone else (the cache had not seen it):
		// AlreadyExists is retried, and the next Get tells whose it is.
		if err := r.Create(ctx, cm); err != nil {
			return "", fmt.Errorf("creating ConfigMap %s for the full plan: %w", name, err)
		}
	case err != nil:
		return "", fmt.Errorf("reading ConfigMap %s for the full plan: %w", name, err)
	case !controlledBy(cm, dbm):
		return "", Permanent(dbv1.ReasonPlanConfigMapConflict, fmt.Errorf(
			"the plan is too large for status and goes to ConfigMap %s, but ConfigMap %s exists and is not owned by this migration: rename or delete it", name, name))
	case maps.Equal(cm.Data, data) && len(cm.BinaryData) == 0:
	default:
		// Ours, holding an older plan or edited since: written back whole.
		// The update carries the resourceVersion read, so a concurrent
		// edit is a conflict, retried.
		cm.Data, cm.BinaryData = data, nil
		if err := r.Update(ctx, cm); err != nil {
			return "", fmt.Errorf("writing the full plan to ConfigMap %s: %w", name, err)
		}
	}
	return digest, nil
}

// controlledBy says whether obj's controller is dbm itself (not an
// earlier object of the same name).
func controlledBy(obj metav1.Object, dbm *dbv1.DatabaseMigration) bool {
	owner := metav1.GetControllerOf(obj)
	return owner != nil && owner.UID == dbm.UID
}
