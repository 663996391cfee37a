package planner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

// BenchmarkPlan200Tables plans a change to every table of a 200-table
// schema (a new column and index on each) with kube-shift's planner and,
// on the same input and dev database, with Atlas's inspect + load on dev +
// diff + plan alone. It reports both times and their ratio (goal <= 1.2).
func BenchmarkPlan200Tables(b *testing.B) {
	const tables = 200
	var live, desired strings.Builder
	for i := range tables {
		fmt.Fprintf(&live, "CREATE TABLE t%03d (id int NOT NULL, name varchar(50) NOT NULL, PRIMARY KEY (id));\n", i)
		fmt.Fprintf(&desired, "CREATE TABLE t%03d (id int NOT NULL, name varchar(50) NOT NULL, note varchar(100), PRIMARY KEY (id));\n", i)
		fmt.Fprintf(&desired, "CREATE INDEX t%03d_name ON t%03d (name);\n", i, i)
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			d := newTestDB(b, e)
			d.exec(b, live.String())
			devURL := "sqlite://:memory:"
			if e.name != "sqlite" {
				devURL = e.fresh(b)
			}
			pl := &planner.Planner{DevURL: devURL}
			in := planner.Input{Desired: &planner.Desired{Format: planner.SchemaFormatSQL, Text: desired.String()}}
			var ours, atlas time.Duration
			for b.Loop() {
				start := time.Now()
				plan, err := pl.Plan(ctx, d.target, in)
				if err != nil {
					b.Fatal(err)
				}
				ours += time.Since(start)

				start = time.Now()
				stmts, err := rawAtlasPlan(ctx, d.target, devURL, desired.String())
				if err != nil {
					b.Fatal(err)
				}
				atlas += time.Since(start)
				if len(stmts) == 0 || len(plan.Statements) < len(stmts) {
					b.Fatalf("plans differ: ours %d statements, Atlas %d", len(plan.Statements), len(stmts))
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(ours.Milliseconds())/n, "ours-ms/op")
			b.ReportMetric(float64(atlas.Milliseconds())/n, "atlas-ms/op")
			b.ReportMetric(float64(ours)/float64(atlas), "ratio")
		})
	}
}

// rawAtlasPlan is what Atlas's schema apply --dry-run does, with the
// library alone: inspect the target, load the desired SQL on the dev
// database and inspect it, empty the dev database, diff and plan.
func rawAtlasPlan(ctx context.Context, target *database.Target, devURL, desired string) ([]string, error) {
	db, err := target.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	drv, err := target.Driver(db)
	if err != nil {
		return nil, err
	}
	live, err := drv.InspectSchema(ctx, target.Schema(), nil)
	if err != nil {
		return nil, err
	}
	dev, err := database.ParseURL(devURL)
	if err != nil {
		return nil, err
	}
	devDB, err := dev.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer devDB.Close()
	devDrv, err := dev.Driver(devDB)
	if err != nil {
		return nil, err
	}
	stmts, err := migrate.Stmts(desired)
	if err != nil {
		return nil, err
	}
	for _, s := range stmts {
		if _, err := devDB.ExecContext(ctx, s.Text); err != nil {
			return nil, err
		}
	}
	want, err := devDrv.InspectSchema(ctx, dev.Schema(), nil)
	if err != nil {
		return nil, err
	}
	drops, err := devDrv.SchemaDiff(want, &schema.Schema{Name: want.Name, Attrs: want.Attrs})
	if err != nil {
		return nil, err
	}
	noQualifier := func(o *migrate.PlanOptions) { o.SchemaQualifier = new(string) }
	if err := devDrv.ApplyChanges(ctx, drops, noQualifier); err != nil {
		return nil, err
	}
	want.Name, want.Attrs = live.Name, live.Attrs
	changes, err := drv.SchemaDiff(live, want)
	if err != nil {
		return nil, err
	}
	plan, err := drv.PlanChanges(ctx, "plan", changes, noQualifier)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(plan.Changes))
	for i, c := range plan.Changes {
		out[i] = c.Cmd
	}
	return out, nil
}
