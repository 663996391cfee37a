package controller

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// TestSummarizeSet checks the phase, reason and kstatus conditions a set
// gets for each way its targets can stand.
func TestSummarizeSet(t *testing.T) {
	target := func(name string, s dbv1.FleetTargetState, wave int32) dbv1.FleetTarget {
		return dbv1.FleetTarget{Target: "DatabaseTarget/" + name, State: s, Wave: wave, PlanHash: "sha256:" + name, Message: "apply failed: UNIQUE constraint"}
	}
	cases := []struct {
		name     string
		targets  []dbv1.FleetTarget
		rollout  dbv1.Rollout
		promoted string
		blocked  []string
		// annotations are the set's.
		annotations map[string]string
		phase       dbv1.SetPhase
		reason      string
		condition   string // the kstatus condition that is True, "" for none
		message     string
	}{{
		name: "no target", phase: dbv1.SetStalled, reason: dbv1.ReasonFleetNoTargets, condition: dbv1.ConditionStalled,
		message: "matches no DatabaseTarget",
	}, {
		name:    "a target's migration refused",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetUnapproved, 1)}, blocked: []string{"DatabaseTarget/b: blue-green needs a server"},
		phase: dbv1.SetStalled, reason: dbv1.ReasonFleetChildRefused, condition: dbv1.ConditionStalled, message: "1 targets have no migration: DatabaseTarget/b: blue-green",
	}, {
		name:    "planning",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetPlanning, 1), target("b", dbv1.FleetUnapproved, 1)},
		phase:   dbv1.SetPlanning, reason: dbv1.ReasonFleetPlanning, condition: dbv1.ConditionReconciling, message: "1 of 2 targets planned",
	}, {
		name:    "awaiting approval",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetUnapproved, 1), target("b", dbv1.FleetUnapproved, 1)},
		phase:   dbv1.SetAwaitingApproval, reason: dbv1.ReasonFleetUnapproved, message: "2 targets",
	}, {
		name:        "awaiting approval of a fleet that moved after it was approved",
		targets:     []dbv1.FleetTarget{target("a", dbv1.FleetUnapproved, 1)},
		annotations: map[string]string{dbv1.AnnotationApprovedFleet: "sha256:moved"},
		phase:       dbv1.SetAwaitingApproval, reason: dbv1.ReasonFleetUnapproved, message: "the approved fleet sha256:moved is not this one",
	}, {
		name:    "rolling out, with a target waiting for a new approval",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetRunning, 1), target("b", dbv1.FleetWaiting, 1), target("c", dbv1.FleetUnapproved, 1)},
		phase:   dbv1.SetRollingOut, reason: dbv1.ReasonFleetRollingOut, condition: dbv1.ConditionReconciling, message: "1 wait for a new approval",
	}, {
		name:    "awaiting promotion",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetSucceeded, 0), target("b", dbv1.FleetWaiting, 1)},
		rollout: dbv1.Rollout{Canary: 1, PauseAfterCanary: true},
		phase:   dbv1.SetAwaitingPromotion, reason: dbv1.ReasonAwaitingPromotion, message: "kubectl shift fleet promote fleet",
	}, {
		name:    "promoted",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetSucceeded, 0), target("b", dbv1.FleetWaiting, 1)},
		rollout: dbv1.Rollout{Canary: 1, PauseAfterCanary: true}, promoted: "sha256:fleet",
		phase: dbv1.SetRollingOut, reason: dbv1.ReasonFleetRollingOut, condition: dbv1.ConditionReconciling,
	}, {
		name:    "past the failure budget",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetFailed, 1), target("b", dbv1.FleetFailed, 1), target("c", dbv1.FleetWaiting, 1)},
		rollout: dbv1.Rollout{MaxFailures: 1},
		phase:   dbv1.SetStalled, reason: dbv1.ReasonFailureBudget, condition: dbv1.ConditionStalled, message: "DatabaseTarget/a (apply failed: UNIQUE constraint)",
	}, {
		name:    "done, with failures within the budget",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetFailed, 1), target("b", dbv1.FleetSucceeded, 1)},
		rollout: dbv1.Rollout{MaxFailures: 1},
		phase:   dbv1.SetStalled, reason: dbv1.ReasonFailureBudget, condition: dbv1.ConditionStalled, message: "1 failed",
	}, {
		name:    "succeeded",
		targets: []dbv1.FleetTarget{target("a", dbv1.FleetSucceeded, 0), target("b", dbv1.FleetSucceeded, 1)},
		phase:   dbv1.SetSucceeded, reason: dbv1.ReasonFleetSucceeded, condition: dbv1.ConditionReady, message: "all 2 targets applied",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			set := &dbv1.DatabaseMigrationSet{ObjectMeta: metav1.ObjectMeta{Name: "fleet", Annotations: tc.annotations}, Spec: dbv1.DatabaseMigrationSetSpec{Rollout: tc.rollout}}
			set.Status.Targets, set.Status.Promoted = tc.targets, tc.promoted
			for _, tg := range tc.targets {
				if tg.State == dbv1.FleetWaiting || tg.State == dbv1.FleetRunning {
					set.Status.Wave = tg.Wave
					break
				}
			}
			summarizeSet(set, tc.blocked)
			g.Expect(set.Status.Phase).To(Equal(tc.phase), set.Status.Message)
			g.Expect(set.Status.Message).To(ContainSubstring(tc.message))
			ready := meta.FindStatusCondition(set.Status.Conditions, dbv1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(tc.reason))
			for _, c := range []string{dbv1.ConditionReady, dbv1.ConditionReconciling, dbv1.ConditionStalled} {
				g.Expect(meta.IsStatusConditionTrue(set.Status.Conditions, c)).To(Equal(c == tc.condition), "condition %s", c)
			}
			g.Expect(set.Status.Counts.Total).To(BeEquivalentTo(len(tc.targets)))
		})
	}
}
