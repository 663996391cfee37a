package plugin_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

const (
	planHash  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	otherHash = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// reviewedPlan is a two-statement plan with a finding on the second
// statement, as the planner would write it.
func reviewedPlan() *dbv1.PlanStatus {
	return &dbv1.PlanStatus{
		Hash: planHash,
		Statements: []string{
			"CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
			"ALTER TABLE widgets ADD COLUMN price INTEGER NOT NULL DEFAULT 0;",
		},
		Changes: []string{"create table widgets", "add column widgets.price", "modify column widgets.name"},
		Diagnostics: []dbv1.Diagnostic{
			{Code: "MF103", Severity: dbv1.SeverityWarning, Text: "adding a non-nullable column may fail on existing rows", Statement: ptr.To[int32](1)},
			{Code: "KS001", Severity: dbv1.SeverityInfo, Text: "plan computed on an in-memory dev database"},
		},
		ComputedAt: ptr.To(metav1.Now()),
	}
}

var reviewedRollback = &dbv1.RollbackPlan{Statements: []string{
	"ALTER TABLE widgets DROP COLUMN price;",
	"DROP TABLE widgets;",
}}

// readDBM reads a migration back with the admin client.
func readDBM(ctx context.Context, name string) *dbv1.DatabaseMigration {
	dbm := &dbv1.DatabaseMigration{}
	Expect(admin.Get(ctx, client.ObjectKey{Namespace: testNamespace, Name: name}, dbm)).To(Succeed())
	return dbm
}

// setStatus writes status as the operator would (no reconciler runs in
// this suite).
func setStatus(ctx context.Context, name string, mutate func(*dbv1.DatabaseMigrationStatus)) {
	dbm := readDBM(ctx, name)
	mutate(&dbm.Status)
	Expect(admin.Status().Update(ctx, dbm)).To(Succeed())
}

// created creates a migration as dev, the way a developer's
// `kubectl apply` would, through the webhooks.
func created(ctx context.Context, name string, opts ...fixture.Option) *dbv1.DatabaseMigration {
	dbm := fixture.Migration(testNamespace, name, opts...)
	Expect(userClient("dev").Create(ctx, dbm)).To(Succeed())
	DeferCleanup(func(ctx context.Context) {
		Expect(client.IgnoreNotFound(admin.Delete(ctx, dbm))).To(Succeed())
	})
	Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationCreatedBy, "dev"), "the mutating webhook is not serving")
	return dbm
}

// planned creates a migration as dev and writes the reviewed plan, its
// rollback and conditions into its status.
func planned(ctx context.Context, name string, opts ...fixture.Option) *dbv1.DatabaseMigration {
	created(ctx, name, opts...)
	setStatus(ctx, name, func(s *dbv1.DatabaseMigrationStatus) {
		s.Phase = dbv1.PhaseAwaitingApproval
		s.Message = "plan ready: waiting for a reviewer"
		s.Plan = reviewedPlan()
		s.RollbackPlan = reviewedRollback.DeepCopy()
		meta.SetStatusCondition(&s.Conditions, metav1.Condition{
			Type: dbv1.ConditionPlanned, Status: metav1.ConditionTrue, Reason: dbv1.ReasonPlanReady, Message: "2 statements",
		})
		meta.SetStatusCondition(&s.Conditions, metav1.Condition{
			Type: dbv1.ConditionApproved, Status: metav1.ConditionFalse, Reason: dbv1.ReasonAwaitingApproval, Message: "no approval yet",
		})
	})
	return readDBM(ctx, name)
}

// stdinThat runs before() the first time the command reads stdin, that is
// at the confirmation prompt, and then answers answer.
type stdinThat struct {
	once   sync.Once
	before func()
	answer io.Reader
	read   bool
}

func (s *stdinThat) Read(p []byte) (int, error) {
	s.once.Do(func() {
		s.read = true
		s.before()
	})
	return s.answer.Read(p)
}

var _ = Describe("kubectl shift", func() {
	Describe("status", func() {
		It("shows phase, conditions, numbered statements with findings under theirs, and the rollback plan", func(ctx SpecContext) {
			planned(ctx, "status-text")

			out, err := shift(ctx, "rita", nil, "status", "status-text")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("Name:      " + testNamespace + "/status-text\n"))
			Expect(out).To(ContainSubstring("Phase:     AwaitingApproval\n"))
			Expect(out).To(ContainSubstring("Message:   plan ready: waiting for a reviewer\n"))
			Expect(out).To(ContainSubstring("Created by: dev\n"))
			Expect(out).To(MatchRegexp(`(?m)^Conditions:\n\s+TYPE\s+STATUS\s+REASON\s+MESSAGE\n\s+Planned\s+True\s+PlanReady\s+2 statements\n\s+Approved\s+False\s+AwaitingApproval\s+no approval yet$`))
			Expect(out).To(ContainSubstring("Plan " + planHash))
			// The finding sits right under statement 2, not under statement 1.
			Expect(out).To(ContainSubstring(
				"Statements:\n" +
					"    1  CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n" +
					"    2  ALTER TABLE widgets ADD COLUMN price INTEGER NOT NULL DEFAULT 0;\n" +
					"       [warning] MF103: adding a non-nullable column may fail on existing rows\n"))
			Expect(out).To(ContainSubstring("  [info] KS001: plan computed on an in-memory dev database\n"))
			Expect(out).To(ContainSubstring(
				"Rollback plan:\n" +
					"    1  ALTER TABLE widgets DROP COLUMN price;\n" +
					"    2  DROP TABLE widgets;\n"))
			Expect(out).NotTo(ContainSubstring("Approved:"))
		})

		It("shows who approved which plan", func(ctx SpecContext) {
			planned(ctx, "status-approved")
			_, err := shift(ctx, "rita", nil, "approve", "status-approved", "--yes")
			Expect(err).NotTo(HaveOccurred())

			out, err := shift(ctx, "dev", nil, "status", "status-approved")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("Approved:  " + planHash + " by rita\n"))
		})

		It("prints the object as json and yaml that parse back to it", func(ctx SpecContext) {
			planned(ctx, "status-formats")
			want := readDBM(ctx, "status-formats")

			for format, unmarshal := range map[string]func([]byte, any) error{
				"json": json.Unmarshal,
				"yaml": func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) },
			} {
				out, err := shift(ctx, "rita", nil, "status", "status-formats", "-o", format)
				Expect(err).NotTo(HaveOccurred())
				got := &dbv1.DatabaseMigration{}
				Expect(unmarshal([]byte(out), got)).To(Succeed(), format)
				Expect(got.Name).To(Equal(want.Name), format)
				Expect(got.UID).To(Equal(want.UID), format)
				Expect(got.ResourceVersion).To(Equal(want.ResourceVersion), format)
				Expect(got.Annotations).To(Equal(want.Annotations), format)
				Expect(got.Spec).To(Equal(want.Spec), format)
				Expect(got.Status).To(Equal(want.Status), format)
				Expect(got.Status.Plan.Statements).To(HaveLen(2), format)
			}

			_, err := shift(ctx, "rita", nil, "status", "status-formats", "-o", "wide")
			Expect(err).To(MatchError(ContainSubstring(`unknown output format "wide"`)))
		})

		It("writes the authors' control characters as text: none reaches the reviewer's terminal", func(ctx SpecContext) {
			planned(ctx, "status-controls")
			// Erase the line being printed and the one above, then a
			// terminal title; a message that rings and recolours.
			hidden := "UPDATE widgets SET price = 0 /*\r\x1b[2K\x1b[1A\x1b[2K\x1b]0;t\x07*/;"
			setStatus(ctx, "status-controls", func(s *dbv1.DatabaseMigrationStatus) {
				s.Plan.Statements[1] = hidden
				s.Message = "plan ready\x07\x1b[8m"
			})
			for _, verb := range [][]string{
				{"status", "status-controls"},
				{"approve", "status-controls", "--yes"},
			} {
				out, err := shift(ctx, "rita", nil, verb...)
				Expect(err).NotTo(HaveOccurred())
				Expect(out).NotTo(ContainSubstring("\x1b"), verb[0])
				Expect(out).NotTo(ContainSubstring("\r"), verb[0])
				Expect(out).NotTo(ContainSubstring("\x07"), verb[0])
				Expect(out).To(ContainSubstring(`UPDATE widgets SET price = 0 /*\x0d\x1b[2K\x1b[1A\x1b[2K\x1b]0;t\x07*/;`), verb[0])
			}
			Expect(readDBM(ctx, "status-controls").Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, planHash))
			Expect(readDBM(ctx, "status-controls").Status.Plan.Statements[1]).To(Equal(hidden), "what is stored is not changed")
		})

		It("fails for a migration that does not exist", func(ctx SpecContext) {
			_, err := shift(ctx, "rita", nil, "status", "no-such-migration")
			Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)
		})
	})

	Describe("approve", func() {
		It("with --yes sets approved-plan to the plan's hash, stamped with the reviewer", func(ctx SpecContext) {
			planned(ctx, "approve-yes")

			out, err := shift(ctx, "rita", nil, "approve", "approve-yes", "--yes")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("Plan " + planHash))
			Expect(out).To(ContainSubstring("    2  ALTER TABLE widgets ADD COLUMN price"))
			Expect(out).To(HaveSuffix("approved plan " + planHash + " of " + testNamespace + "/approve-yes\n"))
			Expect(out).NotTo(ContainSubstring("[y/N]"))

			dbm := readDBM(ctx, "approve-yes")
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, planHash))
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedBy, "rita"))
		})

		It("withdraws an earlier rejection", func(ctx SpecContext) {
			planned(ctx, "approve-after-reject")
			_, err := shift(ctx, "rita", nil, "reject", "approve-after-reject", "--reason", "needs a default")
			Expect(err).NotTo(HaveOccurred())
			Expect(readDBM(ctx, "approve-after-reject").Annotations).To(HaveKey(dbv1.AnnotationRejected))

			_, err = shift(ctx, "rita", nil, "approve", "approve-after-reject", "--yes")
			Expect(err).NotTo(HaveOccurred())
			dbm := readDBM(ctx, "approve-after-reject")
			Expect(dbm.Annotations).NotTo(HaveKey(dbv1.AnnotationRejected))
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, planHash))
		})

		It("approves when the reviewer answers y at the prompt", func(ctx SpecContext) {
			planned(ctx, "approve-prompt-y")

			out, err := shift(ctx, "rita", strings.NewReader("y\n"), "approve", "approve-prompt-y")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("Approve plan " + planHash + " for " + testNamespace + "/approve-prompt-y? [y/N] "))
			Expect(out).To(ContainSubstring("approved plan " + planHash))
			Expect(readDBM(ctx, "approve-prompt-y").Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, planHash))
		})

		It("does not approve when the reviewer answers n, or nothing", func(ctx SpecContext) {
			planned(ctx, "approve-prompt-n")

			for _, answer := range []string{"n\n", "\n", ""} {
				out, err := shift(ctx, "rita", strings.NewReader(answer), "approve", "approve-prompt-n")
				Expect(err).To(MatchError(ContainSubstring("not approved")), "answer %q", answer)
				Expect(out).To(ContainSubstring("[y/N] "), "answer %q", answer)
				Expect(out).NotTo(ContainSubstring("approved plan"), "answer %q", answer)
				Expect(readDBM(ctx, "approve-prompt-n").Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan), "answer %q", answer)
			}
		})

		It("refuses a migration that has no plan yet", func(ctx SpecContext) {
			created(ctx, "approve-no-plan")

			out, err := shift(ctx, "rita", nil, "approve", "approve-no-plan", "--yes")
			Expect(err).To(MatchError(ContainSubstring("approve-no-plan has no plan yet (phase <none>)")))
			Expect(out).NotTo(ContainSubstring("approved plan"))
			Expect(readDBM(ctx, "approve-no-plan").Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan))
		})

		It("refuses a plan that changed after it was shown", func(ctx SpecContext) {
			planned(ctx, "approve-stale")
			// The operator re-plans while the reviewer is reading the plan:
			// the new plan lands between approve's read and its patch.
			stdin := &stdinThat{
				answer: strings.NewReader("y\n"),
				before: func() {
					setStatus(ctx, "approve-stale", func(s *dbv1.DatabaseMigrationStatus) {
						s.Plan.Hash = otherHash
						s.Plan.Statements = append(s.Plan.Statements, "DROP TABLE legacy_widgets;")
					})
				},
			}

			out, err := shift(ctx, "rita", stdin, "approve", "approve-stale")
			Expect(stdin.read).To(BeTrue(), "approve never asked for confirmation, so the plan never changed under it")
			Expect(out).To(ContainSubstring("Plan " + planHash))
			Expect(out).NotTo(ContainSubstring("DROP TABLE legacy_widgets"))
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsConflict(err) || apierrors.IsInvalid(err)).To(BeTrue(),
				"want a conflict (optimistic lock) or an invalid approval (webhook hash check), got %v", err)
			Expect(out).NotTo(ContainSubstring("approved plan"))

			dbm := readDBM(ctx, "approve-stale")
			Expect(dbm.Status.Plan.Hash).To(Equal(otherHash))
			Expect(dbm.Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan))
			Expect(dbm.Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedBy))

			// Shown the new plan, the reviewer can approve it.
			out, err = shift(ctx, "rita", nil, "approve", "approve-stale", "--yes")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("DROP TABLE legacy_widgets"))
			Expect(readDBM(ctx, "approve-stale").Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, otherHash))
		})

		It("reports the webhook's refusal when the creator approves their own plan", func(ctx SpecContext) {
			planned(ctx, "approve-own")

			_, err := shift(ctx, "dev", nil, "approve", "approve-own", "--yes")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(`"dev" created this migration and cannot approve its plan`))
			Expect(readDBM(ctx, "approve-own").Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan))
		})
	})

	Describe("reject", func() {
		It("sets the rejected annotation with the reason and withdraws the approval", func(ctx SpecContext) {
			planned(ctx, "reject-approved")
			_, err := shift(ctx, "rita", nil, "approve", "reject-approved", "--yes")
			Expect(err).NotTo(HaveOccurred())
			Expect(readDBM(ctx, "reject-approved").Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, planHash))

			out, err := shift(ctx, "rita", nil, "reject", "reject-approved", "--reason", "price needs a backfill first")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal("rejected " + testNamespace + "/reject-approved: price needs a backfill first\n"))

			dbm := readDBM(ctx, "reject-approved")
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationRejected, "price needs a backfill first"))
			Expect(dbm.Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan))
			Expect(dbm.Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedBy))
		})

		It("requires a reason and changes nothing without one", func(ctx SpecContext) {
			planned(ctx, "reject-no-reason")
			_, err := shift(ctx, "rita", nil, "approve", "reject-no-reason", "--yes")
			Expect(err).NotTo(HaveOccurred())

			for _, args := range [][]string{{}, {"--reason", "  "}} {
				_, err := shift(ctx, "rita", nil, append([]string{"reject", "reject-no-reason"}, args...)...)
				Expect(err).To(MatchError(ContainSubstring("--reason is required")), "args %q", args)
			}
			dbm := readDBM(ctx, "reject-no-reason")
			Expect(dbm.Annotations).NotTo(HaveKey(dbv1.AnnotationRejected))
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, planHash))
		})
	})

	Describe("diff", func() {
		It("shows the changes, + forward statements and - rollback statements", func(ctx SpecContext) {
			planned(ctx, "diff-plan")

			out, err := shift(ctx, "rita", nil, "diff", "diff-plan")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal(
				"--- diff-plan.db (live)\n" +
					"+++ diff-plan.db (after plan " + planHash + ")\n" +
					"+ create table widgets\n" +
					"+ add column widgets.price\n" +
					"~ modify column widgets.name\n" +
					"@@ forward @@\n" +
					"+ CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n" +
					"+ ALTER TABLE widgets ADD COLUMN price INTEGER NOT NULL DEFAULT 0;\n" +
					"@@ rollback @@\n" +
					"- ALTER TABLE widgets DROP COLUMN price;\n" +
					"- DROP TABLE widgets;\n"))
		})

		It("marks every line of a multi-line statement, and shows the validation scripts the apply runs", func(ctx SpecContext) {
			created(ctx, "diff-multiline")
			setStatus(ctx, "diff-multiline", func(s *dbv1.DatabaseMigrationStatus) {
				s.Plan = &dbv1.PlanStatus{Hash: planHash, Statements: []string{"CREATE TABLE t (\n  id INTEGER\n);"},
					Validations: []dbv1.PlannedValidation{{Name: "t-empty", SQL: "SELECT count(*) = 0\nFROM t;"}}}
				s.RollbackPlan = &dbv1.RollbackPlan{Statements: []string{"DROP\nTABLE t;"}}
			})

			out, err := shift(ctx, "rita", nil, "diff", "diff-multiline")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(ContainSubstring("+ CREATE TABLE t (\n+   id INTEGER\n+ );\n" +
				"@@ validation (run after the forward statements, read-only; each must return true) @@\n" +
				"? t-empty:\n?   SELECT count(*) = 0\n?   FROM t;\n" +
				"@@ rollback @@\n- DROP\n- TABLE t;\n"))
		})

		It("says no change for an empty plan", func(ctx SpecContext) {
			created(ctx, "diff-empty")
			setStatus(ctx, "diff-empty", func(s *dbv1.DatabaseMigrationStatus) {
				s.Plan = &dbv1.PlanStatus{Hash: planHash}
			})

			out, err := shift(ctx, "rita", nil, "diff", "diff-empty")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(HaveSuffix("(after plan " + planHash + ")\nno change\n"))
			Expect(out).NotTo(ContainSubstring("@@"))
		})

		It("says so when there is no plan yet", func(ctx SpecContext) {
			created(ctx, "diff-unplanned")

			out, err := shift(ctx, "rita", nil, "diff", "diff-unplanned")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal("diff-unplanned has no plan yet\n"))
		})
	})

	Describe("targets", func() {
		It("lists the namespace's targets with where they are and whether they are ready", func(ctx SpecContext) {
			dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "orders"}, Spec: dbv1.DatabaseTargetSpec{
				Type: dbv1.DatabaseTypePostgreSQL, Host: "orders.db.internal", Database: "orders", ConnectionSecret: &dbv1.TargetSecretRef{Name: "orders"},
			}}
			Expect(admin.Create(ctx, dt)).To(Succeed())
			DeferCleanup(admin.Delete, context.Background(), dt)
			dt.Status = dbv1.DatabaseTargetStatus{ServerVersion: "PostgreSQL 15.8", Migrations: 2, Conditions: []metav1.Condition{{
				Type: dbv1.ConditionReady, Status: metav1.ConditionTrue, Reason: dbv1.ReasonTargetReachable, Message: "reached",
				ObservedGeneration: dt.Generation, LastTransitionTime: metav1.Now(),
			}}}
			Expect(admin.Status().Update(ctx, dt)).To(Succeed())

			out, err := shift(ctx, "dev", nil, "targets")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(MatchRegexp(`TARGET\s+TYPE\s+WHERE\s+READY\s+MIGRATIONS\s+MESSAGE`))
			Expect(out).To(MatchRegexp(`orders\s+postgresql\s+orders\.db\.internal/orders\s+True\s+2\s+PostgreSQL 15\.8`))
		})
	})
})
