package controller

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// statusWriter patches a migration's status when, and only when, it changed
// since the last write. A long apply writes progress mid-reconcile; the
// deferred flush writes the rest.
type statusWriter struct {
	client  client.Client
	dbm     *dbv1.DatabaseMigration
	written *dbv1.DatabaseMigrationStatus
	// onPhase, when set, hears of every phase written, once: a phase
	// that only lasted mid-reconcile (RollingBack) included.
	onPhase func(ctx context.Context, dbm *dbv1.DatabaseMigration)
}

func newStatusWriter(c client.Client, dbm *dbv1.DatabaseMigration) *statusWriter {
	return &statusWriter{client: c, dbm: dbm, written: dbm.Status.DeepCopy()}
}

// flush writes the status if it changed. An object already gone is fine.
func (w *statusWriter) flush(ctx context.Context) error {
	if equality.Semantic.DeepEqual(w.written, &w.dbm.Status) {
		return nil
	}
	base := w.dbm.DeepCopy()
	base.Status = *w.written
	if err := w.client.Status().Patch(ctx, w.dbm, client.MergeFrom(base)); err != nil {
		return client.IgnoreNotFound(err)
	}
	phaseBefore := w.written.Phase
	w.written = w.dbm.Status.DeepCopy()
	if w.onPhase != nil && w.dbm.Status.Phase != phaseBefore {
		w.onPhase(ctx, w.dbm.DeepCopy())
	}
	return nil
}

// setCondition sets one condition for the object's current generation.
func setCondition(dbm *dbv1.DatabaseMigration, condType string, status bool, reason, message string) {
	setConditionOn(&dbm.Status.Conditions, dbm.Generation, condType, status, reason, message)
}

// setConditionOn sets a condition of an object at generation gen.
func setConditionOn(conds *[]metav1.Condition, gen int64, condType string, status bool, reason, message string) {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: condType, Status: s, Reason: reason, Message: message, ObservedGeneration: gen,
	})
}

// setPhase sets the phase with the reason and message a person reads first.
func setPhase(dbm *dbv1.DatabaseMigration, phase dbv1.MigrationPhase, reason, message string) {
	dbm.Status.Phase, dbm.Status.Reason, dbm.Status.Message = phase, reason, message
}

// summarize derives the kstatus conditions from the phase, so generic tools
// can wait on a migration: Ready once it succeeded, Reconciling while it is
// on its way, Stalled when it needs a person.
func summarize(dbm *dbv1.DatabaseMigration) {
	if !dbm.DeletionTimestamp.IsZero() {
		return
	}
	dbm.Status.ObservedGeneration = dbm.Generation
	phase, reason, message := dbm.Status.Phase, dbm.Status.Reason, dbm.Status.Message
	if reason == "" {
		reason = dbv1.ReasonInitializing
	}
	switch phase {
	case dbv1.PhaseSucceeded:
		setCondition(dbm, dbv1.ConditionReady, true, reason, message)
		meta.RemoveStatusCondition(&dbm.Status.Conditions, dbv1.ConditionReconciling)
		meta.RemoveStatusCondition(&dbm.Status.Conditions, dbv1.ConditionStalled)
	case dbv1.PhaseFailed, dbv1.PhaseBlocked:
		setCondition(dbm, dbv1.ConditionReady, false, reason, message)
		setCondition(dbm, dbv1.ConditionStalled, true, reason, message)
		meta.RemoveStatusCondition(&dbm.Status.Conditions, dbv1.ConditionReconciling)
	case dbv1.PhaseAwaitingApproval, dbv1.PhaseAwaitingSwitch:
		// Waiting for a person is neither progress nor a fault.
		setCondition(dbm, dbv1.ConditionReady, false, reason, message)
		meta.RemoveStatusCondition(&dbm.Status.Conditions, dbv1.ConditionReconciling)
		meta.RemoveStatusCondition(&dbm.Status.Conditions, dbv1.ConditionStalled)
	default:
		setCondition(dbm, dbv1.ConditionReady, false, reason, message)
		setCondition(dbm, dbv1.ConditionReconciling, true, reason, message)
		meta.RemoveStatusCondition(&dbm.Status.Conditions, dbv1.ConditionStalled)
	}
}
