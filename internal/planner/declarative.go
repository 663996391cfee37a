package planner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlcheck"
)

const desiredName = "desired schema"

// planDeclarative loads the desired schema on the dev database (so Atlas
// sees it in the server's own normal form), diffs the live schema to it and
// plans the diff. A rename here is a drop and an add: the plan says so as
// destructive.
func planDeclarative(ctx context.Context, live *liveState, dev *devState, want *Desired) (*Plan, error) {
	if err := loadDesired(ctx, dev, want); err != nil {
		return nil, err
	}
	desired, err := inspectDesired(ctx, dev, live.exclude)
	if err != nil {
		return nil, err
	}
	desiredViews, err := dev.views(ctx)
	if err != nil {
		return nil, err
	}
	desiredViews = excludeViews(desiredViews, live.exclude)
	// The dev schema has its own name and defaults; only the tables are
	// compared.
	desired.Name, desired.Attrs = live.schema.Name, live.schema.Attrs

	changes, err := live.drv.SchemaDiff(live.schema, desired)
	if err != nil {
		return nil, fmt.Errorf("diffing the live schema to the desired one: %w", err)
	}
	engine := live.target.Engine
	plan := &Plan{Statements: []string{}}
	drops, creates, viewSummary := viewChanges(engine, live.views, desiredViews)
	plan.Statements = append(plan.Statements, drops...)
	var planned *migrate.Plan
	if len(changes) > 0 {
		if planned, err = live.drv.PlanChanges(ctx, "plan", changes, unqualified); err != nil {
			return nil, fmt.Errorf("planning the diff: %w", err)
		}
		for _, c := range planned.Changes {
			plan.Statements = append(plan.Statements, c.Cmd)
		}
	}
	plan.Statements = append(plan.Statements, creates...)
	plan.Changes = append(describe(changes), viewSummary...)
	plan.Steps = make([]Step, len(plan.Statements))
	for i := range plan.Steps {
		plan.Steps[i] = Step{Index: i}
	}

	if planned != nil {
		file, decls := lintFile(live, desired, planned, len(drops))
		diags, err := lint(ctx, dev, file, decls, 0)
		if err != nil {
			return nil, err
		}
		plan.Diagnostics = diags
	}
	plan.Destructive = destructiveChange(changes) || hasDestructiveDiag(plan.Diagnostics)
	for _, s := range viewSummary {
		plan.Destructive = plan.Destructive || strings.HasPrefix(s, "drop view")
	}

	back, err := live.drv.SchemaDiff(desired, live.schema)
	if err != nil {
		return nil, err
	}
	if plan.Rollback, err = planStatements(ctx, live.drv, back, engine, desiredViews, live.views); err != nil {
		return nil, fmt.Errorf("planning the rollback: %w", err)
	}
	return plan, nil
}

// inspectDesired inspects the desired schema loaded on the dev database,
// leaving out what exclude names. It inspects the whole dev schema and
// filters it as Atlas's own inspection does (schema.ExcludeSchema): when
// the filter removed nothing, what is left is all the dev database holds,
// and emptying it afterwards needs no second inspection (of 2,000 tables,
// seconds).
func inspectDesired(ctx context.Context, dev *devState, exclude []string) (*schema.Schema, error) {
	s, err := dev.inspectSchema(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspecting the desired schema on the dev database: %w", err)
	}
	before := objectCount(s)
	if s, err = schema.ExcludeSchema(s, exclude); err != nil {
		return nil, fmt.Errorf("inspecting the desired schema on the dev database: %w", err)
	}
	// A pattern with a dot may remove parts of a table (a column, a
	// foreign key) that dropping the table needs to know of.
	whole := !slices.ContainsFunc(exclude, func(p string) bool { return strings.Contains(p, ".") })
	if whole && objectCount(s) == before {
		dev.known = s
	}
	return s, nil
}

// objectCount counts the top-level objects of s an exclusion may remove.
func objectCount(s *schema.Schema) int {
	return len(s.Tables) + len(s.Views) + len(s.Funcs) + len(s.Procs) + len(s.Objects)
}

// loadDesired creates the desired schema on the (empty) dev database.
func loadDesired(ctx context.Context, dev *devState, want *Desired) error {
	if want.Format == SchemaFormatHCL {
		realm := &schema.Realm{}
		if err := dev.target.Engine.EvalHCL([]byte(want.Text), realm); err != nil {
			return &InvalidSQLError{Script: desiredName, Index: -1, Err: err}
		}
		var s *schema.Schema
		switch len(realm.Schemas) {
		case 0:
			return &InvalidSQLError{Script: desiredName, Index: -1, Err: errors.New("the HCL document defines no schema")}
		case 1:
			s = realm.Schemas[0]
		default:
			return &InvalidSQLError{Script: desiredName, Index: -1, Err: errors.New("the HCL document defines more than one schema")}
		}
		s.Name = dev.target.Schema()
		if err := dev.load(ctx, s, nil); err != nil {
			return &InvalidSQLError{Script: desiredName, Index: -1, Err: err}
		}
		return nil
	}
	decls, err := migrate.Stmts(want.Text)
	if err != nil {
		return &InvalidSQLError{Script: desiredName, Index: -1, Err: err}
	}
	for i, st := range decls {
		if _, err := dev.db.ExecContext(ctx, st.Text); err != nil {
			return &InvalidSQLError{Script: desiredName, Index: i, Statement: st.Text, Err: err}
		}
	}
	return nil
}

// lintFile presents a declarative plan to the analyzers as a migration
// file: its statements, each with the schema change that produced it.
func lintFile(live *liveState, desired *schema.Schema, planned *migrate.Plan, offset int) (*sqlcheck.File, []*migrate.Stmt) {
	var (
		text  strings.Builder
		decls []*migrate.Stmt
		file  = &sqlcheck.File{From: schema.NewRealm(live.schema), To: schema.NewRealm(desired)}
		seen  = map[schema.Change]bool{}
	)
	for i := 0; i < offset; i++ {
		// View drops come first in the plan; keep the indexes aligned.
		decls = append(decls, &migrate.Stmt{Pos: text.Len(), Text: "-- view"})
		text.WriteString("-- view\n")
	}
	for _, c := range planned.Changes {
		st := &migrate.Stmt{Pos: text.Len(), Text: c.Cmd + ";"}
		decls = append(decls, st)
		text.WriteString(st.Text + "\n")
		if c.Source != nil && !seen[c.Source] {
			seen[c.Source] = true
			file.Changes = append(file.Changes, &sqlcheck.Change{Changes: schema.Changes{c.Source}, Stmt: st})
			file.Sum = append(file.Sum, c.Source)
		}
	}
	file.File = migrate.NewLocalFile("plan.sql", []byte(text.String()))
	return file, decls
}
