package controller

import (
	"context"
	"errors"
	"time"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

// Migrator is what the reconciler needs from the planning engine: plan a
// migration against its live database, apply an approved plan, and release
// what planning left behind. The production Migrator loads scripts from the
// API and drives the Atlas-based planner; the reconciler stays free of both.
type Migrator interface {
	// Sources returns the name and checksum of every script (and of the
	// desired schema) as they are now, so the reconciler can tell whether
	// the plan in status still describes them.
	Sources(ctx context.Context, dbm *dbv1.DatabaseMigration) ([]dbv1.PlannedScript, error)
	// Plan computes the dry-run plan of dbm against its live database.
	Plan(ctx context.Context, dbm *dbv1.DatabaseMigration) (*Plan, error)
	// PreCheck runs spec.validation.preChecks against the live database
	// and says how each came out.
	PreCheck(ctx context.Context, dbm *dbv1.DatabaseMigration) ([]dbv1.PreCheckResult, error)
	// Apply runs the plan whose hash is opts.ExpectHash, under the
	// database's lock, if it is still the plan and was not applied before.
	Apply(ctx context.Context, dbm *dbv1.DatabaseMigration, opts ApplyOptions) (*Applied, error)
	// Release drops the scratch resources planning made for dbm. It never
	// touches the target schema.
	Release(ctx context.Context, dbm *dbv1.DatabaseMigration) error
	// ApplyGreen is the blue-green apply: it copies the target (blue) to
	// the database green on the same server, applies the approved plan
	// there, statement for statement, and runs the validation scripts on
	// green. Blue is never written. A complete copy is reused; ask
	// GreenRevision first whether green has the plan already.
	ApplyGreen(ctx context.Context, dbm *dbv1.DatabaseMigration, green string, opts ApplyOptions) (*GreenApplied, error)
	// GreenRevision finds the revision a blue-green apply of the plan
	// hash recorded on green; ok is false when there is none (or no
	// green).
	GreenRevision(ctx context.Context, dbm *dbv1.DatabaseMigration, green, hash string) (revision int64, ok bool, err error)
	// DropGreen drops green (a failed or abandoned copy).
	DropGreen(ctx context.Context, dbm *dbv1.DatabaseMigration, green string) error
}

// GreenApplied is what a blue-green apply did.
type GreenApplied struct {
	// Revision is the plan's row in green's revision table.
	Revision int64
	// Rows is how many rows the copy moved (0 when a complete copy was
	// reused).
	Rows int64
}

// Plan is a computed plan, in the API's vocabulary.
type Plan struct {
	Hash        string
	Statements  []string
	Changes     []string
	Diagnostics []dbv1.Diagnostic
	Destructive bool
	Rollback    []string
	Scripts     []dbv1.PlannedScript
}

// ApplyOptions says what plan to apply and how.
type ApplyOptions struct {
	// ExpectHash is the approved plan's hash; the apply refuses any other.
	ExpectHash string
	// Approver is recorded in the revision table.
	Approver string
	// Deadline bounds the apply; zero means none.
	Deadline time.Time
	// Progress is called after each step.
	Progress func(done, total int, current string)
	// Rolling runs the plan a script at a time with a checkpoint after
	// each (spec.migration.strategy rolling); StepTimeouts bound each
	// script by name and Step is told where it stands.
	Rolling      bool
	Parallel     bool
	StepTimeouts map[string]time.Duration
	Step         func(StepProgress)
	// Rollback decides whether a failure is rolled back (spec.rollback);
	// nil means never. RollingBack is called before a rollback starts.
	Rollback    func(error) bool
	RollingBack func()
	// Graceful lets the step running at the deadline finish.
	Graceful bool
	// MaxLockTime bounds each stretch of the apply that blocks writers
	// (performanceThresholds.maxDowntime).
	MaxLockTime time.Duration
	// ShadowTable makes each table change through a shadow table.
	ShadowTable *planner.ShadowTableOptions
	// CopyProgress is told how a blue-green copy moves, table by table.
	CopyProgress func(table string, done, total int64)
}

// StepProgress is where a rolling apply stands.
type StepProgress = planner.StepProgress

// Applied is what an apply did.
type Applied struct {
	// Revision is the row id in kube_shift_revisions.
	Revision int64
	// AlreadyApplied is true when the plan's revision was recorded before:
	// nothing ran this time.
	AlreadyApplied bool
	// Resumed is the number of rolling steps an interrupted apply had
	// committed.
	Resumed int
	// LongestLock is the longest stretch the apply blocked writers.
	LongestLock time.Duration
}

// Errors a Migrator returns that the reconciler branches on. Others are
// transient: the reconcile is retried with backoff.
var (
	// ErrPlanChanged: the live plan's hash is not the approved one (the
	// schema or the scripts moved since review). Nothing was applied.
	ErrPlanChanged = errors.New("the plan changed since it was approved")
	// ErrLockBusy: another apply holds the database's lock.
	ErrLockBusy = errors.New("another migration holds the database lock")
	// ErrDeadlineExceeded: the apply passed maxMigrationTime.
	ErrDeadlineExceeded = errors.New("the apply passed its deadline")
	// ErrMaxDowntimeExceeded: a stretch of the apply blocked writers
	// longer than maxDowntime and was stopped.
	ErrMaxDowntimeExceeded = errors.New("the apply blocked writers longer than maxDowntime")
	// ErrDataCorruption: a data integrity check found rows lost or
	// changed.
	ErrDataCorruption = errors.New("data integrity check failed")
	// ErrRolledBack marks a failure that was rolled back: the schema is
	// the one the apply started from.
	ErrRolledBack = errors.New("rolled back")
)

// PermanentError is a failure that retrying will not fix: bad SQL, a
// checksum mismatch, a Secret without the keys it needs. The reconciler
// reports it and waits for the spec or a source to change.
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

// Notifier tells people about a migration's phase changes (Slack, e-mail).
// Notify is called once per change, after the status is written; it must
// return at once and never fail the migration: delivery, retries and
// reporting failures are the Notifier's own business.
type Notifier interface {
	Notify(ctx context.Context, dbm *dbv1.DatabaseMigration)
	// Delivery is the latest outcome per channel for an object, shown in
	// its Notified condition.
	deliveries
}
