package bluegreen

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// Green's schema is created from blue's Atlas inspection in three stages
// around the rows: bare tables before (columns, defaults, primary keys,
// checks), then indexes (built once over all rows rather than maintained
// row by row), then foreign keys (checked once, and never in the way of the
// order tables are filled in). Each table is planned on its own, so an
// error names it.

// createTables creates the engine's schema objects (PostgreSQL enums) and
// every table, bare.
func (c *cloner) createTables(ctx context.Context) error {
	if err := c.extra.beforeTables(ctx, c.out); err != nil {
		return err
	}
	drv, err := c.greenDriver()
	if err != nil {
		return err
	}
	for _, o := range c.src.Objects {
		if err := apply(ctx, drv, &schema.AddObject{O: o}); err != nil {
			return fmt.Errorf("creating %T: %w", o, err)
		}
	}
	for _, t := range c.src.Tables {
		if err := apply(ctx, drv, &schema.AddTable{T: c.bare(t)}); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
	}
	return nil
}

// bare is t without its foreign keys and without the indexes that can
// wait for the rows, with its columns as the engine creates them in green.
// t itself is left as inspected: the later stages use it.
func (c *cloner) bare(t *schema.Table) *schema.Table {
	b := *t
	b.Columns = make([]*schema.Column, 0, len(t.Columns))
	for _, col := range t.Columns {
		b.Columns = append(b.Columns, c.extra.column(t, col))
	}
	b.Indexes = slices.DeleteFunc(slices.Clone(t.Indexes), func(idx *schema.Index) bool {
		return !c.d.keepWithTable(t, idx)
	})
	b.ForeignKeys = nil
	if c.d.keyAfterRows() {
		b.PrimaryKey = nil
	}
	return &b
}

func (c *cloner) createIndexes(ctx context.Context) error {
	drv, err := c.greenDriver()
	if err != nil {
		return err
	}
	for _, t := range c.src.Tables {
		var add []schema.Change
		if t.PrimaryKey != nil && c.d.keyAfterRows() {
			add = append(add, &schema.AddPrimaryKey{P: t.PrimaryKey})
		}
		for _, idx := range t.Indexes {
			if !c.d.keepWithTable(t, idx) {
				add = append(add, &schema.AddIndex{I: idx})
			}
		}
		if err := apply(ctx, drv, modify(t, add)...); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
	}
	return nil
}

func (c *cloner) createForeignKeys(ctx context.Context) error {
	drv, err := c.greenDriver()
	if err != nil {
		return err
	}
	for _, t := range c.src.Tables {
		var add []schema.Change
		for _, fk := range t.ForeignKeys {
			add = append(add, &schema.AddForeignKey{F: fk})
		}
		if err := apply(ctx, drv, modify(t, add)...); err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
	}
	return nil
}

// modify wraps changes to t in a ModifyTable; none when there are none.
func modify(t *schema.Table, changes []schema.Change) []schema.Change {
	if len(changes) == 0 {
		return nil
	}
	return []schema.Change{&schema.ModifyTable{T: t, Changes: changes}}
}

// apply plans and runs changes on green. Statements are unqualified: they
// land in the schema green's session is bound to, which has blue's
// schema's name (PostgreSQL) or is green itself (MySQL).
func apply(ctx context.Context, drv migrate.Driver, changes ...schema.Change) error {
	if len(changes) == 0 {
		return nil
	}
	return drv.ApplyChanges(ctx, changes, unqualified)
}

// unqualified plans statements without a schema name.
func unqualified(o *migrate.PlanOptions) {
	empty := ""
	o.SchemaQualifier = &empty
}

// createViews creates blue's views in green. A view may read another view
// that sorts after it, so views are created in rounds: each round creates
// what it can, until all exist or a round makes no progress (then the first
// failure is the error).
func (c *cloner) createViews(ctx context.Context) error {
	pending := c.views
	for len(pending) > 0 {
		var failed []database.View
		var first error
		for _, v := range pending {
			if _, err := c.out.ExecContext(ctx, createView(c.green.Engine, v)); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed = append(failed, v)
				first = cmp.Or(first, fmt.Errorf("view %s: %w", v.Name, err))
			}
		}
		if len(failed) == len(pending) {
			return first
		}
		pending = failed
	}
	c.res.Views = len(c.views)
	return nil
}

func createView(e database.Engine, v database.View) string {
	return "CREATE VIEW " + e.Quote(v.Name) + " AS " + v.Def
}
