package lint

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// Planning turns on the planner's lint: each migration the webhook
// admits is planned as the operator would plan it, and what Atlas's
// analyzers and kube-shift's own checks find is reported with the
// webhook's findings, at the line of the statement.
type Planning struct {
	// DevURLs are the dev databases scripts replay on, keyed by engine
	// name ("postgres", "mysql"; "sqlite" too, though SQLite replays in
	// memory without one). A URL that names a database is emptied before
	// and after each plan; one that names only a server gets a scratch
	// database per plan, dropped after it.
	DevURLs map[string]string
	// LiveURL, when set, is the database whose live schema the
	// migrations of its engine are planned against, as the operator
	// plans them. The others are planned as if their database were empty.
	LiveURL string
}

// Types of the findings about planning itself rather than about a
// statement.
const (
	// TypeNotPlanned: the migration could not be planned offline (its
	// text comes from a Secret, a source is missing); the webhook's
	// findings stand alone.
	TypeNotPlanned = "NotPlanned"
	// TypePlanFailed: a statement failed on the dev database.
	TypePlanFailed = "PlanFailed"
	// TypeBlocked: the operator would block the plan (destructive under
	// policy.destructive: block).
	TypeBlocked = "Blocked"
)

// ErrNoDevDatabase is a migration on a database server with no dev
// database to plan it on.
var ErrNoDevDatabase = errors.New("no dev database")

// planning is a Planning ready to use.
type planning struct {
	devURLs map[string]string
	// live is the database LiveURL names; nil without one.
	live *database.Target
	// allowSQL is the manager's --allow-sql, which the planner's static
	// gate applies as the webhook's does.
	allowSQL map[sqlstatic.Reach]bool
}

func newPlanning(p *Planning, o Options) (*planning, error) {
	out := &planning{devURLs: p.DevURLs, allowSQL: o.AllowSQL}
	if p.LiveURL != "" {
		t, err := database.ParseURL(p.LiveURL)
		if err != nil {
			return nil, fmt.Errorf("--url: %w", err)
		}
		out.live = t
	}
	return out, nil
}

// binding is where a migration runs and under which policy, as the input
// describes them.
type binding struct {
	config dbv1.DatabaseConfig
	policy dbv1.Policy
}

// bind reads a migration's database (inline or its target's) and its
// policy tightened by the target's; false when the input does not say
// (a target the input lacks, which the webhook reports).
func bind(ctx context.Context, r client.Reader, dbm *dbv1.DatabaseMigration) (binding, bool) {
	ref := dbm.Spec.TargetRef
	if ref == nil {
		if dbm.Spec.Database == nil {
			return binding{}, false
		}
		return binding{config: *dbm.Spec.Database, policy: dbm.Spec.Policy}, true
	}
	id := ref.ID(dbm.Namespace)
	key := client.ObjectKey{Namespace: id.Namespace, Name: id.Name}
	if id.Kind == dbv1.KindClusterDatabaseTarget {
		var t dbv1.ClusterDatabaseTarget
		if r.Get(ctx, key, &t) != nil {
			return binding{}, false
		}
		return binding{config: t.Spec.Connection(), policy: t.Spec.Policy.Tighten(dbm.Spec.Policy)}, true
	}
	var t dbv1.DatabaseTarget
	if r.Get(ctx, key, &t) != nil {
		return binding{}, false
	}
	return binding{config: t.Spec.Connection(), policy: t.Spec.Policy.Tighten(dbm.Spec.Policy)}, true
}

// engineOf is the engine a database block names; nil for a type the
// database package does not know (which the webhook refuses).
func engineOf(cfg dbv1.DatabaseConfig) database.Engine {
	e, err := database.For(database.Kind(cfg.Type))
	if err != nil {
		return nil
	}
	return e
}

// checkDevDatabases fails, before anything is planned, when a migration
// on a database server has no dev database: every one missing is named.
func (p *planning) checkDevDatabases(ctx context.Context, r client.Reader, dbms []*dbv1.DatabaseMigration) error {
	missing := map[string][]string{}
	for _, dbm := range dbms {
		b, ok := bind(ctx, r, dbm)
		if !ok {
			continue
		}
		e := engineOf(b.config)
		if e == nil || !e.Server() || p.devURLs[e.Name()] != "" {
			continue
		}
		missing[e.Name()] = append(missing[e.Name()], dbm.Namespace+"/"+dbm.Name)
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, engine := range slices.Sorted(maps.Keys(missing)) {
		parts = append(parts, fmt.Sprintf("%s (DatabaseMigration %s): give one with --dev-url %s://USER:PASSWORD@HOST:PORT/DATABASE",
			engine, strings.Join(missing[engine], ", "), engine))
	}
	return fmt.Errorf("%w for %s; it must be an empty database on a server other than the migrations' own: it is emptied before and after each plan",
		ErrNoDevDatabase, strings.Join(parts, "; "))
}

// lint plans one admitted migration and returns the planner's findings
// as the lint's, and whether it was planned.
func (p *planning) lint(ctx context.Context, r client.Reader, docs []Document, i int, dbm *dbv1.DatabaseMigration) ([]Finding, bool, error) {
	notPlanned := func(why string) ([]Finding, bool, error) {
		return []Finding{locate(docs, i, dbm, Finding{Severity: SeverityInfo, Type: TypeNotPlanned, Field: "spec.migration", Message: "not planned: " + why})}, false, nil
	}
	b, ok := bind(ctx, r, dbm)
	if !ok {
		return notPlanned("the input does not say which database it runs on")
	}
	engine := engineOf(b.config)
	if engine == nil {
		return notPlanned(fmt.Sprintf("database type %q is not one the planner knows", b.config.Type))
	}
	if name, ok := secretSourced(dbm); ok {
		return notPlanned(name + " comes from a Secret, whose text the lint neither replays nor shows")
	}
	in, err := load(ctx, r, dbm)
	if err != nil {
		return notPlanned(err.Error())
	}
	pl := &planner.Planner{AllowSQL: p.allowSQL}
	if dev := p.devURLs[engine.Name()]; namesDatabase(dev) {
		pl.DevURL = dev
	} else if dev != "" {
		// A server: each plan gets a scratch database there, dropped after.
		pl.DevServers = map[string]string{engine.Name(): dev}
	}
	live := p.live != nil && p.live.Engine == engine
	var plan *planner.Plan
	if live {
		plan, err = pl.Plan(ctx, p.live, in)
	} else {
		cfg := b.config
		target, nerr := database.Nominal(database.Config{Kind: database.Kind(cfg.Type), Host: cfg.Host, Port: cfg.Port, Database: cfg.Database, SSLMode: database.SSLMode(cfg.SSLMode)})
		if nerr != nil {
			return notPlanned(nerr.Error())
		}
		plan, err = pl.PlanEmpty(ctx, target, in)
	}
	var invalid *planner.InvalidSQLError
	if errors.As(err, &invalid) {
		return []Finding{replayFailed(docs, i, dbm, in, invalid, live)}, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: DatabaseMigration %s/%s: planning: %w", docs[i].File, dbm.Namespace, dbm.Name, err)
	}
	return p.findings(docs, i, dbm, plan, b.policy), true, nil
}

// namesDatabase says whether a dev URL names a database, rather than only
// a server to make scratch databases on.
func namesDatabase(raw string) bool {
	t, err := database.ParseURL(raw)
	return err == nil && (!t.Engine.Server() || strings.Trim(t.URL.Path, "/") != "")
}

// secretSourced names the first source of dbm read from a Secret.
func secretSourced(dbm *dbv1.DatabaseMigration) (string, bool) {
	for _, s := range dbm.Spec.Migration.Scripts {
		if source.IsSecret(s.Source) {
			return fmt.Sprintf("script %q", s.Name), true
		}
	}
	if d := dbm.Spec.Migration.DesiredSchema; d != nil && source.IsSecret(d.Source) {
		return "the desired schema", true
	}
	return "", false
}

// load reads a migration's sources from the input, as the operator reads
// them from the cluster: scripts in dependsOn order, validation scripts
// apart, checksums verified.
func load(ctx context.Context, r client.Reader, dbm *dbv1.DatabaseMigration) (planner.Input, error) {
	loader := source.NewLoader(r)
	scripts, err := loader.LoadScripts(ctx, dbm)
	if err != nil {
		return planner.Input{}, err
	}
	var in planner.Input
	for _, s := range scripts {
		if s.Type == script.TypeValidation {
			in.Validations = append(in.Validations, s)
		} else {
			in.Scripts = append(in.Scripts, s)
		}
	}
	desired, err := loader.LoadDesired(ctx, dbm)
	if err != nil {
		return planner.Input{}, err
	}
	if desired != nil {
		in.Desired = &planner.Desired{Format: planner.SchemaFormat(desired.Format), Text: desired.Text, Exclude: desired.Exclude}
	}
	if len(in.Scripts) == 0 && in.Desired == nil {
		return planner.Input{}, errors.New("it has only validation scripts")
	}
	return in, nil
}

// replayFailed reports a statement that failed on the dev database. On
// the live schema the operator's plan would fail the same way: an error.
// From an empty database it may only mean the scripts build on tables
// made elsewhere: a warning that says how to know.
func replayFailed(docs []Document, i int, dbm *dbv1.DatabaseMigration, in planner.Input, e *planner.InvalidSQLError, live bool) Finding {
	f := Finding{Severity: SeverityError, Type: TypePlanFailed, Message: e.Error()}
	if !live {
		f.Severity = SeverityWarning
		f.Message += " (replayed on an empty database: if the scripts build on tables made outside this migration, plan against the live schema with --url)"
	}
	var start *Location
	f.Field, start = scriptField(docs, i, dbm, e.Script)
	if start != nil && e.Index >= 0 {
		for _, s := range in.Scripts {
			if s.Name != e.Script {
				continue
			}
			if line, ok := statementLine(s, e.Index); ok {
				f.Statement = &Location{File: start.File, Line: start.Line + line - 1}
			}
		}
	}
	return locate(docs, i, dbm, f)
}

// statementLine is the 1-based line in s's text of its statement index,
// split as the planner splits it.
func statementLine(s script.Script, index int) (int, bool) {
	stmts, err := migrate.Stmts(s.SQL)
	if err != nil || index >= len(stmts) {
		return 0, false
	}
	return strings.Count(s.SQL[:stmts[index].Pos], "\n") + 1, true
}

// findings turns the plan's diagnostics into findings. An analyzer's
// error (a destructive change) is a finding at error level where the
// operator would block the plan (policy.destructive: block) and a
// warning where a reviewer may approve it.
func (p *planning) findings(docs []Document, i int, dbm *dbv1.DatabaseMigration, plan *planner.Plan, policy dbv1.Policy) []Finding {
	blocks := policy.Destructive != dbv1.DestructiveAllowWithApproval
	var out []Finding
	errorsFound := false
	for _, d := range plan.Diagnostics {
		f := Finding{Code: d.Code, Type: d.Code, Message: d.Text, Severity: severityOf(d.Severity, blocks)}
		f.Field = "spec.migration"
		if d.Statement != nil && int(*d.Statement) < len(plan.Steps) {
			step := plan.Steps[*d.Statement]
			if step.Script == "" {
				f.Field = "spec.migration.desiredSchema"
			} else {
				var start *Location
				f.Field, start = scriptField(docs, i, dbm, step.Script)
				if start != nil && step.Line > 0 {
					f.Statement = &Location{File: start.File, Line: start.Line + step.Line - 1}
				}
			}
		}
		errorsFound = errorsFound || f.Severity == SeverityError
		out = append(out, locate(docs, i, dbm, f))
	}
	if plan.Destructive && blocks && !errorsFound {
		out = append(out, locate(docs, i, dbm, Finding{
			Severity: SeverityError, Type: TypeBlocked, Field: "spec.policy.destructive",
			Message: "the plan is destructive and spec.policy.destructive (or the target's policy) is block: the operator will block it",
		}))
	}
	return out
}

func severityOf(s planner.Severity, blocks bool) Severity {
	switch s {
	case planner.SeverityError:
		if blocks {
			return SeverityError
		}
		return SeverityWarning
	case planner.SeverityWarning:
		return SeverityWarning
	}
	return SeverityInfo
}

// scriptField is the field of the named script and, when the input holds
// its text, where that text starts.
func scriptField(docs []Document, i int, dbm *dbv1.DatabaseMigration, name string) (string, *Location) {
	for k, s := range dbm.Spec.Migration.Scripts {
		if s.Name != name {
			continue
		}
		field := fmt.Sprintf("spec.migration.scripts[%d]", k)
		at := scriptText(docs, docs[i], dbm, field+".sql")
		if s.Source == string(source.KindInline) {
			field += ".sql"
		}
		return field, at
	}
	return "spec.migration", nil
}
