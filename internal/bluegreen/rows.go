package bluegreen

import (
	"context"
	"fmt"

	"ariga.io/atlas/sql/schema"
)

// copyRows copies every table's rows from the snapshot into green, one
// table after the other, and checks each table's count.
func (c *cloner) copyRows(ctx context.Context) error {
	for _, t := range c.src.Tables {
		n, err := c.copyTable(ctx, t)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.Name, err)
		}
		c.res.Rows += n
	}
	c.res.Tables = len(c.src.Tables)
	return nil
}

// copyTable copies one table and returns its row count. Progress hears of
// the rows written against the server's estimate of the table's rows (a
// count would read the table once more), and last of the rows written as
// the table's total; a table whose copy stored another number of rows
// than blue's server sent from the snapshot fails.
func (c *cloner) copyTable(ctx context.Context, t *schema.Table) (int64, error) {
	tc := c.tableCopy(t)
	if len(tc.columns) == 0 {
		// A PostgreSQL table may have rows and no column, or only
		// generated ones: nothing to select, and a copy would lose them.
		var n int64
		if err := c.snap.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tc.from).Scan(&n); err != nil {
			return 0, fmt.Errorf("counting rows: %w", err)
		}
		if n > 0 {
			return 0, fmt.Errorf("%d rows but no column that can be copied", n)
		}
		c.report(t.Name, 0, 0)
		return 0, nil
	}
	estimate, err := c.d.estimateRows(ctx, c.snap.conn, c.blue.Schema(), t.Name)
	if err != nil {
		return 0, fmt.Errorf("reading the table's size: %w", err)
	}
	total, done := max(estimate, 0), int64(0)
	c.report(t.Name, 0, total)
	read, written, err := c.d.copyRows(ctx, c.snap.conn, c.out, tc, c.opts.batchSize(), func(n int64) {
		done += n
		c.report(t.Name, done, total)
	})
	if err != nil {
		return written, err
	}
	if written != read {
		return written, &RowCountError{Table: t.Name, Blue: read, Written: written}
	}
	if total != written {
		c.report(t.Name, written, written)
	}
	return written, nil
}

// tableCopy names t for both sessions and lists the columns to copy.
func (c *cloner) tableCopy(t *schema.Table) tableCopy {
	tc := tableCopy{
		name: t.Name,
		from: c.d.table(c.blue.Schema(), t.Name),
		into: c.d.table(c.green.Schema(), t.Name),
	}
	for _, col := range t.Columns {
		if !generated(col) {
			tc.columns = append(tc.columns, c.blue.Engine.Quote(col.Name))
		}
	}
	return tc
}

// generated reports a column the server computes, which cannot be
// written.
func generated(c *schema.Column) bool {
	for _, a := range c.Attrs {
		if _, ok := a.(*schema.GeneratedExpr); ok {
			return true
		}
	}
	return false
}
