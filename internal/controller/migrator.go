package controller

import (
	"context"

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
	// database's lock, if it is still the plan and was not applied before,
	// with the strategy opts name (see planner.Planner.Apply). The
	// Migrator fills in what it knows: the identity recorded in the
	// revision table and the validation scripts.
	Apply(ctx context.Context, dbm *dbv1.DatabaseMigration, opts planner.ApplyOptions) (*planner.ApplyResult, error)
	// Release drops the scratch resources planning made for dbm. It never
	// touches the target schema.
	Release(ctx context.Context, dbm *dbv1.DatabaseMigration) error
}

// Plan is a computed plan, in the API's vocabulary.
type Plan struct {
	Hash string
	// DatabaseType and Database say what the plan was computed against.
	DatabaseType dbv1.DatabaseType
	Database     string

	Statements  []string
	Changes     []string
	Diagnostics []dbv1.Diagnostic
	Destructive bool
	Rollback    []string
	Scripts     []dbv1.PlannedScript
	Validations []dbv1.PlannedValidation
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
