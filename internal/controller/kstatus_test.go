package controller

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// TestKstatusOfEveryPhase computes, with the library Flux's health checks
// and `kubectl wait`-like tools use, the status of a migration whose
// conditions summarize wrote for each phase. A person's turn (approval,
// blue-green switch) has neither Reconciling nor Stalled, but Ready is
// False, which kstatus reads as InProgress: a Flux health check waits
// through the approval, as it should, until its timeout.
func TestKstatusOfEveryPhase(t *testing.T) {
	for phase, want := range map[dbv1.MigrationPhase]status.Status{
		dbv1.PhaseSucceeded:        status.CurrentStatus,
		dbv1.PhasePending:          status.InProgressStatus,
		dbv1.PhasePlanning:         status.InProgressStatus,
		dbv1.PhaseRunning:          status.InProgressStatus,
		dbv1.PhaseRollingBack:      status.InProgressStatus,
		dbv1.PhaseAwaitingApproval: status.InProgressStatus,
		dbv1.PhaseAwaitingSwitch:   status.InProgressStatus,
		dbv1.PhaseFailed:           status.FailedStatus,
		dbv1.PhaseBlocked:          status.FailedStatus,
	} {
		t.Run(string(phase), func(t *testing.T) {
			g := NewWithT(t)
			dbm := &dbv1.DatabaseMigration{
				TypeMeta:   metav1.TypeMeta{APIVersion: dbv1.GroupVersion.String(), Kind: "DatabaseMigration"},
				ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "demo", Generation: 3},
			}
			setPhase(dbm, phase, "SomeReason", "what a person reads")
			summarize(dbm)
			res, err := status.Compute(toUnstructured(t, dbm))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Status).To(Equal(want), res.Message)

			// A spec the controller has not seen yet is in progress,
			// whatever the phase it last wrote.
			dbm.Generation++
			res, err = status.Compute(toUnstructured(t, dbm))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Status).To(Equal(status.InProgressStatus))
		})
	}
}

func toUnstructured(t *testing.T, dbm *dbv1.DatabaseMigration) *unstructured.Unstructured {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(dbm)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return &unstructured.Unstructured{Object: u}
}
