package v1alpha1

import (
	"context"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("admission of migration sets and their children", func() {
	ctx := context.Background()

	newSet := func(name string) *dbv1.DatabaseMigrationSet {
		return &dbv1.DatabaseMigrationSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
			Spec: dbv1.DatabaseMigrationSetSpec{
				Template: dbv1.MigrationTemplate{Migration: dbv1.MigrationConfig{Scripts: []dbv1.MigrationScript{
					fixture.InlineScript("add-age", "ALTER TABLE users ADD COLUMN age int;"),
				}}},
				TargetSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			},
		}
	}
	// withStatus writes a set's status as the operator would.
	withStatus := func(set *dbv1.DatabaseMigrationSet, status dbv1.DatabaseMigrationSetStatus) {
		GinkgoHelper()
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(set), set)).To(Succeed())
		set.Status = status
		Expect(admin.Status().Update(ctx, set)).To(Succeed())
	}
	annotate := func(c client.Client, obj client.Object, ann map[string]string) error {
		GinkgoHelper()
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		a := obj.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		for k, v := range ann {
			a[k] = v
		}
		obj.SetAnnotations(a)
		return c.Patch(ctx, obj, patch)
	}
	pending := []dbv1.FleetTarget{
		{Target: "DatabaseTarget/t1", Migration: "fleet-t1", PlanHash: "sha256:p1", State: dbv1.FleetUnapproved, Wave: 1},
		{Target: "DatabaseTarget/t2", Migration: "fleet-t2", PlanHash: "sha256:p2", State: dbv1.FleetUnapproved, Wave: 1},
	}
	fleetHash := dbv1.FleetHash(dbv1.FleetPairs(pending))
	// fleetTargets makes the targets of pending, with the connection
	// Secrets their plans were made with: an approval needs them.
	fleetTargets := func() {
		GinkgoHelper()
		for _, name := range []string{"t1", "t2"} {
			target := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}, Spec: dbv1.DatabaseTargetSpec{
				Type: dbv1.DatabaseTypePostgreSQL, Host: name + ".db.internal", Database: name, ConnectionSecret: &dbv1.TargetSecretRef{Name: name}}}
			Expect(admin.Create(ctx, target)).To(Succeed())
			DeferCleanup(admin.Delete, ctx, target)
			conn := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}}
			Expect(admin.Create(ctx, conn)).To(Succeed())
			DeferCleanup(admin.Delete, ctx, conn)
		}
	}

	It("refuses what a set cannot be: automatic approval, blue-green, a bad selector, a name too long for a label", func() {
		set := newSet("bad")
		set.Spec.Template.Policy.Approval = dbv1.ApprovalAuto
		set.Spec.Template.Migration.Strategy = dbv1.MigrationStrategyBlueGreen
		set.Spec.Rollout.Steps = []dbv1.RolloutStep{{Name: "a", Selector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Bogus"}}}}}
		err := dev.Create(ctx, set)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.template.policy.approval"))
		Expect(err.Error()).To(ContainSubstring("spec.template.migration.strategy"))
		Expect(err.Error()).To(ContainSubstring("spec.rollout.steps[0].selector"))

		long := newSet("a-set-whose-name-is-far-too-long-to-be-the-value-of-a-label-on-its-children")
		err = dev.Create(ctx, long)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("labels its children"))
	})

	It("lets only a reviewer other than the author approve the current fleet, and promote the approved one", func() {
		fleetTargets()
		set := newSet("fleet")
		Expect(dev.Create(ctx, set)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, set)
		Expect(set.Annotations[dbv1.AnnotationCreatedBy]).To(Equal("dev"))
		withStatus(set, dbv1.DatabaseMigrationSetStatus{Targets: pending, FleetHash: fleetHash})

		By("the author, a user without the approve verb, and a stale hash are refused")
		err := annotate(dev, set, map[string]string{dbv1.AnnotationApprovedFleet: fleetHash})
		Expect(err).To(MatchError(ContainSubstring(`"dev" created this set`)))
		err = annotate(bob, set, map[string]string{dbv1.AnnotationApprovedFleet: fleetHash})
		Expect(err).To(MatchError(ContainSubstring(`"bob" may not approve fleets`)))
		err = annotate(rita, set, map[string]string{dbv1.AnnotationApprovedFleet: "sha256:stale"})
		Expect(err).To(MatchError(ContainSubstring("does not match the current fleet")))

		By("a reviewer approves the current fleet, stamped with who")
		Expect(annotate(rita, set, map[string]string{dbv1.AnnotationApprovedFleet: fleetHash, dbv1.AnnotationApprovedFleetBy: "someone-else"})).To(Succeed())
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(set), set)).To(Succeed())
		Expect(set.Annotations[dbv1.AnnotationApprovedFleetBy]).To(Equal("rita"))

		By("promotion names the approved fleet")
		err = annotate(rita, set, map[string]string{dbv1.AnnotationPromoted: fleetHash})
		Expect(err).To(MatchError(ContainSubstring("does not name the approved fleet")))
		withStatus(set, dbv1.DatabaseMigrationSetStatus{Targets: pending, Approved: &dbv1.FleetApproval{Hash: fleetHash, By: "rita", Pairs: dbv1.FleetPairs(pending)}})
		Expect(annotate(rita, set, map[string]string{dbv1.AnnotationPromoted: fleetHash})).To(Succeed())
	})

	It("refuses a fleet approval by a writer of a tracked source the template reads", func() {
		fleetTargets()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "fleet-scripts", Labels: tracked},
			Data: map[string]string{"001.sql": "ALTER TABLE users ADD COLUMN age int;"}}
		Expect(dev.Create(ctx, cm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, cm)
		set := newSet("fleet-tracked")
		set.Spec.Template.Migration.Scripts = []dbv1.MigrationScript{{Name: "add-age", Type: dbv1.ScriptTypeSchema, Source: "configmap://fleet-scripts/001.sql"}}
		Expect(dev.Create(ctx, set)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, set)
		withStatus(set, dbv1.DatabaseMigrationSetStatus{Targets: pending, FleetHash: fleetHash})

		patch := client.MergeFrom(cm.DeepCopy())
		cm.Data["001.sql"] = "ALTER TABLE users ADD COLUMN age bigint;"
		Expect(rita.Patch(ctx, cm, patch)).To(Succeed())
		err := annotate(rita, set, map[string]string{dbv1.AnnotationApprovedFleet: fleetHash})
		Expect(err).To(MatchError(ContainSubstring(`"rita" changed ConfigMap ` + testNamespace + `/fleet-scripts, which this plan reads`)))
	})

	It("refuses every approval of a child its set no longer owns", func() {
		// dev, the set's author, may approve migrations too.
		grantForSpec(ctx, "dev-approver", rbacv1.PolicyRule{APIGroups: []string{dbv1.GroupVersion.Group}, Resources: []string{"databasemigrations"}, Verbs: []string{ApproveVerb}}, "dev")

		set := newSet("orphans")
		Expect(dev.Create(ctx, set)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, set)
		t := true
		child := fixture.Migration(testNamespace, "orphans-t1")
		child.Spec.Migration = set.Spec.Template.Migration
		child.Labels = map[string]string{dbv1.LabelSet: set.Name}
		child.OwnerReferences = []metav1.OwnerReference{{APIVersion: dbv1.GroupVersion.String(), Kind: "DatabaseMigrationSet", Name: set.Name, UID: set.UID, Controller: &t}}
		Expect(admin.Create(ctx, child)).To(Succeed(), "the operator makes the child")
		DeferCleanup(admin.Delete, ctx, child)
		hash := "sha256:" + strings.Repeat("0", 64)
		child.Status.Plan = &dbv1.PlanStatus{Hash: hash, Statements: []string{"ALTER TABLE users ADD COLUMN age int"}}
		Expect(admin.Status().Update(ctx, child)).To(Succeed())

		By("dev orphans the child, a change of its metadata only")
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(child), child)).To(Succeed())
		patch := client.MergeFrom(child.DeepCopy())
		child.OwnerReferences = nil
		Expect(dev.Patch(ctx, child, patch)).To(Succeed())

		By("no one approves it as a migration of their own: not dev, whose SQL it is, nor a reviewer")
		for _, c := range []client.Client{dev, rita} {
			err := annotate(c, child, map[string]string{dbv1.AnnotationApprovedPlan: hash})
			Expect(err).To(MatchError(ContainSubstring("kube-shift made this migration for a DatabaseMigrationSet that no longer owns it")))
		}
	})

	It("lets only the operator make, change and approve a set's children, and only for the approved fleet", func() {
		fleetTargets()
		set := newSet("owner")
		Expect(dev.Create(ctx, set)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, set)
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(set), set)).To(Succeed())
		child := func() *dbv1.DatabaseMigration {
			dbm := fixture.Migration(testNamespace, "owner-t1")
			dbm.Spec.Database, dbm.Spec.TargetRef = nil, &dbv1.TargetRef{Name: "t1"}
			dbm.Labels = map[string]string{dbv1.LabelSet: set.Name}
			t := true
			dbm.OwnerReferences = []metav1.OwnerReference{{APIVersion: dbv1.GroupVersion.String(), Kind: "DatabaseMigrationSet", Name: set.Name, UID: set.UID, Controller: &t}}
			return dbm
		}

		By("a user cannot make a child for the set")
		err := dev.Create(ctx, child())
		Expect(err).To(MatchError(ContainSubstring("belongs to DatabaseMigrationSet owner")))

		dbm := child()
		Expect(admin.Create(ctx, dbm)).To(Succeed(), "the operator can")
		DeferCleanup(admin.Delete, ctx, dbm)
		dbm.Status.Plan = &dbv1.PlanStatus{Hash: "sha256:p1", Statements: []string{"ALTER TABLE users ADD COLUMN age int"}}
		Expect(admin.Status().Update(ctx, dbm)).To(Succeed())

		By("a reviewer cannot approve a child: the fleet is approved on the set")
		err = annotate(rita, dbm, map[string]string{dbv1.AnnotationApprovedPlan: "sha256:p1"})
		Expect(err).To(MatchError(ContainSubstring("approve the fleet on the set")))

		By("the operator cannot approve a plan the fleet approval does not hold")
		err = annotate(admin, dbm, map[string]string{dbv1.AnnotationApprovedPlan: "sha256:p1"})
		Expect(err).To(MatchError(ContainSubstring("is not in the fleet a reviewer approved")))

		withStatus(set, dbv1.DatabaseMigrationSetStatus{Targets: pending, FleetHash: fleetHash})
		Expect(annotate(rita, set, map[string]string{dbv1.AnnotationApprovedFleet: fleetHash})).To(Succeed())
		withStatus(set, dbv1.DatabaseMigrationSetStatus{Targets: pending, Approved: &dbv1.FleetApproval{
			Hash: fleetHash, By: "rita", Pairs: []dbv1.FleetPair{{Target: "DatabaseTarget/t1", PlanHash: "sha256:other"}}}})
		err = annotate(admin, dbm, map[string]string{dbv1.AnnotationApprovedPlan: "sha256:p1"})
		Expect(err).To(MatchError(ContainSubstring("is not in the fleet a reviewer approved")), "another plan for the same target")

		By("the approved pair goes through, stamped with the fleet's reviewer")
		withStatus(set, dbv1.DatabaseMigrationSetStatus{Targets: pending, Approved: &dbv1.FleetApproval{Hash: fleetHash, By: "rita", Pairs: dbv1.FleetPairs(pending)}})
		Expect(annotate(admin, dbm, map[string]string{dbv1.AnnotationApprovedPlan: "sha256:p1"})).To(Succeed())
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
		Expect(dbm.Annotations[dbv1.AnnotationApprovedBy]).To(Equal("rita (fleet " + fleetHash + " of DatabaseMigrationSet owner)"))

		By("a user cannot change a child's spec")
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
		patch := client.MergeFrom(dbm.DeepCopy())
		dbm.Spec.Migration.Scripts[0].SQL = "DROP TABLE users;"
		err = dev.Patch(ctx, dbm, patch)
		Expect(err).To(MatchError(ContainSubstring("change the set, not its migrations")))
	})
})

// TestFleetSourcesNameTheTargetsNoOneCanCheck: a target of the fleet that
// is gone, or no longer admits the set's namespace, has Secrets no
// approval can check: the approval is refused for it.
func TestFleetSourcesNameTheTargetsNoOneCanCheck(t *testing.T) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, dbv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	spec := dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypePostgreSQL, Host: "db", Database: "app", ConnectionSecret: &dbv1.TargetSecretRef{Name: "conn"}}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&dbv1.ClusterDatabaseTarget{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"},
			Spec: dbv1.ClusterDatabaseTargetSpec{DatabaseTargetSpec: spec, AllowedNamespaces: dbv1.AllowedNamespaces{Names: []string{"other"}}}},
		&dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "here"}, Spec: spec},
	).Build()
	set := &dbv1.DatabaseMigrationSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}}
	set.Status.Targets = []dbv1.FleetTarget{
		{Target: "ClusterDatabaseTarget/elsewhere", Migration: "s-elsewhere", PlanHash: "sha256:p", State: dbv1.FleetUnapproved},
		{Target: "DatabaseTarget/gone", Migration: "s-gone", PlanHash: "sha256:q", State: dbv1.FleetUnapproved},
		{Target: "DatabaseTarget/here", Migration: "s-here", PlanHash: "sha256:r", State: dbv1.FleetUnapproved},
	}
	objects, gone, err := (&SetValidator{Reader: reader, OperatorNamespace: "ops"}).fleetSources(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ClusterDatabaseTarget/elsewhere", "DatabaseTarget/gone"}; !slices.Equal(gone, want) {
		t.Errorf("targets no one can check = %v, want %v", gone, want)
	}
	if len(objects) != 1 || objects[0].String() != "Secret ns/conn" {
		t.Errorf("objects = %v, want the usable target's connection Secret, ns/conn", objects)
	}
}
