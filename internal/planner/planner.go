package planner

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// Input is what to plan: scripts (versioned) or a desired schema
// (declarative), exactly one of them.
type Input struct {
	// Scripts are the versioned scripts, already in dependsOn order.
	Scripts []script.Script
	// Desired is the full desired schema.
	Desired *Desired
	// Validations are the validation scripts the apply runs after its last
	// statement. They never run while planning, but they run on the
	// target, so the plan's hash covers them.
	Validations []script.Script
	// Settings is a canonical text of how the plan runs (strategy and its
	// settings, rollback and switch settings): part of the hash, so a
	// reviewer's approval covers them too.
	Settings string
}

// Desired is a declarative migration's target schema.
type Desired struct {
	// Format is sql or hcl (Atlas HCL); empty means sql.
	Format SchemaFormat
	// Text is the schema document.
	Text string
	// Exclude are globs of tables (or table.column) neither side of the
	// diff sees.
	Exclude []string
}

// SchemaFormat is the language a desired schema is written in. Its values
// are the API's SchemaFormat values, so one converts to the other as it is.
type SchemaFormat string

const (
	SchemaFormatSQL SchemaFormat = "sql"
	SchemaFormatHCL SchemaFormat = "hcl"
)

// Plan is a dry-run plan: what would run, what it changes, what Atlas's
// analyzers found, and how to take it back.
type Plan struct {
	// Hash is sha256 over the statements, the target's identity and the
	// live schema's fingerprint.
	Hash string
	// Statements run in this order.
	Statements []string
	// Steps say which script each statement comes from (versioned mode).
	Steps []Step
	// Changes summarise the schema change for a person.
	Changes []string
	// Diagnostics are lint findings; Statement indexes Statements.
	Diagnostics []Diagnostic
	// Destructive is true when the plan drops a table, column, schema or
	// data.
	Destructive bool
	// Rollback takes the schema back to what it was before the plan.
	Rollback []string
	// Scripts are the scripts this plan runs (the pending ones).
	Scripts []database.ScriptRecord
	// Validations are the validation scripts the apply runs after the
	// last statement, read-only, as they were planned (the hash covers
	// them): a reviewer reads them with the statements.
	Validations []Validation

	// renames are the renames its statements make, so a rollback from
	// any point undoes them as renames.
	renames []rename
}

// Validation is a validation script as planned.
type Validation struct {
	Name string
	SQL  string
}

// validationsOf are in's validation scripts as a plan shows them.
func validationsOf(in Input) []Validation {
	var out []Validation
	for _, s := range in.Validations {
		out = append(out, Validation{Name: s.Name, SQL: s.SQL})
	}
	return out
}

// Empty reports whether the plan has nothing to run.
func (p *Plan) Empty() bool { return len(p.Statements) == 0 }

// Step places a statement in its script.
type Step struct {
	// Script is the script's name; empty in declarative mode.
	Script string
	// Index is the statement's 0-based index in its script.
	Index int
	// Line is the statement's 1-based line in its script's text (0 in
	// declarative mode, whose statements no file holds), where a
	// reviewer or a linter's annotation finds it.
	Line int
}

// Planner plans and applies migrations.
type Planner struct {
	// DevURL is the migration's own dev database (Atlas-style URL,
	// planning.devDatabase), emptied before and after each plan. It must
	// not be on the target's server.
	DevURL string
	// DevServers are the operator's dev-database servers (Atlas-style
	// URLs), keyed by engine name ("postgres", "mysql"): with no DevURL, a
	// plan creates a scratch database on the one of its engine and drops
	// it afterwards. SQLite replays in memory, confined. The target's
	// server is never used for replay: an engine without a dev server
	// cannot be planned.
	DevServers map[string]string
	// AllowSQL are the kinds of statements reaching outside the
	// migration's database that the platform lets through the static gate
	// (see sqlstatic.Gate); none by default.
	AllowSQL map[sqlstatic.Reach]bool
	// LockWait bounds the wait for the database's migration lock; zero
	// means 30 seconds.
	LockWait time.Duration
	// Cache, when set, keeps the plans computed, so that an apply whose
	// target, live schema and input are the planned ones takes its plan
	// from there instead of replaying it again (see PlanCache); nil plans
	// every time.
	Cache *PlanCache
}

// Plan computes the plan of in against target. It never writes to the
// target.
func (p *Planner) Plan(ctx context.Context, target *database.Target, in Input) (*Plan, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	db, err := target.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	// One session for every read: the inspection's settings are a
	// session's (see inspectTarget).
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, connErr(target, err)
	}
	defer func() { _ = conn.Close() }()
	plan, _, err := p.plan(ctx, target, db, conn, in)
	return plan, err
}

// plan computes the plan reading the target through q: the pool, or the
// connection (or transaction) that holds the lock during an apply. It
// returns the live schema it planned against too: an apply rolls back to it.
func (p *Planner) plan(ctx context.Context, target *database.Target, db *sql.DB, q database.Querier, in Input) (*Plan, *liveState, error) {
	live, err := openLive(ctx, target, db, q, in.exclude())
	if err != nil {
		return nil, nil, err
	}
	plan, err := p.planOn(ctx, target, db, live, in)
	return plan, live, err
}

// planOn computes the plan of in against the inspected live schema.
func (p *Planner) planOn(ctx context.Context, target *database.Target, db *sql.DB, live *liveState, in Input) (*Plan, error) {
	var err error
	var pending []script.Script
	if in.Desired == nil {
		if pending, err = pendingScripts(ctx, target, live.q, in.Scripts); err != nil {
			return nil, err
		}
	}
	var key [sha256.Size]byte
	if p.Cache != nil {
		server, err := target.Engine.ServerVersion(ctx, live.q)
		if err != nil {
			return nil, fmt.Errorf("reading the server version of %s: %w", target, err)
		}
		key = p.cacheKey(target, live, server, pending, in)
		if plan := p.Cache.get(key); plan != nil {
			plan.Hash = planHash(target, live, plan, in)
			plan.Validations = validationsOf(in)
			return plan, nil
		}
	}
	if err := p.gate(target, in); err != nil {
		return nil, err
	}
	plan := &Plan{Statements: []string{}}
	if in.Desired != nil || len(pending) > 0 {
		dev, err := p.openDev(ctx, target, live.q)
		if err != nil {
			return nil, err
		}
		defer dev.close()
		if plan, err = replay(ctx, live, dev, in.Desired, pending); err != nil {
			return nil, err
		}
	}
	plan.Hash = planHash(target, live, plan, in)
	plan.Validations = validationsOf(in)
	p.Cache.put(key, plan)
	return plan, nil
}

// replay plans the desired schema, or else the scripts, from the live
// schema on the dev database.
func replay(ctx context.Context, live *liveState, dev *devState, desired *Desired, scripts []script.Script) (*Plan, error) {
	if desired != nil {
		return planDeclarative(ctx, live, dev, desired)
	}
	return planVersioned(ctx, live, dev, scripts)
}

func (in Input) validate() error {
	switch {
	case in.Desired != nil && len(in.Scripts) > 0:
		return errors.New("plan either scripts or a desired schema, not both")
	case in.Desired == nil && len(in.Scripts) == 0:
		return errors.New("nothing to plan: no scripts and no desired schema")
	case in.Desired != nil && in.Desired.Format != "" && in.Desired.Format != SchemaFormatSQL && in.Desired.Format != SchemaFormatHCL:
		return fmt.Errorf("desired schema format %q is not sql or hcl", in.Desired.Format)
	}
	return nil
}

// The tables a shadow-table apply makes next to the one it changes: the
// shadow, the log of the keys written during the copy and (MySQL,
// MariaDB) the replay's list of them, left behind by an apply cut short
// (the next run starts them over), and the backup kept after the swap.
// None is part of the schema a plan is about: a declarative plan must not
// drop a backup, nor a resumed apply see a changed schema in a shadow or
// a log.
const (
	shadowTables = "_*_new"
	shadowLogs   = "_*_shadow_log"
	shadowKeys   = "_*_shadow_keys"
	backupTables = "_*_old"
)

// exclude is what no inspection of the target sees: the revision table,
// the marker a blue-green copy leaves, shadow-table's shadows and backups,
// and the desired schema's exclude globs.
func (in Input) exclude() []string {
	ex := []string{database.RevisionTable, bluegreen.MarkerTable, shadowTables, shadowLogs, shadowKeys, backupTables}
	if in.Desired != nil {
		ex = append(ex, in.Desired.Exclude...)
	}
	return ex
}

// inspectOptions are the options of every inspection.
func inspectOptions(exclude []string) *schema.InspectOptions {
	return &schema.InspectOptions{Exclude: exclude}
}
