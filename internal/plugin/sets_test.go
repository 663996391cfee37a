package plugin_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("kubectl shift fleet", func() {
	// fleetSet makes a set as dev, with the status the operator would
	// write: two plans over three targets waiting for review.
	fleetSet := func(ctx context.Context, name string) *dbv1.DatabaseMigrationSet {
		GinkgoHelper()
		set := &dbv1.DatabaseMigrationSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
			Spec: dbv1.DatabaseMigrationSetSpec{
				Template: dbv1.MigrationTemplate{Migration: dbv1.MigrationConfig{Scripts: []dbv1.MigrationScript{
					fixture.InlineScript("add-age", "ALTER TABLE users ADD COLUMN age int;")}}},
				Rollout: dbv1.Rollout{Canary: 1, PauseAfterCanary: true, Steps: []dbv1.RolloutStep{{Name: "internal"}}},
			},
		}
		Expect(userClient("dev").Create(ctx, set)).To(Succeed())
		DeferCleanup(func() { _ = admin.Delete(context.Background(), set) })
		// Its targets, which a fleet approval reads.
		for _, name := range []string{"t0", "t1", "t2"} {
			target := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
				Spec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypePostgreSQL, Host: name + ".db.internal", Database: name}}
			Expect(client.IgnoreAlreadyExists(admin.Create(ctx, target))).To(Succeed())
		}
		set.Status = dbv1.DatabaseMigrationSetStatus{
			Phase: dbv1.SetAwaitingApproval,
			Plans: []dbv1.FleetPlan{
				{Digest: "sha256:a", Statements: []string{"ALTER TABLE users ADD COLUMN age int"}, Targets: 2, Examples: []string{"DatabaseTarget/t0", "DatabaseTarget/t1"}},
				{Digest: "sha256:b", Statements: []string{"ALTER TABLE users ADD COLUMN email text", "ALTER TABLE users ADD COLUMN age int"},
					Validations: []dbv1.PlannedValidation{{Name: "ages-set", SQL: "SELECT count(*) = 0\nFROM users WHERE age IS NULL;"}},
					Targets:     1, Examples: []string{"DatabaseTarget/t2"}},
			},
			Targets: []dbv1.FleetTarget{
				{Target: "DatabaseTarget/t0", Migration: name + "-t0", PlanHash: "sha256:p0", State: dbv1.FleetUnapproved, Wave: 0},
				{Target: "DatabaseTarget/t1", Migration: name + "-t1", PlanHash: "sha256:p1", State: dbv1.FleetUnapproved, Wave: 1},
				{Target: "DatabaseTarget/t2", Migration: name + "-t2", PlanHash: "sha256:p2", State: dbv1.FleetUnapproved, Wave: 2},
			},
			Counts: dbv1.FleetCounts{Total: 3, Unapproved: 3},
			Waves:  3,
		}
		set.Status.FleetHash = dbv1.FleetHash(dbv1.FleetPairs(set.Status.Targets))
		Expect(admin.Status().Update(ctx, set)).To(Succeed())
		return set
	}
	readSet := func(ctx context.Context, name string) *dbv1.DatabaseMigrationSet {
		GinkgoHelper()
		set := &dbv1.DatabaseMigrationSet{}
		Expect(admin.Get(ctx, client.ObjectKey{Namespace: testNamespace, Name: name}, set)).To(Succeed())
		return set
	}

	It("shows the plan groups and a progress bar per wave", func(ctx SpecContext) {
		set := fleetSet(ctx, "fleet-status")
		set.Status.Targets[0].State = dbv1.FleetSucceeded
		set.Status.Targets[1].State = dbv1.FleetRunning
		set.Status.Targets[2].State, set.Status.Targets[2].Message = dbv1.FleetFailed, "UNIQUE constraint failed"
		set.Status.Wave = 1
		Expect(admin.Status().Update(ctx, set)).To(Succeed())

		out, err := shift(ctx, "dev", nil, "fleet", "status", "fleet-status")
		Expect(err).NotTo(HaveOccurred())
		plain, err := shift(ctx, "dev", nil, "status", "fleet-status")
		Expect(err).NotTo(HaveOccurred())
		Expect(plain).To(Equal(out), "kubectl shift status SET shows the set when no migration has its name")
		Expect(out).To(ContainSubstring("Plans (2 distinct):"))
		Expect(out).To(ContainSubstring("[1] 2 targets, 1 statements: DatabaseTarget/t0, DatabaseTarget/t1"))
		Expect(out).To(MatchRegexp(`canary\s+\[#{30}\] 1/1, 0 running`))
		Expect(out).To(MatchRegexp(`wave 1 \(internal\)\s+\[>{30}\] 0/1, 1 running  <- now`))
		Expect(out).To(ContainSubstring("DatabaseTarget/t2 (fleet-status-t2): UNIQUE constraint failed"))
	})

	It("approves exactly the fleet it showed, then promotes it and retries", func(ctx SpecContext) {
		set := fleetSet(ctx, "fleet-approve")
		_, err := shift(ctx, "dev", nil, "fleet", "approve", "fleet-approve", "--yes")
		Expect(err).To(MatchError(ContainSubstring(`"dev" created this set`)), "the author cannot approve it")

		out, err := shift(ctx, "rita", nil, "fleet", "approve", "fleet-approve", "--yes")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("Plan [2] on 1 targets (DatabaseTarget/t2)"))
		Expect(out).To(ContainSubstring("    2  ALTER TABLE users ADD COLUMN age int\n"+
			"Validation scripts (run after the statements, read-only; each must return true or the apply fails):\n"+
			"  ages-set:\n       SELECT count(*) = 0\n       FROM users WHERE age IS NULL;\n"), "the fleet's reviewer reads the validation scripts too")
		Expect(out).To(HaveSuffix("approved fleet " + set.Status.FleetHash + " of " + testNamespace + "/fleet-approve\n"))
		got := readSet(ctx, "fleet-approve")
		Expect(got.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedFleet, set.Status.FleetHash))
		Expect(got.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedFleetBy, "rita"))

		By("promote names the approved fleet")
		got.Status.Approved = &dbv1.FleetApproval{Hash: set.Status.FleetHash, By: "rita", Pairs: dbv1.FleetPairs(got.Status.Targets)}
		Expect(admin.Status().Update(ctx, got)).To(Succeed())
		out, err = shift(ctx, "rita", nil, "promote", "fleet-approve", "--yes")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(HaveSuffix("promoted fleet " + set.Status.FleetHash + " of " + testNamespace + "/fleet-approve\n"))
		Expect(readSet(ctx, "fleet-approve").Annotations).To(HaveKeyWithValue(dbv1.AnnotationPromotedBy, "rita"))

		_, err = shift(ctx, "dev", nil, "retry", "fleet-approve")
		Expect(err).NotTo(HaveOccurred())
		Expect(readSet(ctx, "fleet-approve").Annotations).To(HaveKey(dbv1.AnnotationRetry))
	})

	It("refuses a set with nothing to approve", func(ctx SpecContext) {
		set := fleetSet(ctx, "fleet-none")
		set.Status.FleetHash = ""
		set.Status.Message = "3 of 5 targets planned"
		Expect(admin.Status().Update(ctx, set)).To(Succeed())
		_, err := shift(ctx, "rita", nil, "fleet", "approve", "fleet-none", "--yes")
		Expect(err).To(MatchError(ContainSubstring("has no fleet to approve")))
		Expect(readSet(ctx, "fleet-none").Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedFleet))
	})
})
