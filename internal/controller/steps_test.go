package controller

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// fakeMigrator plans what it is told to; the plan step is all it serves.
type fakeMigrator struct {
	Migrator
	plan    *Plan
	planErr error
}

func (f *fakeMigrator) Sources(context.Context, *dbv1.DatabaseMigration) ([]dbv1.PlannedScript, error) {
	return nil, nil
}

func (f *fakeMigrator) Plan(context.Context, *dbv1.DatabaseMigration) (*Plan, error) {
	return f.plan, f.planErr
}

const stepHash = "sha256:0123"

// TestPlanStepReasons drives the plan step with each outcome a Migrator
// can give and checks the condition, phase and event it leaves.
func TestPlanStepReasons(t *testing.T) {
	safe := &Plan{Hash: stepHash, Statements: []string{"CREATE TABLE t (id int)"}}
	for _, tc := range []struct {
		name        string
		plan        *Plan
		err         error
		policy      dbv1.Policy
		applied     bool
		wantPlanned string
		wantPhase   dbv1.MigrationPhase
		wantReason  string
		wantStop    bool
		wantErr     bool
		wantRequeue bool
	}{
		{name: "a plan to review", plan: safe, wantPlanned: "True/" + dbv1.ReasonPlanReady, wantPhase: dbv1.PhasePending, wantReason: dbv1.ReasonPlanning},
		{name: "nothing to do", plan: &Plan{Hash: stepHash}, wantPlanned: "True/" + dbv1.ReasonPlanReady, wantPhase: dbv1.PhaseSucceeded, wantReason: dbv1.ReasonPlanEmpty, wantStop: true, wantRequeue: true},
		{name: "nothing left after an apply", plan: &Plan{Hash: stepHash}, applied: true, wantPlanned: "True/" + dbv1.ReasonPlanReady, wantPhase: dbv1.PhaseSucceeded, wantReason: dbv1.ReasonSucceeded, wantStop: true, wantRequeue: true},
		{name: "destructive under block", plan: &Plan{Hash: stepHash, Statements: []string{"DROP TABLE t"}, Destructive: true}, policy: dbv1.Policy{Destructive: dbv1.DestructiveBlock},
			wantPlanned: "True/" + dbv1.ReasonPlanReady, wantPhase: dbv1.PhaseBlocked, wantReason: dbv1.ReasonDestructiveBlocked, wantStop: true, wantRequeue: true},
		{name: "a source not there yet", err: fmt.Errorf("configmap x: %w", source.ErrNotFound),
			wantPlanned: "False/" + dbv1.ReasonSourceNotFound, wantPhase: dbv1.PhasePending, wantReason: dbv1.ReasonSourceNotFound, wantStop: true, wantRequeue: true},
		{name: "a checksum that does not match", err: fmt.Errorf("script a: %w", source.ErrChecksumMismatch),
			wantPlanned: "False/" + dbv1.ReasonChecksumMismatch, wantPhase: dbv1.PhaseFailed, wantReason: dbv1.ReasonChecksumMismatch, wantStop: true},
		{name: "invalid SQL", err: &planner.InvalidSQLError{Script: "a", Index: 0, Err: errors.New("syntax")},
			wantPlanned: "False/" + dbv1.ReasonInvalidSQL, wantPhase: dbv1.PhaseFailed, wantReason: dbv1.ReasonInvalidSQL, wantStop: true},
		{name: "SQL the gate refuses", err: &planner.RefusedSQLError{Script: "a"},
			wantPlanned: "False/" + dbv1.ReasonSQLRefused, wantPhase: dbv1.PhaseFailed, wantReason: dbv1.ReasonSQLRefused, wantStop: true},
		{name: "no dev database", err: &planner.DevDatabaseError{Reason: "no dev database for postgres"},
			wantPlanned: "False/" + dbv1.ReasonNoDevDatabase, wantPhase: dbv1.PhaseFailed, wantReason: dbv1.ReasonNoDevDatabase, wantStop: true},
		{name: "a bad Secret", err: Permanent(dbv1.ReasonSecretInvalid, errors.New("secret x has no key url")),
			wantPlanned: "False/" + dbv1.ReasonSecretInvalid, wantPhase: dbv1.PhaseFailed, wantReason: dbv1.ReasonSecretInvalid, wantStop: true},
		{name: "only validation scripts", err: Permanent(dbv1.ReasonPlanFailed, errors.New("only validation scripts")),
			wantPlanned: "False/" + dbv1.ReasonPlanFailed, wantPhase: dbv1.PhaseFailed, wantReason: dbv1.ReasonPlanFailed, wantStop: true},
		{name: "an unreachable database is retried", err: errors.New("dial tcp: connection refused"),
			wantPlanned: "False/" + dbv1.ReasonDatabaseUnreachable, wantPhase: dbv1.PhasePending, wantReason: dbv1.ReasonPlanning, wantStop: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			rec := events.NewFakeRecorder(10)
			r := &DatabaseMigrationReconciler{
				Recorder: rec,
				Migrator: &fakeMigrator{plan: tc.plan, planErr: tc.err},
				Clock:    clocktesting.NewFakePassiveClock(time.Unix(1_700_000_000, 0)),
			}
			dbm := fixture.Migration("ns", "m", fixture.WithPolicy(tc.policy))
			if tc.applied {
				dbm.Status.LastApplied = &dbv1.AppliedRevision{PlanHash: stepHash, Revision: 1}
			}
			res, stop, err := r.plan(context.Background(), dbm, nil)
			g.Expect(err != nil).To(Equal(tc.wantErr), "%v", err)
			g.Expect(stop).To(Equal(tc.wantStop))
			if tc.wantRequeue {
				g.Expect(res.RequeueAfter).To(BeNumerically(">", 0))
			} else {
				g.Expect(res.RequeueAfter).To(BeZero())
			}
			c := meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionPlanned)
			g.Expect(c).NotTo(BeNil())
			g.Expect(string(c.Status) + "/" + c.Reason).To(Equal(tc.wantPlanned))
			g.Expect(dbm.Status.Phase).To(Equal(tc.wantPhase))
			g.Expect(dbm.Status.Reason).To(Equal(tc.wantReason))
			if tc.err != nil && !errors.Is(tc.err, source.ErrNotFound) {
				g.Expect(rec.Events).To(Receive(ContainSubstring("Warning")), "a failure is evented")
			}
		})
	}
}

// TestPlanIsStale: a plan is planned again when it is missing, the spec
// moved, or it is older than the replan interval, except while it is
// being applied.
func TestPlanIsStale(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name     string
		age      time.Duration
		phase    dbv1.MigrationPhase
		approved bool
		applied  bool
		moved    bool
		want     bool
	}{
		{name: "fresh", age: time.Minute, phase: dbv1.PhaseAwaitingApproval},
		{name: "older than the replan interval", age: time.Hour, phase: dbv1.PhaseAwaitingApproval, want: true},
		{name: "older, but being applied", age: time.Hour, phase: dbv1.PhaseRunning},
		{name: "being applied, but the spec moved", age: time.Minute, phase: dbv1.PhaseRunning, moved: true, want: true},
		{name: "older, approved and waiting for the lock or a retry", age: time.Hour, phase: dbv1.PhaseAwaitingApproval, approved: true},
		{name: "older, approved and applied: drift is looked for", age: time.Hour, phase: dbv1.PhaseSucceeded, approved: true, applied: true, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r := &DatabaseMigrationReconciler{Migrator: &fakeMigrator{}, Clock: clocktesting.NewFakePassiveClock(now), ReplanInterval: 10 * time.Minute}
			dbm := fixture.Migration("ns", "m")
			dbm.Generation = 2
			computed := metav1.NewTime(now.Add(-tc.age))
			dbm.Status.Plan = &dbv1.PlanStatus{Hash: stepHash, ComputedAt: &computed}
			dbm.Status.Phase = tc.phase
			if tc.approved {
				dbm.Annotations = map[string]string{dbv1.AnnotationApprovedPlan: stepHash}
			}
			if tc.applied {
				dbm.Status.LastApplied = &dbv1.AppliedRevision{PlanHash: stepHash}
			}
			observed := dbm.Generation
			if tc.moved {
				observed = 1
			}
			meta.SetStatusCondition(&dbm.Status.Conditions, metav1.Condition{Type: dbv1.ConditionPlanned, Status: metav1.ConditionTrue, Reason: dbv1.ReasonPlanReady, ObservedGeneration: observed})
			stale, err := r.planIsStale(context.Background(), dbm)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(stale).To(Equal(tc.want))
		})
	}
}

// TestApprovalStepReasons drives the approval step over every way a plan
// is, or is not, let through.
func TestApprovalStepReasons(t *testing.T) {
	auto := dbv1.Policy{Approval: dbv1.ApprovalAuto}
	granted := map[string]string{dbv1.AnnotationPolicyGrantedBy: "rita", dbv1.AnnotationPolicyGranted: dbv1.PolicyDigest(auto)}
	for _, tc := range []struct {
		name        string
		plan        dbv1.PlanStatus
		policy      dbv1.Policy
		annotations map[string]string
		platform    bool
		wantCond    string
		wantPhase   dbv1.MigrationPhase
		wantStop    bool
	}{
		{name: "approved", annotations: map[string]string{dbv1.AnnotationApprovedPlan: stepHash, dbv1.AnnotationApprovedBy: "rita"},
			wantCond: "True/" + dbv1.ReasonApproved},
		{name: "auto, granted by a reviewer", policy: auto, annotations: granted, wantCond: "True/" + dbv1.ReasonAutoApproved},
		{name: "auto, allowed by the platform", policy: auto, platform: true, wantCond: "True/" + dbv1.ReasonAutoApproved},
		{name: "auto, set by its author alone", policy: auto, wantCond: "False/" + dbv1.ReasonPolicyNotGranted,
			wantPhase: dbv1.PhaseAwaitingApproval, wantStop: true},
		{name: "auto, but destructive", policy: auto, platform: true, plan: dbv1.PlanStatus{Destructive: true},
			wantCond: "False/" + dbv1.ReasonAwaitingApproval, wantPhase: dbv1.PhaseAwaitingApproval, wantStop: true},
		{name: "an older hash", annotations: map[string]string{dbv1.AnnotationApprovedPlan: "sha256:old"},
			wantCond: "False/" + dbv1.ReasonApprovalMismatch, wantPhase: dbv1.PhaseAwaitingApproval, wantStop: true},
		{name: "waiting", wantCond: "False/" + dbv1.ReasonAwaitingApproval, wantPhase: dbv1.PhaseAwaitingApproval, wantStop: true},
		{name: "rejected", annotations: map[string]string{dbv1.AnnotationRejected: "not on a Friday"},
			wantCond: "False/" + dbv1.ReasonRejected, wantPhase: dbv1.PhaseBlocked, wantStop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r := &DatabaseMigrationReconciler{AllowAutoApproval: tc.platform}
			dbm := fixture.Migration("ns", "m", fixture.WithPolicy(tc.policy), fixture.WithAnnotations(tc.annotations))
			plan := tc.plan
			plan.Hash, plan.Statements = stepHash, []string{"CREATE TABLE t (id int)"}
			dbm.Status.Plan = &plan
			_, stop, err := r.awaitApproval(context.Background(), dbm, nil)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(stop).To(Equal(tc.wantStop))
			c := meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionApproved)
			g.Expect(c).NotTo(BeNil())
			g.Expect(string(c.Status) + "/" + c.Reason).To(Equal(tc.wantCond))
			g.Expect(dbm.Status.Phase).To(Equal(tc.wantPhase))
		})
	}
}

// TestEveryReasonIsTested fails when the controller sets a Reason constant
// that no test of this package or of the e2e suite names: a new reason
// comes with the test that reaches it.
func TestEveryReasonIsTested(t *testing.T) {
	g := NewWithT(t)
	set := reasonsIn(t, ".", func(name string) bool { return !strings.HasSuffix(name, "_test.go") })
	tested := reasonsIn(t, ".", func(name string) bool { return strings.HasSuffix(name, "_test.go") })
	for r := range reasonsIn(t, filepath.Join("..", "..", "e2e"), func(string) bool { return true }) {
		tested[r] = true
	}
	var missing []string
	for r := range set {
		if !tested[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	g.Expect(set).NotTo(BeEmpty())
	g.Expect(missing).To(BeEmpty(), "reasons the controller sets that no test names")
}

// reasonsIn collects the dbv1.Reason* identifiers the Go files of dir
// (those keep says) refer to.
func reasonsIn(t *testing.T, dir string, keep func(string) bool) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || !keep(e.Name()) {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Reason") {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "dbv1" {
					out[sel.Sel.Name] = true
				}
			}
			return true
		})
	}
	return out
}

// TestApplyOutcomeReasons records each way an apply can end, as the
// reconciler does once the runner reports it.
func TestApplyOutcomeReasons(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name       string
		err        error
		applied    *planner.ApplyResult
		wantCond   string
		wantPhase  dbv1.MigrationPhase
		wantRetry  bool
		wantRolled bool
		// quiet outcomes are waits, not news: no event.
		quiet bool
	}{
		{name: "applied", applied: &planner.ApplyResult{Revision: 3}, wantCond: "True/" + dbv1.ReasonApplied, wantPhase: dbv1.PhaseSucceeded},
		{name: "already applied by an earlier run", applied: &planner.ApplyResult{Revision: 3, AlreadyApplied: true},
			wantCond: "True/" + dbv1.ReasonAlreadyApplied, wantPhase: dbv1.PhaseSucceeded},
		{name: "the schema moved since review", err: &planner.HashMismatchError{Expected: stepHash, Actual: "sha256:4567"},
			wantCond: "False/" + dbv1.ReasonSchemaDrifted, wantPhase: dbv1.PhaseAwaitingApproval},
		{name: "another apply holds the lock", err: fmt.Errorf("%w: busy", planner.ErrLockBusy),
			wantCond: "False/" + dbv1.ReasonLockBusy, wantPhase: dbv1.PhaseAwaitingApproval, quiet: true},
		{name: "past maxMigrationTime", err: fmt.Errorf("copying blue to green: %w", context.DeadlineExceeded),
			wantCond: "False/" + dbv1.ReasonDeadlineExceeded, wantPhase: dbv1.PhaseFailed},
		{name: "past maxDowntime", err: &planner.StatementError{Total: 1, RolledBack: true, Err: fmt.Errorf("%w (1s)", planner.ErrLockTimeExceeded)},
			wantCond: "False/" + dbv1.ReasonMaxDowntimeExceeded, wantPhase: dbv1.PhaseFailed},
		{name: "a statement failed", err: &planner.StatementError{Total: 1, RolledBack: true, Err: errors.New("syntax error")},
			wantCond: "False/" + dbv1.ReasonApplyFailed, wantPhase: dbv1.PhaseFailed},
		{name: "a validation script said no, rolled back", err: &planner.RolledBackError{Err: &planner.VerifyError{Err: &planner.ValidationError{Script: "v", Statement: -1, Err: errors.New("returned false")}}},
			wantCond: "False/" + dbv1.ReasonValidationFailed, wantPhase: dbv1.PhaseFailed, wantRolled: true},
		{name: "rows lost", err: &planner.VerifyError{RolledBack: true, Err: fmt.Errorf("%w: table t lost 1 row", planner.ErrDataCorruption)},
			wantCond: "False/" + dbv1.ReasonDataCorruption, wantPhase: dbv1.PhaseFailed},
		{name: "green cannot be used", err: fmt.Errorf("%w: green differs", planner.ErrGreenUnfit),
			wantCond: "False/" + dbv1.ReasonApplyFailed, wantPhase: dbv1.PhaseFailed},
		{name: "a Secret without its keys", err: Permanent(dbv1.ReasonSecretInvalid, errors.New("secret s has no key url")),
			wantCond: "False/" + dbv1.ReasonSecretInvalid, wantPhase: dbv1.PhaseFailed},
		{name: "a source deleted since the plan", err: fmt.Errorf("configmap x: %w", source.ErrNotFound),
			wantCond: "False/" + dbv1.ReasonSourceNotFound, wantPhase: dbv1.PhaseAwaitingApproval, quiet: true},
		{name: "the database went away", err: errors.New("connection reset"),
			wantCond: "False/" + dbv1.ReasonDatabaseUnreachable, wantPhase: dbv1.PhaseAwaitingApproval, wantRetry: true},
		{name: "a statement's connection broke: the apply is still under way, and is retried", err: &planner.StatementError{Total: 2, Applied: 1, Err: driver.ErrBadConn},
			wantCond: "False/" + dbv1.ReasonDatabaseUnreachable, wantPhase: dbv1.PhaseRunning, wantRetry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			rec := events.NewFakeRecorder(10)
			r := &DatabaseMigrationReconciler{Recorder: rec, Clock: clocktesting.NewFakePassiveClock(now)}
			dbm := fixture.Migration("ns", "m")
			dbm.Status.Plan = &dbv1.PlanStatus{Hash: stepHash, Statements: []string{"CREATE TABLE t (id int)"}}
			dbm.Status.Progress = &dbv1.ProgressInfo{TotalSteps: 1}
			if tc.applied != nil {
				r.applySucceeded(dbm, "rita", now.Add(-time.Second), now, tc.applied)
			} else {
				_, stop, err := r.applyFailed(dbm, tc.err)
				g.Expect(stop).To(BeTrue())
				g.Expect(err != nil).To(Equal(tc.wantRetry))
			}
			c := meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionApplied)
			g.Expect(c).NotTo(BeNil())
			g.Expect(string(c.Status) + "/" + c.Reason).To(Equal(tc.wantCond))
			g.Expect(dbm.Status.Phase).To(Equal(tc.wantPhase))
			var all []string
			for len(rec.Events) > 0 {
				all = append(all, <-rec.Events)
			}
			if tc.quiet {
				g.Expect(all).To(BeEmpty())
			} else {
				g.Expect(strings.Join(all, "\n")).To(ContainSubstring(strings.SplitN(tc.wantCond, "/", 2)[1]), "evented with the condition's reason")
			}
			if tc.wantRolled {
				g.Expect(strings.Join(all, "\n")).To(ContainSubstring(dbv1.ReasonRolledBack))
			}
		})
	}
}

// TestSummaryOfANewMigration: before any step has run, Ready says so.
func TestSummaryOfANewMigration(t *testing.T) {
	g := NewWithT(t)
	dbm := fixture.Migration("ns", "m")
	summarize(dbm)
	c := meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionReady)
	g.Expect(c).NotTo(BeNil())
	g.Expect(c.Reason).To(Equal(dbv1.ReasonInitializing))
}
