package bluegreen

import (
	"context"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// MarkerTable is the table Clone writes into green as its last step: one
// row naming blue, the snapshot time and what was copied. A green without
// it is unfinished. Clone never copies it, so a green that became blue
// after a switch can be cloned in turn. The planner should ignore it like
// the revision table.
const MarkerTable = "kube_shift_clone"

// Exists reports whether a database called name is on blue's (target's)
// server: a green from an earlier run, finished or not.
func Exists(ctx context.Context, target *database.Target, name string) (bool, error) {
	d, err := dialectFor(target)
	if err != nil {
		return false, err
	}
	db, err := open(ctx, target.WithURL(d.connURL(target.URL)))
	if err != nil {
		return false, err
	}
	defer func() { _ = db.Close() }()
	found, err := d.exists(ctx, db, name)
	if err != nil {
		return false, fmt.Errorf("looking for database %s: %w", name, err)
	}
	return found, nil
}

// Drop drops the database green from blue's (target's) server. On
// PostgreSQL it ends the sessions still connected to green; on MySQL the
// drop waits for transactions using green's tables. Dropping a database
// that is not there is not an error, so a rollback or a cleanup can be
// retried. It refuses to drop the database target itself points at.
func Drop(ctx context.Context, target *database.Target, green string) error {
	d, err := dialectFor(target)
	if err != nil {
		return err
	}
	if err := checkGreenName(d, target, green); err != nil {
		return err
	}
	db, err := open(ctx, target.WithURL(d.connURL(target.URL)))
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if err := d.dropDatabase(ctx, db, green); err != nil {
		return fmt.Errorf("dropping database %s: %w", green, err)
	}
	return nil
}

// Complete reports whether green is a finished clone of blue (target): it
// exists and holds the marker Clone writes last, naming blue. A green that
// a failed, cancelled or crashed Clone left behind is not complete.
func Complete(ctx context.Context, target *database.Target, green string) (bool, error) {
	found, err := Exists(ctx, target, green)
	if err != nil || !found {
		return false, err
	}
	d, _ := dialectFor(target)
	gt := target.WithURL(d.connURL(withDatabase(target.URL, green)))
	db, err := open(ctx, gt)
	if err != nil {
		return false, err
	}
	defer func() { _ = db.Close() }()
	var tables int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "+
		d.placeholder(1)+" AND table_name = "+d.placeholder(2), gt.Schema(), MarkerTable).Scan(&tables)
	if err != nil || tables == 0 {
		return false, wrapMarker(green, err)
	}
	var marks int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+d.table(gt.Schema(), MarkerTable)+" WHERE blue = "+d.placeholder(1),
		databaseName(target.URL)).Scan(&marks)
	return marks > 0, wrapMarker(green, err)
}

// wrapMarker names green in an error reading its marker.
func wrapMarker(green string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("reading the clone marker of database %s: %w", green, err)
}

// writeMarker creates the marker table and its one row. It is the last
// step: whatever stops a clone before it leaves green unmarked.
func (c *cloner) writeMarker(ctx context.Context) error {
	marker := c.d.table(c.green.Schema(), MarkerTable)
	if _, err := c.out.ExecContext(ctx, c.d.markerDDL(marker)); err != nil {
		return err
	}
	ph := c.d.placeholder
	insert := fmt.Sprintf("INSERT INTO %s (blue, snapshot_at, completed_at, table_count, row_count) VALUES (%s, %s, %s, %s, %s)",
		marker, ph(1), ph(2), c.d.now(), ph(3), ph(4))
	_, err := c.out.ExecContext(ctx, insert, c.blueName, c.res.SnapshotAt.UTC(), c.res.Tables, c.res.Rows)
	return err
}
