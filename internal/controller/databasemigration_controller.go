package controller

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/metrics"
)

// DefaultReplanInterval is how often a settled migration is planned again to
// detect drift of the live schema.
const DefaultReplanInterval = 10 * time.Minute

// DatabaseMigrationReconciler drives a DatabaseMigration through plan →
// approval → apply → verify.
type DatabaseMigrationReconciler struct {
	client.Client
	Recorder recorder.EventRecorder
	Migrator Migrator
	// Targets binds migrations to their DatabaseTargets; nil: inline
	// databases only.
	Targets *Targets
	// ReplanInterval is how often a migration is re-planned to detect
	// drift; DefaultReplanInterval when zero.
	ReplanInterval time.Duration
	// Clock tells the time; the real clock when nil.
	Clock clock.PassiveClock
	// Notifier hears about phase changes; none when nil.
	Notifier Notifier
	// AllowAutoApproval lets spec.policy.approval: auto take effect
	// whoever set it; otherwise only when a user allowed to approve did.
	AllowAutoApproval bool
	// MaxConcurrentApplies bounds the applies running at once, apart
	// from the reconcile workers; DefaultMaxConcurrentApplies when zero.
	MaxConcurrentApplies int

	// applies runs approved applies; SetupWithManager starts it.
	applies *applyRunner
	// notifications requeues a migration when its notification outcome
	// changes (see NotificationDelivered).
	notifications chan event.GenericEvent
}

// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasemigrations/finalizers,verbs=update
// +kubebuilder:rbac:groups=database.mohitnagaraj.in,resources=databasetargets;clusterdatabasetargets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one DatabaseMigration as far along its lifecycle as it can
// go now.
func (r *DatabaseMigrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	dbm := &dbv1.DatabaseMigration{}
	if err := r.Get(ctx, req.NamespacedName, dbm); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if dbm.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(dbm, dbv1.Finalizer) {
		if err := r.patchFinalizer(ctx, dbm, controllerutil.AddFinalizer); err != nil {
			return ctrl.Result{}, err
		}
	}

	status := r.newStatusWriter(dbm)
	defer func() {
		r.notified(dbm)
		summarize(dbm)
		if err := status.flush(ctx); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	if !dbm.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, dbm)
	}
	return r.reconcileNormal(ctx, dbm, status)
}

// step is one phase of the lifecycle. It owns one condition; stop says the
// migration cannot go further in this reconcile.
type step func(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter) (res ctrl.Result, stop bool, err error)

func (r *DatabaseMigrationReconciler) reconcileNormal(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter) (ctrl.Result, error) {
	job, record := r.applies.Lookup(dbm.UID)
	if job == nil {
		return r.runSteps(ctx, dbm, status, r.plan, r.awaitApproval, r.apply, r.verify)
	}
	// An apply is in flight or its outcome waits to be recorded: it runs
	// the plan that was approved, and a re-plan now would race it. The
	// apply step watches it.
	res, err := r.runSteps(ctx, dbm, status, r.apply, r.verify)
	if record != nil && err == nil {
		// The reconciles while it ran only watched it: a spec or source
		// that moved meanwhile is planned now, not at the next re-plan.
		if outdated, _ := r.planOutdated(ctx, dbm); outdated && (res.RequeueAfter == 0 || res.RequeueAfter > time.Second) {
			res.RequeueAfter = time.Second
		}
	}
	return res, err
}

func (r *DatabaseMigrationReconciler) runSteps(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter, steps ...step) (ctrl.Result, error) {
	for _, s := range steps {
		res, stop, err := s(ctx, dbm, status)
		if stop || err != nil {
			return res, err
		}
	}
	return ctrl.Result{RequeueAfter: r.replanInterval()}, nil
}

// reconcileDelete lets the object go once no apply of its is in flight and
// its scratch resources are dropped. The target schema is never touched.
// An apply still queued never starts; the outcome of one that ended while
// the object was being deleted is not recorded (the revision table has it).
func (r *DatabaseMigrationReconciler) reconcileDelete(ctx context.Context, dbm *dbv1.DatabaseMigration) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(dbm, dbv1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if running := r.applies.Drop(dbm.UID); running {
		setCondition(dbm, dbv1.ConditionReady, false, dbv1.ReasonDeleting, "waiting for this migration's apply in flight to finish")
		return ctrl.Result{RequeueAfter: lockWait}, nil
	}
	unlock, ok := r.applies.TryLock(dbm.DatabaseKey())
	if !ok {
		setCondition(dbm, dbv1.ConditionReady, false, dbv1.ReasonDeleting, "waiting for the apply in flight on this database to finish")
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	defer unlock()
	if err := r.Migrator.Release(ctx, dbm); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.patchFinalizer(ctx, dbm, controllerutil.RemoveFinalizer); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// patchFinalizer adds or removes the finalizer with a patch of the
// finalizers alone: an update would write back the whole spec as the Go
// types encode it (a user's "40m" would come back "40m0s").
func (r *DatabaseMigrationReconciler) patchFinalizer(ctx context.Context, dbm *dbv1.DatabaseMigration, change func(client.Object, string) bool) error {
	base := dbm.DeepCopy()
	change(dbm, dbv1.Finalizer)
	return r.Patch(ctx, dbm, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// newStatusWriter is a status writer for dbm that tells the Notifier of
// every phase it writes.
func (r *DatabaseMigrationReconciler) newStatusWriter(dbm *dbv1.DatabaseMigration) *statusWriter {
	status := newStatusWriter(r.Client, dbm)
	if r.Notifier != nil {
		status.onPhase = r.Notifier.Notify
	}
	return status
}

func (r *DatabaseMigrationReconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func (r *DatabaseMigrationReconciler) replanInterval() time.Duration {
	if r.ReplanInterval <= 0 {
		return DefaultReplanInterval
	}
	return r.ReplanInterval
}

// event records an event with the same reason as the condition it goes with.
func (r *DatabaseMigrationReconciler) event(dbm *dbv1.DatabaseMigration, warning bool, reason, message string) {
	kind := corev1.EventTypeNormal
	if warning {
		kind = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(dbm, nil, kind, reason, reason, "%s", message)
}

// SetupWithManager registers the reconciler: it watches DatabaseMigrations
// (spec and annotation changes, not its own status writes) and the
// ConfigMaps and Secrets they read. It adds the apply runner to the
// manager; a migration whose apply ended is reconciled again to record it.
func (r *DatabaseMigrationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, maxConcurrent int) error {
	if err := indexFields(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if err := metrics.RegisterPhaseCollector(mgr.GetCache()); err != nil {
		return err
	}
	r.applies = newApplyRunner(r.MaxConcurrentApplies)
	if err := mgr.Add(r.applies); err != nil {
		return err
	}
	r.notifications = make(chan event.GenericEvent, notificationEvents)
	return ctrl.NewControllerManagedBy(mgr).
		For(&dbv1.DatabaseMigration{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, deletionPredicate()))).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.migrationsReferencing(configMapIndex))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.migrationsReferencing(secretIndex))).
		Watches(&dbv1.DatabaseTarget{}, handler.EnqueueRequestsFromMapFunc(r.migrationsOnTarget(dbv1.KindDatabaseTarget)),
			builder.WithPredicates(targetChanged())).
		Watches(&dbv1.ClusterDatabaseTarget{}, handler.EnqueueRequestsFromMapFunc(r.migrationsOnTarget(dbv1.KindClusterDatabaseTarget)),
			builder.WithPredicates(targetChanged())).
		WatchesRawSource(source.Channel(r.notifications, &handler.EnqueueRequestForObject{})).
		WatchesRawSource(source.Channel(r.applies.ended, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrent}).
		Named("databasemigration").
		Complete(r)
}

// targetChanged passes the target updates its migrations care about: a
// new spec, or a Ready condition that changed; not the periodic check
// that found the target as it was.
func targetChanged() predicate.Predicate {
	ready := func(obj client.Object) string {
		var conds []metav1.Condition
		switch t := obj.(type) {
		case *dbv1.DatabaseTarget:
			conds = t.Status.Conditions
		case *dbv1.ClusterDatabaseTarget:
			conds = t.Status.Conditions
		}
		if c := meta.FindStatusCondition(conds, dbv1.ConditionReady); c != nil {
			return string(c.Status) + "/" + c.Reason + "/" + c.Message
		}
		return ""
	}
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() || ready(e.ObjectOld) != ready(e.ObjectNew)
	}}
}

// deletionPredicate passes updates that start a deletion: they change no
// generation when only finalizers hold the object.
func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
}
