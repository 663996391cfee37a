package controller

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// DatabaseMigrationReconciler drives a DatabaseMigration through its
// lifecycle.
type DatabaseMigrationReconciler struct {
	client.Client
	Recorder recorder.EventRecorder
}

// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrations/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one DatabaseMigration one step further.
func (r *DatabaseMigrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	dbm := &dbv1.DatabaseMigration{}
	if err := r.Get(ctx, req.NamespacedName, dbm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if dbm.DeletionTimestamp.IsZero() && controllerutil.AddFinalizer(dbm, dbv1.Finalizer) {
		if err := r.Update(ctx, dbm); err != nil {
			return ctrl.Result{}, err
		}
	}

	before := dbm.Status.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, dbm, before); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	if !dbm.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, dbm)
	}
	return r.reconcileNormal(ctx, dbm)
}

// reconcileNormal runs the lifecycle of a live object. For now it records
// that the migration was accepted and waits: planning comes next.
func (r *DatabaseMigrationReconciler) reconcileNormal(_ context.Context, dbm *dbv1.DatabaseMigration) (ctrl.Result, error) {
	if dbm.Status.Phase == "" {
		dbm.Status.Phase = dbv1.PhasePending
		dbm.Status.Reason = dbv1.ReasonInitializing
		dbm.Status.Message = "accepted; waiting to be planned"
	}
	meta.SetStatusCondition(&dbm.Status.Conditions, metav1.Condition{
		Type:               dbv1.ConditionReady,
		Status:             metav1.ConditionFalse,
		Reason:             dbv1.ReasonInitializing,
		Message:            "the migration has not been planned yet",
		ObservedGeneration: dbm.Generation,
	})
	dbm.Status.ObservedGeneration = dbm.Generation
	return ctrl.Result{}, nil
}

// reconcileDelete releases the object. The target schema is never touched.
func (r *DatabaseMigrationReconciler) reconcileDelete(ctx context.Context, dbm *dbv1.DatabaseMigration) (ctrl.Result, error) {
	if controllerutil.RemoveFinalizer(dbm, dbv1.Finalizer) {
		if err := r.Update(ctx, dbm); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// patchStatus writes the status when, and only when, it changed.
func (r *DatabaseMigrationReconciler) patchStatus(ctx context.Context, dbm *dbv1.DatabaseMigration, before *dbv1.DatabaseMigrationStatus) error {
	if equality.Semantic.DeepEqual(before, &dbm.Status) || !dbm.DeletionTimestamp.IsZero() && len(dbm.Finalizers) == 0 {
		return nil
	}
	base := dbm.DeepCopy()
	base.Status = *before
	return client.IgnoreNotFound(r.Status().Patch(ctx, dbm, client.MergeFrom(base)))
}

// SetupWithManager registers the reconciler with the manager.
func (r *DatabaseMigrationReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrent int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&dbv1.DatabaseMigration{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).
		Named("databasemigration").
		Complete(r)
}
