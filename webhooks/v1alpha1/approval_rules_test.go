package v1alpha1

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// These play an author who wants its own change applied without another
// person's review, through the approval rules.
var _ = Describe("approval rules belong to the platform", func() {
	ctx := context.Background()
	plan := dbv1.PlanStatus{Hash: "sha256:" + strings.Repeat("d", 64), Statements: []string{"CREATE TABLE t (id int)"}}

	create := func(c client.Client, dbm *dbv1.DatabaseMigration) *dbv1.DatabaseMigration {
		GinkgoHelper()
		Expect(c.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dbm)
		return dbm
	}
	withPlan := func(dbm *dbv1.DatabaseMigration) {
		GinkgoHelper()
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
		dbm.Status.Plan = plan.DeepCopy()
		Expect(admin.Status().Update(ctx, dbm)).To(Succeed())
	}
	patchAs := func(c client.Client, dbm *dbv1.DatabaseMigration, change func(*dbv1.DatabaseMigration)) error {
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
		patch := client.MergeFrom(dbm.DeepCopy())
		change(dbm)
		return c.Patch(ctx, dbm, patch)
	}
	approve := func(dbm *dbv1.DatabaseMigration) {
		fixture.WithAnnotations(map[string]string{dbv1.AnnotationApprovedPlan: plan.Hash})(dbm)
	}
	annotations := func(dbm *dbv1.DatabaseMigration) map[string]string {
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
		return dbm.Annotations
	}

	It("refuses the approval of a reviewer who changed the migration's spec", func() {
		dbm := create(dev, fixture.Migration(testNamespace, "edited-by-reviewer"))
		Expect(patchAs(rita, dbm, func(d *dbv1.DatabaseMigration) {
			d.Spec.Migration.Scripts[0].SQL = "CREATE TABLE widgets (id INTEGER PRIMARY KEY, evil TEXT);"
		})).To(Succeed())
		Expect(annotations(dbm)).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, `["dev","rita"]`))
		withPlan(dbm)
		err := patchAs(rita, dbm, approve)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`"rita" changed this migration's spec and cannot approve its plan`))
	})

	It("keeps modified-by whatever a request writes there", func() {
		dbm := create(dev, fixture.Migration(testNamespace, "forged-modifiers",
			fixture.WithAnnotations(map[string]string{dbv1.AnnotationModifiedBy: `["nobody"]`})))
		Expect(annotations(dbm)).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, `["dev"]`))
		Expect(patchAs(dev, dbm, func(d *dbv1.DatabaseMigration) {
			d.Annotations[dbv1.AnnotationModifiedBy] = `[]`
		})).To(Succeed())
		Expect(annotations(dbm)).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, `["dev"]`))
	})

	It("never lets a reviewer list stand in for the approve verb", func() {
		dbm := create(dev, fixture.Migration(testNamespace, "listed-bob",
			fixture.WithPolicy(dbv1.Policy{Reviewers: []dbv1.Reviewer{{Kind: dbv1.SubjectUser, Name: "bob"}}})))
		withPlan(dbm)
		err := patchAs(bob, dbm, approve)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`"bob" may not approve plans`))

		By("the list narrows RBAC: a reviewer with the verb but not listed is refused too")
		err = patchAs(rita, dbm, approve)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`"rita" is not among spec.policy.reviewers`))
	})

	It("refuses a reviewer entry that names everyone", func() {
		err := dev.Create(ctx, fixture.Migration(testNamespace, "everyone",
			fixture.WithPolicy(dbv1.Policy{Reviewers: []dbv1.Reviewer{{Kind: dbv1.SubjectGroup, Name: "system:authenticated"}}})))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`spec.policy.reviewers[0].name: Forbidden: "system:authenticated" names every user or workload`))
	})

	It("grants approval: auto only when a user allowed to approve sets it", func() {
		auto := dbv1.Policy{Approval: dbv1.ApprovalAuto}
		byAuthor := create(dev, fixture.Migration(testNamespace, "auto-by-author", fixture.WithPolicy(auto),
			fixture.WithAnnotations(map[string]string{dbv1.AnnotationPolicyGrantedBy: "rita", dbv1.AnnotationPolicyGranted: "sha256:forged"})))
		Expect(annotations(byAuthor)).NotTo(HaveKey(dbv1.AnnotationPolicyGrantedBy), "a request cannot write the grant")
		Expect(annotations(byAuthor)).NotTo(HaveKey(dbv1.AnnotationPolicyGranted))

		byReviewer := create(dev, fixture.Migration(testNamespace, "auto-by-reviewer"))
		Expect(patchAs(rita, byReviewer, func(d *dbv1.DatabaseMigration) { d.Spec.Policy.Approval = dbv1.ApprovalAuto })).To(Succeed())
		Expect(annotations(byReviewer)).To(HaveKeyWithValue(dbv1.AnnotationPolicyGrantedBy, "rita"))
		Expect(annotations(byReviewer)).To(HaveKeyWithValue(dbv1.AnnotationPolicyGranted, dbv1.PolicyDigest(byReviewer.Spec.Policy)))

		By("the author's other edits keep the grant; a change of the policy voids it")
		Expect(patchAs(dev, byReviewer, func(d *dbv1.DatabaseMigration) { d.Spec.Migration.BatchSize = 50 })).To(Succeed())
		Expect(annotations(byReviewer)).To(HaveKeyWithValue(dbv1.AnnotationPolicyGrantedBy, "rita"))
		Expect(patchAs(dev, byReviewer, func(d *dbv1.DatabaseMigration) { d.Spec.Policy.Destructive = dbv1.DestructiveAllowWithApproval })).To(Succeed())
		Expect(annotations(byReviewer)).NotTo(HaveKey(dbv1.AnnotationPolicyGrantedBy))
	})

	It("grants approval: auto only from a reviewer who is none of the migration's authors, and voids it when the grantor writes the spec", func() {
		setAuto := func(d *dbv1.DatabaseMigration) { d.Spec.Policy.Approval = dbv1.ApprovalAuto }

		By("a reviewer who wrote the spec before is one of its authors")
		written := create(dev, fixture.Migration(testNamespace, "auto-by-a-writer"))
		Expect(patchAs(rita, written, func(d *dbv1.DatabaseMigration) { d.Spec.Migration.BatchSize = 50 })).To(Succeed())
		Expect(patchAs(rita, written, setAuto)).To(Succeed())
		Expect(annotations(written)).NotTo(HaveKey(dbv1.AnnotationPolicyGrantedBy))

		By("so is one whose request changes more than the policy")
		both := create(dev, fixture.Migration(testNamespace, "auto-with-a-change"))
		Expect(patchAs(rita, both, func(d *dbv1.DatabaseMigration) { setAuto(d); d.Spec.Migration.BatchSize = 50 })).To(Succeed())
		Expect(annotations(both)).NotTo(HaveKey(dbv1.AnnotationPolicyGrantedBy))

		By("the grantor's own later change of the spec would run unreviewed: it voids the grant")
		granted := create(dev, fixture.Migration(testNamespace, "auto-then-written"))
		Expect(patchAs(rita, granted, setAuto)).To(Succeed())
		Expect(annotations(granted)).To(HaveKeyWithValue(dbv1.AnnotationPolicyGrantedBy, "rita"))
		Expect(patchAs(rita, granted, func(d *dbv1.DatabaseMigration) { d.Spec.Migration.BatchSize = 60 })).To(Succeed())
		Expect(annotations(granted)).NotTo(HaveKey(dbv1.AnnotationPolicyGrantedBy))
		Expect(annotations(granted)).NotTo(HaveKey(dbv1.AnnotationPolicyGranted))
	})
})
