package controller

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// The envtest specs of this package read and write migrations through
// these: one copy, not one per file.

// get reads dbm again from the API server, into dbm.
func get(dbm *dbv1.DatabaseMigration) *dbv1.DatabaseMigration {
	GinkgoHelper()
	Expect(k8sClient.Get(context.Background(), client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
	return dbm
}

// phase polls dbm's phase, for Eventually.
func phase(dbm *dbv1.DatabaseMigration) func() dbv1.MigrationPhase {
	return func() dbv1.MigrationPhase { return get(dbm).Status.Phase }
}

// create creates dbm and deletes it when the spec ends.
func create(dbm *dbv1.DatabaseMigration) *dbv1.DatabaseMigration {
	GinkgoHelper()
	Expect(k8sClient.Create(context.Background(), dbm)).To(Succeed())
	DeferCleanup(func() { _ = k8sClient.Delete(context.Background(), dbm) })
	return dbm
}

// approveHash approves hash on dbm as the reviewer rita (the webhook does
// not run here to stamp approved-by).
func approveHash(dbm *dbv1.DatabaseMigration, hash string) {
	GinkgoHelper()
	Eventually(func() error {
		get(dbm)
		patch := client.MergeFrom(dbm.DeepCopy())
		fixture.WithAnnotations(map[string]string{dbv1.AnnotationApprovedPlan: hash, dbv1.AnnotationApprovedBy: "rita"})(dbm)
		return k8sClient.Patch(context.Background(), dbm, patch)
	}).Should(Succeed())
}

// approvePlan waits for dbm's plan and approves it; it returns the plan.
func approvePlan(dbm *dbv1.DatabaseMigration) *dbv1.PlanStatus {
	GinkgoHelper()
	Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
	plan := get(dbm).Status.Plan
	approveHash(dbm, plan.Hash)
	return plan
}
