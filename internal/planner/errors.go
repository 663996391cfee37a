package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

var (
	// ErrHashMismatch: the plan recomputed under the lock is not the one
	// approved (the live schema or the input moved). Nothing was applied.
	ErrHashMismatch = errors.New("the plan changed since it was approved")
	// ErrInvalidSQL matches every *InvalidSQLError.
	ErrInvalidSQL = errors.New("invalid SQL")
	// ErrApplyFailed matches every *StatementError.
	ErrApplyFailed = errors.New("apply failed")
	// ErrVerifyFailed matches every *VerifyError.
	ErrVerifyFailed = errors.New("verification failed")
	// ErrLockBusy: another apply holds the database's lock.
	ErrLockBusy = database.ErrLockBusy
	// ErrUnreachable: the target or dev database could not be reached.
	ErrUnreachable = database.ErrUnreachable
	// ErrConnectionLost: a statement's or a check's connection broke
	// while it ran (the server went away, the network cut it). The
	// apply's record says what stays; the next apply resumes from it.
	ErrConnectionLost = database.ErrConnectionLost
)

// ErrNoDevDatabase matches every *DevDatabaseError.
var ErrNoDevDatabase = errors.New("no dev database")

// DevDatabaseError says why a plan has no dev database to replay on: the
// engine has no dev server and the migration names none, or the one named
// is on the target's server. Retrying does not help; configuration does.
type DevDatabaseError struct {
	Reason string
}

func (e *DevDatabaseError) Error() string { return e.Reason }

func (e *DevDatabaseError) Is(target error) bool { return target == ErrNoDevDatabase }

// HashMismatchError says which plan was approved and which is current.
type HashMismatchError struct {
	Expected, Actual string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%v: approved %s, current plan is %s; nothing was applied, review the new plan", ErrHashMismatch, e.Expected, e.Actual)
}

func (e *HashMismatchError) Is(target error) bool { return target == ErrHashMismatch }

// InvalidSQLError is SQL that does not lex or fails on the dev database:
// found while planning, before anything touches the target.
type InvalidSQLError struct {
	// Script is the script's name ("desired schema" in declarative mode).
	Script string
	// Index is the statement's 0-based index in the script; -1 when the
	// script does not lex.
	Index     int
	Statement string
	Err       error
}

func (e *InvalidSQLError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("script %s: %v", e.Script, e.Err)
	}
	return fmt.Sprintf("script %s, statement %d (%s): %v", e.Script, e.Index+1, abbreviate(e.Statement), e.Err)
}

func (e *InvalidSQLError) Unwrap() error { return e.Err }

func (e *InvalidSQLError) Is(target error) bool { return target == ErrInvalidSQL }

// StatementError is a statement that failed on the target during an apply.
type StatementError struct {
	// Index is the failed statement's 0-based index in the plan.
	Index, Total int
	// Applied is how many statements stay applied when RolledBack is
	// false: those before Index, or before the failed step's first in a
	// rolling apply.
	Applied int
	Step    Step
	// RolledBack is true when the whole plan was rolled back; false when
	// the statements before Index stay applied (no transactional DDL),
	// as the revision's checkpoint records.
	RolledBack bool
	// Revision is the revision row recording the failure, if any.
	Revision int64
	Err      error
}

func (e *StatementError) Error() string {
	where := ""
	if e.Step.Script != "" {
		where = fmt.Sprintf(" (script %s, statement %d)", e.Step.Script, e.Step.Index+1)
	}
	outcome := "the plan was rolled back, nothing was applied"
	switch {
	case !e.RolledBack && e.Applied == 0:
		outcome = fmt.Sprintf("no statement was applied; revision %d records the failure", e.Revision)
	case !e.RolledBack:
		outcome = fmt.Sprintf("statements 1 to %d stay applied; revision %d records the checkpoint", e.Applied, e.Revision)
	}
	if !e.RolledBack && e.Applied < e.Index {
		outcome += fmt.Sprintf("; statements %d to %d, run in one transaction with it, were rolled back with it", e.Applied+1, e.Index)
	}
	return fmt.Sprintf("statement %d of %d failed%s: %v; %s", e.Index+1, e.Total, where, e.Err, outcome)
}

func (e *StatementError) Unwrap() error { return e.Err }

func (e *StatementError) Is(target error) bool {
	return target == ErrApplyFailed || (target == ErrConnectionLost && lost(e.Err))
}

// lost reports whether a statement or check failed because its connection
// broke, not because of what it does or a bound the apply set.
func lost(err error) bool {
	return database.ConnectionLost(err) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrLockTimeExceeded)
}

func abbreviate(s string) string {
	const limit = 80
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}

// VerifyError is a check after the last statement that failed (a
// validation script returning false, say).
type VerifyError struct {
	// RolledBack is true when the whole plan was rolled back with it.
	RolledBack bool
	// Revision records the failure when the plan stayed applied.
	Revision int64
	Err      error
}

func (e *VerifyError) Error() string {
	if e.RolledBack {
		return fmt.Sprintf("%v; the plan was rolled back, nothing was applied", e.Err)
	}
	return fmt.Sprintf("%v; the plan stays applied (revision %d records the failure): its rollback plan takes it back", e.Err, e.Revision)
}

func (e *VerifyError) Unwrap() error { return e.Err }

func (e *VerifyError) Is(target error) bool {
	return target == ErrVerifyFailed || (target == ErrConnectionLost && lost(e.Err))
}

// RolledBackError is a failed apply that was taken back: the schema is the
// one the apply started from, and the revision table records the rollback.
type RolledBackError struct {
	// Err is the failure that caused the rollback.
	Err error
	// Statements is how many statements the rollback ran (none when the
	// transaction took everything back).
	Statements int
	// Revision records the rollback.
	Revision int64
	// recordErr is a failure to write the revision row, reported with the
	// rollback.
	recordErr error
}

func (e *RolledBackError) Error() string {
	msg := fmt.Sprintf("%v (automatic rollback ran %d statement(s))", e.Err, e.Statements)
	if e.recordErr != nil {
		msg += "; recording the rollback failed: " + e.recordErr.Error()
	}
	return msg
}

func (e *RolledBackError) Unwrap() error { return e.Err }
