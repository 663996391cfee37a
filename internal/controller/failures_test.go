package controller

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

// TestFailureTable classes the errors planning and applying meet, as the
// planner and the sources return them.
func TestFailureTable(t *testing.T) {
	lockTime := &planner.StatementError{Total: 1, RolledBack: true, Err: fmt.Errorf("%w (1s): %w", planner.ErrLockTimeExceeded, context.DeadlineExceeded)}
	cutOff := &planner.StatementError{Total: 2, Applied: 1, Err: fmt.Errorf("%w: stopped gracefully, before the next step", context.DeadlineExceeded)}
	for _, tc := range []struct {
		name     string
		err      error
		applying bool
		reason   string
		retry    retry
		rollback dbv1.RollbackCondition
	}{
		{name: "a source not there yet", err: fmt.Errorf("configmap a: %w", source.ErrNotFound), reason: dbv1.ReasonSourceNotFound, retry: retryAfter},
		{name: "a checksum that does not match", err: fmt.Errorf("script a: %w", source.ErrChecksumMismatch), reason: dbv1.ReasonChecksumMismatch, retry: never},
		{name: "a reference out of bounds", err: fmt.Errorf("%w: key", source.ErrInvalidRef), reason: dbv1.ReasonPlanFailed, retry: never},
		{name: "scripts that do not order", err: fmt.Errorf("%w: cycle", source.ErrInvalidScripts), reason: dbv1.ReasonPlanFailed, retry: never},
		{name: "the schema moved since review", err: &planner.HashMismatchError{Expected: "a", Actual: "b"}, applying: true, reason: dbv1.ReasonSchemaDrifted, retry: retryAfter},
		{name: "the lock is held", err: planner.ErrLockBusy, applying: true, reason: dbv1.ReasonLockBusy, retry: retryAfter},
		{name: "rows lost, caught after the last statement", err: &planner.VerifyError{Err: fmt.Errorf("%w: t", planner.ErrDataCorruption)}, applying: true,
			reason: dbv1.ReasonDataCorruption, retry: never, rollback: dbv1.RollbackOnDataCorruption},
		{name: "a statement past the downtime budget", err: lockTime, applying: true, reason: dbv1.ReasonMaxDowntimeExceeded, retry: never, rollback: dbv1.RollbackOnPerformanceDegradation},
		{name: "invalid SQL", err: &planner.InvalidSQLError{Script: "a", Index: -1, Err: errors.New("lex")}, reason: dbv1.ReasonInvalidSQL, retry: never},
		{name: "SQL the gate refuses", err: &planner.RefusedSQLError{Script: "a"}, reason: dbv1.ReasonSQLRefused, retry: never},
		{name: "no dev database", err: &planner.DevDatabaseError{Reason: "none"}, reason: dbv1.ReasonNoDevDatabase, retry: never},
		{name: "a copy green cannot use", err: fmt.Errorf("%w: trigger", planner.ErrGreenUnfit), applying: true, reason: dbv1.ReasonApplyFailed, retry: never},
		{name: "a failed statement", err: &planner.StatementError{Total: 1, Err: errors.New("syntax")}, applying: true, reason: dbv1.ReasonApplyFailed, retry: never},
		{name: "a statement whose connection broke is retried, and resumes", err: &planner.StatementError{Total: 3, Applied: 1, Err: driver.ErrBadConn}, applying: true,
			reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff},
		{name: "a statement whose server went away is retried", err: &planner.StatementError{Total: 3, Err: fmt.Errorf("reading: %w", io.ErrUnexpectedEOF)}, applying: true,
			reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff},
		{name: "a validation whose connection broke is retried", err: &planner.VerifyError{Err: fmt.Errorf("validation v: %w", net.ErrClosed)}, applying: true,
			reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff},
		{name: "a statement cut at the deadline, its connection closed with it, is a timeout still",
			err:      &planner.StatementError{Total: 2, Applied: 1, Err: errors.Join(context.DeadlineExceeded, driver.ErrBadConn)},
			applying: true, reason: dbv1.ReasonApplyFailed, retry: never, rollback: dbv1.RollbackOnTimeout},
		{name: "a failed validation script", err: &planner.VerifyError{Err: &planner.ValidationError{Script: "v", Err: errors.New("false")}}, applying: true,
			reason: dbv1.ReasonValidationFailed, retry: never},
		{name: "a statement cut off at the deadline is a failed statement and a timeout", err: cutOff, applying: true,
			reason: dbv1.ReasonApplyFailed, retry: never, rollback: dbv1.RollbackOnTimeout},
		{name: "an apply past maxMigrationTime", err: fmt.Errorf("copying: %w", context.DeadlineExceeded), applying: true,
			reason: dbv1.ReasonDeadlineExceeded, retry: never, rollback: dbv1.RollbackOnTimeout},
		{name: "a plan cut off by its context is retried", err: fmt.Errorf("inspecting: %w", context.DeadlineExceeded), reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff},
		{name: "an unreachable database", err: fmt.Errorf("%w: refused", planner.ErrUnreachable), reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff},
		{name: "a Secret without its keys", err: Permanent(dbv1.ReasonSecretInvalid, errors.New("no key url")), reason: dbv1.ReasonSecretInvalid, retry: never},
		{name: "anything else", err: errors.New("connection reset by peer"), applying: true, reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := classify(tc.err, tc.applying)
			g.Expect(f.reason).To(Equal(tc.reason))
			g.Expect(f.retry).To(Equal(tc.retry))
			if f.retry == retryAfter {
				g.Expect(f.after).To(BeNumerically(">", 0))
			}
			if tc.applying {
				g.Expect(rollbackCondition(tc.err)).To(Equal(tc.rollback))
			}
			g.Expect(errorClass(tc.err)).NotTo(BeEmpty())
		})
	}
}

// A threshold's failure names the spec field at fault.
func TestFailureMessagesNameTheThreshold(t *testing.T) {
	g := NewWithT(t)
	lockTime := &planner.StatementError{Total: 1, RolledBack: true, Err: fmt.Errorf("%w (1s)", planner.ErrLockTimeExceeded)}
	g.Expect(classify(lockTime, true).message(lockTime)).To(HavePrefix("the apply blocked writers longer than maxDowntime: statement 1 of 1 failed"))
	late := fmt.Errorf("copying: %w", context.DeadlineExceeded)
	g.Expect(classify(late, true).message(late)).To(ContainSubstring("maxMigrationTime"))
	plain := &planner.StatementError{Total: 1, Err: errors.New("syntax")}
	g.Expect(classify(plain, true).message(plain)).To(Equal(plain.Error()))
}

// TestFailureTableRulesAreReachable: no rule hides behind an earlier one
// for its own error.
func TestFailureTableRulesAreReachable(t *testing.T) {
	for i, rule := range failures {
		got := classify(rule.err, true)
		if got != rule.failure {
			t.Errorf("rule %d (%v) is shadowed: its own error classes as %+v", i, rule.err, got)
		}
	}
}

// TestRollbackPolicyConditions: automatic rollback always takes back a
// failed statement or validation; the listed conditions choose the
// threshold breaches.
func TestRollbackPolicyConditions(t *testing.T) {
	g := NewWithT(t)
	g.Expect(rollbackPolicy(nil)).To(BeNil())
	onlyCorruption := rollbackPolicy(&dbv1.RollbackConfig{Automatic: ptr.To(true), Conditions: []dbv1.RollbackCondition{dbv1.RollbackOnDataCorruption}})
	g.Expect(onlyCorruption(&planner.StatementError{Err: errors.New("syntax")})).To(BeTrue())
	g.Expect(onlyCorruption(fmt.Errorf("%w: t", planner.ErrDataCorruption))).To(BeTrue())
	g.Expect(onlyCorruption(fmt.Errorf("copying: %w", context.DeadlineExceeded))).To(BeFalse())
	g.Expect(onlyCorruption(fmt.Errorf("%w (1s)", planner.ErrLockTimeExceeded))).To(BeFalse())
	all := rollbackPolicy(&dbv1.RollbackConfig{Automatic: ptr.To(true)})
	g.Expect(all(fmt.Errorf("copying: %w", context.DeadlineExceeded))).To(BeTrue())
	g.Expect(all(&planner.StatementError{Applied: 1, Err: driver.ErrBadConn})).To(BeFalse(),
		"a broken connection is not the plan's failure: the next apply resumes it")
}
