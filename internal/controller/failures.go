package controller

import (
	"context"
	"errors"
	"time"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

// This file is the one place that says what an error means to the
// reconciler: the reason it reports, whether retrying can fix it and when
// to look again, which rollback condition it counts as, and how it is
// named when its own message may not be shown. Planning and applying read
// the same table.

// targetWait is how long a migration waits before looking again at a
// target that was not ready (a watch usually wakes it sooner).
const targetWait = 30 * time.Second

// retry says when a failure is looked at again.
type retry int

const (
	// retryBackoff is a transient failure: the reconcile returns it and
	// is retried with backoff.
	retryBackoff retry = iota
	// retryAfter looks again after a fixed wait, with no error: waiting
	// is the expected course (a lock held, a source not created yet).
	retryAfter
	// never is a permanent failure: retrying will not fix it; the
	// migration waits for its spec or a source to change.
	never
)

// failure is what the reconciler does with an error.
type failure struct {
	// reason is the condition reason, a constant from api/v1alpha1.
	reason string
	retry  retry
	// after is the wait of retryAfter.
	after time.Duration
	// rollback is the rollback condition the failure counts as; empty
	// for a failed statement or validation, which automatic rollback
	// always takes back.
	rollback dbv1.RollbackCondition
	// class names the kind of failure with no detail of its own; empty
	// for "an error".
	class string
	// explain says the class before the error's own text, which does not
	// name the spec field at fault.
	explain bool
}

// failureRule matches an error (errors.Is) to a failure. applyOnly rules
// hold for an apply's errors: planning has no deadline of its own, so a
// plan cut off by a context is transient.
type failureRule struct {
	err       error
	applyOnly bool
	failure
}

// failures is the table, read top down: the first rule that matches wins.
// A data integrity failure is a failed verification too, and a statement
// stopped by the downtime budget a failed statement: the specific rule
// comes first.
var failures = []failureRule{
	{err: source.ErrNotFound, failure: failure{reason: dbv1.ReasonSourceNotFound, retry: retryAfter, after: sourceWait, class: "a source was not found"}},
	{err: source.ErrChecksumMismatch, failure: failure{reason: dbv1.ReasonChecksumMismatch, retry: never, class: "a source's checksum does not match"}},
	{err: source.ErrInvalidRef, failure: failure{reason: dbv1.ReasonPlanFailed, retry: never}},
	{err: source.ErrInvalidScripts, failure: failure{reason: dbv1.ReasonPlanFailed, retry: never}},
	{err: ErrTargetNotFound, failure: failure{reason: dbv1.ReasonTargetNotFound, retry: retryAfter, after: sourceWait, class: "the target was not found"}},
	{err: ErrTargetNotAllowed, failure: failure{reason: dbv1.ReasonTargetNotAllowed, retry: never, class: "the target does not admit this namespace"}},
	{err: database.ErrSQLitePathOutsideRoot, failure: failure{reason: dbv1.ReasonTargetNotAllowed, retry: never, class: "the SQLite file is outside the directory the platform allows"}},
	{err: ErrTargetNotReady, failure: failure{reason: dbv1.ReasonTargetNotReady, retry: retryAfter, after: targetWait, class: "the target is not ready"}},
	{err: planner.ErrHashMismatch, failure: failure{reason: dbv1.ReasonSchemaDrifted, retry: retryAfter, after: time.Second, class: "the plan changed since it was approved"}},
	{err: planner.ErrLockBusy, failure: failure{reason: dbv1.ReasonLockBusy, retry: retryAfter, after: lockWait, class: "another migration holds the database lock"}},
	{err: planner.ErrDataCorruption, failure: failure{reason: dbv1.ReasonDataCorruption, retry: never, rollback: dbv1.RollbackOnDataCorruption, class: "a data integrity check failed"}},
	{err: planner.ErrLockTimeExceeded, failure: failure{reason: dbv1.ReasonMaxDowntimeExceeded, retry: never, rollback: dbv1.RollbackOnPerformanceDegradation, class: "the apply blocked writers longer than maxDowntime", explain: true}},
	{err: planner.ErrInvalidSQL, failure: failure{reason: dbv1.ReasonInvalidSQL, retry: never, class: "invalid SQL"}},
	{err: planner.ErrRefusedSQL, failure: failure{reason: dbv1.ReasonSQLRefused, retry: never, class: "SQL the static gate refuses"}},
	{err: planner.ErrNoDevDatabase, failure: failure{reason: dbv1.ReasonNoDevDatabase, retry: never, class: "no dev database to plan on"}},
	{err: planner.ErrGreenUnfit, failure: failure{reason: dbv1.ReasonApplyFailed, retry: never, class: "green cannot be used"}},
	{err: planner.ErrConnectionLost, applyOnly: true, failure: failure{reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff, class: "the connection to the database was lost during the apply"}},
	{err: planner.ErrApplyFailed, failure: failure{reason: dbv1.ReasonApplyFailed, retry: never, class: "a statement failed on the database"}},
	{err: planner.ErrVerifyFailed, failure: failure{reason: dbv1.ReasonValidationFailed, retry: never, class: "a validation failed"}},
	{err: context.DeadlineExceeded, applyOnly: true, failure: failure{reason: dbv1.ReasonDeadlineExceeded, retry: never, rollback: dbv1.RollbackOnTimeout, class: "the apply passed its deadline (maxMigrationTime)", explain: true}},
	{err: planner.ErrUnreachable, failure: failure{reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff, class: "the database could not be reached"}},
}

// unknownFailure is any other error: the database went away, the API
// server did not answer. The guarded apply left the database as it was
// (or at a recorded checkpoint), so trying again is safe.
var unknownFailure = failure{reason: dbv1.ReasonDatabaseUnreachable, retry: retryBackoff}

// classify says what err means while planning (applying false) or
// applying. A PermanentError carries its own reason.
func classify(err error, applying bool) failure {
	var permanent *PermanentError
	if errors.As(err, &permanent) {
		return failure{reason: permanent.Reason, retry: never}
	}
	for _, rule := range failures {
		if (applying || !rule.applyOnly) && errors.Is(err, rule.err) {
			return rule.failure
		}
	}
	return unknownFailure
}

// message is err as a condition shows it.
func (f failure) message(err error) string {
	if f.explain {
		return f.class + ": " + err.Error()
	}
	return err.Error()
}

// rollbackCondition is the rollback condition a failed apply counts as:
// the first rule with one that matches, so a statement stopped by the
// deadline is a timeout. Empty means none: a failed statement or
// validation.
func rollbackCondition(err error) dbv1.RollbackCondition {
	for _, rule := range failures {
		if rule.rollback != "" && errors.Is(err, rule.err) {
			return rule.rollback
		}
	}
	return ""
}

// errorClass names the kind of failure err is, with no detail of its own.
func errorClass(err error) string {
	if f := classify(err, true); f.class != "" {
		return f.class
	}
	return "an error"
}

// PermanentError is a failure that retrying will not fix, raised by the
// controller itself (a Secret without the keys it needs, a plan ConfigMap
// someone else owns): the table's rules cover the planner's and the
// sources' errors.
type PermanentError struct {
	// Reason is the condition reason, a constant from api/v1alpha1.
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent with the condition reason.
func Permanent(reason string, err error) error {
	return &PermanentError{Reason: reason, Err: err}
}

// rolledBackErr reports whether a failed apply was taken back: the
// schema is the one the apply started from.
func rolledBackErr(err error) bool {
	var rolled *planner.RolledBackError
	return errors.As(err, &rolled)
}
