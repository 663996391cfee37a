package controller

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/metrics"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

// desiredSchemaName is how a declarative schema appears among the planned
// sources.
const desiredSchemaName = "desiredSchema"

// atlasMigrator is the production Migrator: it loads sources through the
// API (the manager's cache), resolves the target from the connection
// Secret, and plans and applies with the Atlas-based planner.
type atlasMigrator struct {
	reader  client.Reader
	targets *Targets
	loader  *source.Loader
	planner planner.Planner
}

// NewMigrator returns the Migrator that binds migrations to their
// databases through targets and plans with p (its DevURL is set per
// migration from the dev database the migration or its target names).
func NewMigrator(targets *Targets, p planner.Planner) Migrator {
	if p.Cache == nil {
		// The migrator plans a migration, and applies it once approved,
		// with the one planner: its apply reuses the plan it made.
		p.Cache = planner.NewPlanCache(planCacheBudget)
		p.Cache.Observe = func(hit bool) {
			result := "miss"
			if hit {
				result = "hit"
			}
			metrics.PlanCache.WithLabelValues(result).Inc()
		}
	}
	return &atlasMigrator{reader: targets.Reader, targets: targets, loader: source.NewLoader(targets.Reader), planner: p}
}

// planCacheBudget is the statement bytes the migrator's plan cache holds.
const planCacheBudget = 64 << 20

// loaded is a migration's sources, read and verified.
type loaded struct {
	// input is what the planner plans and applies, the validation
	// scripts included.
	input planner.Input
	// planned names every source with its checksum.
	planned []dbv1.PlannedScript
	// engine and database are the database's type and name; target
	// names its target, if it has one.
	engine   dbv1.DatabaseType
	database string
	target   *dbv1.TargetID
	// secrets hides the text of the secret-sourced sources in what a plan
	// or an apply shows.
	secrets *redactor
}

// load reads a migration's sources; engine is its database's type.
func (m *atlasMigrator) load(ctx context.Context, dbm *dbv1.DatabaseMigration, engine dbv1.DatabaseType) (*loaded, error) {
	scripts, err := m.loader.LoadScripts(ctx, dbm)
	if err != nil {
		return nil, err
	}
	l := &loaded{input: planner.Input{Settings: settingsText(dbm)}}
	for _, s := range scripts {
		l.planned = append(l.planned, dbv1.PlannedScript{Name: s.Name, Checksum: s.Checksum})
		// Validation scripts check the result after the apply; they are
		// not part of the schema change.
		if s.Type == script.TypeValidation {
			l.input.Validations = append(l.input.Validations, s)
		} else {
			l.input.Scripts = append(l.input.Scripts, s)
		}
	}
	l.secrets = newRedactor(engine, scripts)
	if dbm.Spec.Migration.DesiredSchema != nil {
		desired, err := m.loader.LoadDesired(ctx, dbm)
		if err != nil {
			return nil, err
		}
		l.input.Desired = &planner.Desired{Format: planner.SchemaFormat(desired.Format), Text: desired.Text, Exclude: desired.Exclude}
		l.secrets.addDesired(desired)
		l.planned = append(l.planned, dbv1.PlannedScript{Name: desiredSchemaName, Checksum: desired.Checksum})
	}
	if len(l.input.Scripts) == 0 && l.input.Desired == nil {
		return nil, Permanent(dbv1.ReasonPlanFailed, errors.New("the migration has only validation scripts: add a schema or data script, or a desiredSchema"))
	}
	return l, nil
}

// Sources implements Migrator.
func (m *atlasMigrator) Sources(ctx context.Context, dbm *dbv1.DatabaseMigration) ([]dbv1.PlannedScript, error) {
	l, err := m.load(ctx, dbm, "")
	if err != nil {
		return nil, err
	}
	return l.planned, nil
}

// Plan implements Migrator.
func (m *atlasMigrator) Plan(ctx context.Context, dbm *dbv1.DatabaseMigration) (*Plan, error) {
	l, p, target, err := m.prepare(ctx, dbm)
	if err != nil {
		return nil, err
	}
	plan, err := p.Plan(ctx, target, l.input)
	if err != nil {
		return nil, l.secrets.redact(l.safe(err))
	}
	out := l.secrets.plan(plan, l.planned)
	out.DatabaseType, out.Database = l.engine, l.database
	return out, nil
}

// PreCheck implements Migrator.
func (m *atlasMigrator) PreCheck(ctx context.Context, dbm *dbv1.DatabaseMigration) ([]dbv1.PreCheckResult, error) {
	b, err := m.targets.bind(ctx, dbm)
	if err != nil {
		return nil, err
	}
	target, err := m.targets.open(ctx, b)
	if err != nil {
		return nil, err
	}
	return runPreChecks(ctx, dbm, target)
}

// Apply implements Migrator.
func (m *atlasMigrator) Apply(ctx context.Context, dbm *dbv1.DatabaseMigration, opts planner.ApplyOptions) (*planner.ApplyResult, error) {
	l, p, target, err := m.prepare(ctx, dbm)
	if err != nil {
		return nil, err
	}
	opts.Identity = fmt.Sprintf("%s/%s (uid %s)", dbm.Namespace, dbm.Name, dbm.UID)
	opts.Progress = l.secrets.progress(opts.Progress)
	res, err := p.Apply(ctx, target, l.input, opts)
	return res, l.secrets.redact(l.safe(err))
}

// Release implements Migrator. The planner drops its scratch dev databases
// at the end of every plan, so a deleted migration holds nothing to free.
func (m *atlasMigrator) Release(context.Context, *dbv1.DatabaseMigration) error {
	return nil
}

// prepare reads everything a plan or an apply of dbm needs: its sources,
// a planner with its dev database, and its target.
func (m *atlasMigrator) prepare(ctx context.Context, dbm *dbv1.DatabaseMigration) (*loaded, *planner.Planner, *database.Target, error) {
	b, err := m.targets.bind(ctx, dbm)
	if err != nil {
		return nil, nil, nil, err
	}
	l, err := m.load(ctx, dbm, b.config.Type)
	if err != nil {
		return nil, nil, nil, err
	}
	l.engine, l.database, l.target = b.config.Type, b.config.Database, b.target
	devURL, err := resolveDevURL(ctx, m.reader, b)
	if err != nil {
		return nil, nil, nil, err
	}
	p := m.planner
	p.DevURL = devURL
	target, err := m.targets.open(ctx, b)
	if err != nil {
		return nil, nil, nil, err
	}
	return l, &p, target, nil
}

// safe is err as a migration on a target may show it: a failure to reach
// the target says so and why in a word (refused, timeout, DNS, TLS, auth),
// without the dialer's own words about a host the namespace did not
// choose. A statement or check that failed keeps its message.
func (l *loaded) safe(err error) error {
	if l.target == nil || err == nil || errors.Is(err, planner.ErrApplyFailed) || errors.Is(err, planner.ErrVerifyFailed) {
		return err
	}
	return database.SafeConnError(l.target.String(), err)
}
