package planner

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlcheck"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// pendingScripts drops the scripts the revision table records as applied
// (same name and checksum): a versioned plan runs only what is new.
func pendingScripts(ctx context.Context, target *database.Target, q database.Querier, scripts []script.Script) ([]script.Script, error) {
	applied, err := database.RevisionsOn(target.Engine, q).AppliedScripts(ctx)
	if err != nil {
		return nil, err
	}
	var pending []script.Script
	for _, s := range scripts {
		if !applied[database.ScriptRecord{Name: s.Name, Checksum: checksum(s)}] {
			pending = append(pending, s)
		}
	}
	return pending, nil
}

func checksum(s script.Script) string {
	if s.Checksum != "" {
		return s.Checksum
	}
	return script.Checksum([]byte(s.SQL))
}

// schemaChanging matches statements that may change the schema; the dev
// database is inspected only after those.
var schemaChanging = regexp.MustCompile(`(?is)^\s*(CREATE|ALTER|DROP|RENAME|COMMENT)\b`)

// dataStatement matches statements that read or write rows: they change
// no schema, so planning does not run them on the dev database (replay is
// code execution before review); the plan says what they write instead.
var dataStatement = regexp.MustCompile(`(?is)^\s*(INSERT|UPDATE|DELETE|MERGE|REPLACE|TRUNCATE|COPY|LOAD|SELECT|WITH|VALUES|TABLE|CALL|EXECUTE|HANDLER)\b`)

// replayed says whether planning runs a statement of s on the dev
// database: in a data script only what changes the schema, in a schema
// script everything but row reads and writes.
func replayed(s script.Script, stmt string) bool {
	if s.Type == script.TypeData {
		return schemaChanging.MatchString(stmt)
	}
	return !dataStatement.MatchString(stmt)
}

// dataChange describes a statement that was not replayed, for the plan's
// summary of changes: what it writes, never its text (which may come from
// a Secret).
func dataChange(name string, index int, stmt string) string {
	verb := strings.ToUpper(strings.Fields(stmt)[0])
	what := "reads rows"
	if tables := sqlstatic.WrittenTables(stmt); len(tables) > 0 {
		what = "writes rows of " + strings.Join(tables, ", ")
	}
	return fmt.Sprintf("data: script %s, statement %d (%s) %s; not run while planning", name, index+1, verb, what)
}

// planVersioned replays the live schema and then every pending statement on
// the dev database, recording what each statement changes.
func planVersioned(ctx context.Context, live *liveState, dev *devState, scripts []script.Script) (*Plan, error) {
	if err := dev.load(ctx, live.schema, live.views); err != nil {
		return nil, fmt.Errorf("replaying the live schema on the dev database: %w", err)
	}
	before, err := dev.inspect(ctx)
	if err != nil {
		return nil, err
	}
	beforeViews, err := dev.views(ctx)
	if err != nil {
		return nil, err
	}
	engineType := sqlstatic.Dialect(live.target.Engine.Kinds()[0])
	plan := &Plan{Statements: []string{}}
	var (
		renames     []rename
		all         []schema.Change
		dataChanges []string
	)
	cur := before
	for _, s := range scripts {
		decls, err := migrate.Stmts(s.SQL)
		if err != nil {
			return nil, &InvalidSQLError{Script: s.Name, Index: -1, Err: err}
		}
		offset := len(plan.Statements)
		file := &sqlcheck.File{
			File: migrate.NewLocalFile(s.Name+".sql", []byte(s.SQL)),
			From: schema.NewRealm(cur),
		}
		start := cur
		var lines sqlstatic.LineCounter
		for i, st := range decls {
			plan.Statements = append(plan.Statements, st.Text)
			plan.Steps = append(plan.Steps, Step{Script: s.Name, Index: i, Line: lines.At(s.SQL, st.Pos)})
			// Every statement has its entry in the file's changes, empty
			// when it changes no schema, as in Atlas's own replay: the
			// analyzers read patterns by position (SQLite's copy of a
			// table is CREATE, INSERT, DROP, RENAME, four entries).
			change := &sqlcheck.Change{Stmt: st}
			file.Changes = append(file.Changes, change)
			if !replayed(s, st.Text) {
				dataChanges = append(dataChanges, dataChange(s.Name, i, st.Text))
				continue
			}
			if _, err := dev.db.ExecContext(ctx, st.Text); err != nil {
				return nil, &InvalidSQLError{Script: s.Name, Index: i, Statement: st.Text, Err: err}
			}
			if !schemaChanging.MatchString(st.Text) {
				continue
			}
			next, err := dev.inspect(ctx)
			if err != nil {
				return nil, err
			}
			changes, err := dev.drv.SchemaDiff(cur, next)
			if err != nil {
				return nil, fmt.Errorf("script %s, statement %d: %w", s.Name, i+1, err)
			}
			changes, rs := detectRenames(changes, st.Text)
			renames = append(renames, rs...)
			cur = next
			change.Changes = changes
			all = append(all, changes...)
		}
		file.To = schema.NewRealm(cur)
		if file.Sum, err = dev.drv.SchemaDiff(start, cur); err != nil {
			return nil, err
		}
		diags, err := lint(ctx, dev, file, decls, offset)
		if err != nil {
			return nil, err
		}
		static, destroys := staticLint(engineType, s.SQL, decls, offset)
		plan.Diagnostics = append(append(plan.Diagnostics, diags...), static...)
		plan.Destructive = plan.Destructive || destroys
		plan.Scripts = append(plan.Scripts, database.ScriptRecord{Name: s.Name, Checksum: checksum(s)})
	}
	dev.known = cur
	afterViews, err := dev.views(ctx)
	if err != nil {
		return nil, err
	}
	plan.Changes = describe(all)
	_, _, viewSummary := viewChanges(dev.target.Engine, beforeViews, afterViews)
	plan.Changes = append(append(plan.Changes, viewSummary...), dataChanges...)
	plan.Destructive = plan.Destructive || destructiveChange(all) || hasDestructiveDiag(plan.Diagnostics)

	// The rollback is the diff from the schema the scripts leave back to
	// the live one, with the scripts' renames undone as renames.
	back, err := dev.drv.SchemaDiff(cur, before)
	if err != nil {
		return nil, err
	}
	plan.renames = renames
	back = applyRenames(back, reversed(renames))
	plan.Rollback, err = planStatements(ctx, dev.drv, back, dev.target.Engine, afterViews, beforeViews)
	if err != nil {
		return nil, fmt.Errorf("planning the rollback: %w", err)
	}
	return plan, nil
}

// planStatements plans changes plus the view changes around them.
func planStatements(ctx context.Context, drv migrate.Driver, changes []schema.Change, e database.Engine, fromViews, toViews []database.View) ([]string, error) {
	drops, creates, _ := viewChanges(e, fromViews, toViews)
	out := append([]string{}, drops...)
	if len(changes) > 0 {
		p, err := drv.PlanChanges(ctx, "plan", changes, unqualified)
		if err != nil {
			return nil, err
		}
		for _, c := range p.Changes {
			out = append(out, c.Cmd)
		}
	}
	return append(out, creates...), nil
}

func hasDestructiveDiag(diags []Diagnostic) bool {
	for _, d := range diags {
		if len(d.Code) >= 2 && d.Code[:2] == "DS" {
			return true
		}
	}
	return false
}
