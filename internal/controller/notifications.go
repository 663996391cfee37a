package controller

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/notify"
)

// notificationEvents bounds the requeues waiting for a Notified condition.
const notificationEvents = 100

// NotificationDelivered requeues the migration whose notification outcome
// changed, so its Notified condition shows it. Pass it as the Notifier's
// OnResult; it never blocks (a full queue drops the requeue: the next
// reconcile shows the outcome anyway).
func (r *DatabaseMigrationReconciler) NotificationDelivered(key types.NamespacedName) {
	if r.notifications == nil {
		return
	}
	obj := &dbv1.DatabaseMigration{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	select {
	case r.notifications <- event.GenericEvent{Object: obj}:
	default:
	}
}

// notified owns the Notified condition: the latest delivery of each
// channel spec.notifications names. It never holds the migration back.
func (r *DatabaseMigrationReconciler) notified(dbm *dbv1.DatabaseMigration) {
	if r.Notifier == nil || dbm.Spec.Notifications == nil {
		meta.RemoveStatusCondition(&dbm.Status.Conditions, dbv1.ConditionNotified)
		return
	}
	results := r.Notifier.Delivery(client.ObjectKeyFromObject(dbm))
	if len(results) == 0 {
		return
	}
	var failed, delivered []string
	for _, res := range results {
		if res.Err != "" {
			failed = append(failed, fmt.Sprintf("%s (%s, %d attempt(s)): %s", res.Channel, res.Phase, res.Attempts, res.Err))
		} else {
			delivered = append(delivered, fmt.Sprintf("%s (%s)", res.Channel, res.Phase))
		}
	}
	if len(failed) > 0 {
		setCondition(dbm, dbv1.ConditionNotified, false, dbv1.ReasonDeliveryFailed, "not delivered: "+strings.Join(failed, "; "))
		return
	}
	setCondition(dbm, dbv1.ConditionNotified, true, dbv1.ReasonNotified, "delivered: "+strings.Join(delivered, ", "))
}

// deliveries is what the reconciler reads of a Notifier.
type deliveries interface {
	Delivery(key types.NamespacedName) []notify.Result
}
