package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// DefaultTargetCheckInterval is how often a target's connection is
// checked when the reconciler is given no interval.
const DefaultTargetCheckInterval = time.Minute

// targetCheckTimeout bounds one connection check.
const targetCheckTimeout = 10 * time.Second

// TargetReconciler keeps the status of DatabaseTargets and
// ClusterDatabaseTargets: Ready from a periodic connection check with the
// target's credentials (and the server's version), the number of
// migrations on it and the highest revision they applied.
type TargetReconciler struct {
	client.Client
	// Targets says where a ClusterDatabaseTarget's Secrets live.
	Targets *Targets
	// Interval is how often the connection is checked;
	// DefaultTargetCheckInterval when zero.
	Interval time.Duration
}

// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasetargets;clusterdatabasetargets,verbs=get;list;watch
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasetargets/status;clusterdatabasetargets/status,verbs=get;update;patch

// Reconcile checks one target; req.Namespace is empty for a
// ClusterDatabaseTarget.
func (r *TargetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var (
		t      client.Object
		spec   *dbv1.DatabaseTargetSpec
		status *dbv1.DatabaseTargetStatus
	)
	if req.Namespace == "" {
		cdt := &dbv1.ClusterDatabaseTarget{}
		t, spec, status = cdt, &cdt.Spec.DatabaseTargetSpec, &cdt.Status
	} else {
		dt := &dbv1.DatabaseTarget{}
		t, spec, status = dt, &dt.Spec, &dt.Status
	}
	if err := r.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := status.DeepCopy()

	id := dbv1.TargetID{Kind: dbv1.KindDatabaseTarget, Namespace: t.GetNamespace(), Name: t.GetName()}
	if req.Namespace == "" {
		id = dbv1.TargetID{Kind: dbv1.KindClusterDatabaseTarget, Name: t.GetName()}
	}
	if err := r.countMigrations(ctx, id.Key(), status); err != nil {
		return ctrl.Result{}, err
	}
	version, missing, err := r.check(ctx, r.Targets.targetBinding(id, spec))
	if err != nil {
		// The platform team finds the dialer's own words in the log; the
		// condition, which migrations in other namespaces quote, has the
		// class only.
		ctrl.LoggerFrom(ctx).V(1).Info("target check failed", "error", err.Error())
		err = database.SafeConnError(id.String(), err)
	}
	now := metav1.Now()
	status.ObservedGeneration, status.LastChecked = t.GetGeneration(), &now
	cond := metav1.Condition{Type: dbv1.ConditionReady, Status: metav1.ConditionTrue, Reason: dbv1.ReasonTargetReachable, ObservedGeneration: t.GetGeneration()}
	if err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, dbv1.ReasonTargetUnreachable, err.Error()
		var permanent *PermanentError
		if errors.As(err, &permanent) {
			cond.Reason = permanent.Reason
		}
	} else {
		status.ServerVersion, status.MissingPrivileges = version, missing
		cond.Message = fmt.Sprintf("reached %s %s", spec.Type, version)
		if len(missing) > 0 {
			cond.Status, cond.Reason = metav1.ConditionFalse, dbv1.ReasonTargetPrivileges
			cond.Message += "; its user lacks what a migration needs: " + strings.Join(missing, ", ")
		}
	}
	meta.SetStatusCondition(&status.Conditions, cond)
	if !equality.Semantic.DeepEqual(before, status) {
		if err := r.Status().Update(ctx, t); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{RequeueAfter: r.interval()}, nil
}

// check connects with the target's credentials and reads the server's
// version and the privileges a migration needs that its user lacks. The error names the target's Secret or says why the server
// could not be reached; it never quotes the Secret.
func (r *TargetReconciler) check(ctx context.Context, b *binding) (version string, missing []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, targetCheckTimeout)
	defer cancel()
	target, err := r.Targets.open(ctx, b)
	if err != nil {
		return "", nil, err
	}
	db, err := target.Open(ctx)
	if err != nil {
		return "", nil, err
	}
	defer func() { _ = db.Close() }()
	if version, err = target.Engine.ServerVersion(ctx, db); err != nil {
		return "", nil, err
	}
	missing, err = target.Engine.MissingPrivileges(ctx, db, target.Schema())
	return version, missing, err
}

// countMigrations counts the migrations on the target key and the
// highest revision they applied.
func (r *TargetReconciler) countMigrations(ctx context.Context, key string, status *dbv1.DatabaseTargetStatus) error {
	var list dbv1.DatabaseMigrationList
	if err := r.List(ctx, &list, client.MatchingFields{targetIndex: key}); err != nil {
		return err
	}
	status.Migrations = int32(len(list.Items))
	for _, dbm := range list.Items {
		if a := dbm.Status.LastApplied; a != nil && a.Revision > status.LastAppliedRevision {
			status.LastAppliedRevision = a.Revision
		}
	}
	return nil
}

func (r *TargetReconciler) interval() time.Duration {
	if r.Interval <= 0 {
		return DefaultTargetCheckInterval
	}
	return r.Interval
}

// SetupWithManager registers the reconciler for both kinds of target. A
// migration that starts or stops using a target, or records an apply,
// updates the target's counts.
func (r *TargetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toTarget := func(cluster bool) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
			dbm := obj.(*dbv1.DatabaseMigration)
			ref := dbm.Spec.TargetRef
			switch {
			case ref == nil || cluster != (ref.Kind == dbv1.KindClusterDatabaseTarget):
				return nil
			case cluster:
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: ref.Name}}}
			}
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: dbm.Namespace, Name: ref.Name}}}
		})
	}
	if err := ctrl.NewControllerManagedBy(mgr).
		For(&dbv1.DatabaseTarget{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&dbv1.DatabaseMigration{}, toTarget(false)).
		Named("databasetarget").
		Complete(r); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&dbv1.ClusterDatabaseTarget{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&dbv1.DatabaseMigration{}, toTarget(true)).
		Named("clusterdatabasetarget").
		Complete(r)
}
