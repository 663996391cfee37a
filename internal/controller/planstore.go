package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// statusPlanBudget bounds the bytes of statements kept in status: an object
// must stay well under etcd's request limit and readable with kubectl. A
// plan past it is cut in status and kept whole in a ConfigMap the
// migration owns.
const statusPlanBudget = 64 << 10

// planConfigMapName names the ConfigMap holding a migration's full plan.
func planConfigMapName(dbm *dbv1.DatabaseMigration) string {
	return dbm.Name + "-plan"
}

// storePlan writes plan into status, spilling a large one to a ConfigMap.
func (r *DatabaseMigrationReconciler) storePlan(ctx context.Context, dbm *dbv1.DatabaseMigration, plan *Plan, at metav1.Time) error {
	statements, truncated := fitStatements(plan.Statements, statusPlanBudget)
	rollback, rollbackTruncated := fitStatements(plan.Rollback, statusPlanBudget/2)
	status := &dbv1.PlanStatus{
		Hash:        plan.Hash,
		Statements:  statements,
		Changes:     plan.Changes,
		Scripts:     plan.Scripts,
		Diagnostics: plan.Diagnostics,
		Destructive: plan.Destructive,
		ComputedAt:  &at,
		Truncated:   truncated || rollbackTruncated,
	}
	if status.Truncated {
		status.ConfigMapName = planConfigMapName(dbm)
		if err := r.writePlanConfigMap(ctx, dbm, plan); err != nil {
			return fmt.Errorf("storing the full plan in ConfigMap %s: %w", status.ConfigMapName, err)
		}
	}
	dbm.Status.Plan = status
	dbm.Status.RollbackPlan = &dbv1.RollbackPlan{Statements: rollback, Truncated: rollbackTruncated}
	return nil
}

// fitStatements keeps whole statements while they fit in budget bytes.
func fitStatements(stmts []string, budget int) ([]string, bool) {
	size := 0
	for i, s := range stmts {
		size += len(s)
		if size > budget {
			return stmts[:i], true
		}
	}
	return stmts, false
}

func (r *DatabaseMigrationReconciler) writePlanConfigMap(ctx context.Context, dbm *dbv1.DatabaseMigration, plan *Plan) error {
	full, err := json.MarshalIndent(struct {
		Hash       string   `json:"hash"`
		Statements []string `json:"statements"`
		Rollback   []string `json:"rollback"`
	}{plan.Hash, plan.Statements, plan.Rollback}, "", "  ")
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: dbm.Namespace, Name: planConfigMapName(dbm)}}
	_, err = controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		cm.Data = map[string]string{
			"plan.json": string(full),
			"plan.sql":  strings.Join(plan.Statements, ";\n\n") + ";\n",
		}
		return controllerutil.SetControllerReference(dbm, cm, r.Scheme())
	})
	return err
}
