package bluegreen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// DefaultBatchSize is the number of rows per batch when Options leave it
// unset: large enough that per-statement costs vanish, small enough that a
// batch of wide rows stays a few megabytes.
const DefaultBatchSize = 5000

// Options tune a clone.
type Options struct {
	// BatchSize is the most rows written to green per statement on MySQL
	// (which also bounds a batch by its bind-parameter limit and packet
	// size), and how often Progress hears of a PostgreSQL table, whose rows
	// cross in one COPY. Zero means DefaultBatchSize.
	BatchSize int
	// Progress, when set, is called as each table's copy starts (done 0)
	// and after each batch (PostgreSQL: each BatchSize rows sent), with
	// the rows of the table written so far and its total: until the last
	// call the server's estimate from its statistics (0 when it has none;
	// it may be below done), in the last, whose done equals it, the rows
	// the copy stored. It runs on Clone's goroutine: a slow Progress slows
	// the copy.
	Progress func(table string, done, total int64)
}

// batchSize is BatchSize with its default.
func (o Options) batchSize() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return DefaultBatchSize
}

// Result is what a finished clone made.
type Result struct {
	// Green is the green database's name.
	Green string
	// GreenURL is blue's URL pointing at green, blue's credentials
	// included: what the applications' Secret will say after the switch.
	// Never print or log it.
	GreenURL *url.URL
	// SnapshotAt is the server's clock when the snapshot was taken: green
	// holds blue's rows as of that instant, and nothing written later.
	SnapshotAt time.Time
	// Tables and Views are the numbers of tables and views created in
	// green; Rows the rows copied into its tables.
	Tables int
	Views  int
	Rows   int64
}

// Clone creates the database green on blue's server (target) and copies
// blue's schema (target.Schema(), the schema migrations change) and rows
// into it. See the package documentation for what is copied, and how.
//
// Everything is read under one snapshot of blue, taken when Clone starts
// and returned in Result.SnapshotAt: green is self-consistent (every
// foreign key finds its row), but writes to blue after the snapshot are not
// in green. Pause or switch blue's writers before relying on green.
//
// Clone refuses a green that already exists (ErrGreenExists) and a blue
// it cannot copy faithfully (*UnsupportedError). When it fails part way
// (an error, a cancelled ctx, a crash), green is left as it is, without
// the marker, so that Complete reports it unfinished: Drop it before
// cloning again. Errors name databases and tables, never the URL.
func Clone(ctx context.Context, target *database.Target, green string, opts Options) (*Result, error) {
	c, err := newCloner(target, green, opts)
	if err != nil {
		return nil, err
	}
	defer c.close()
	for _, s := range c.steps() {
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("cloning database %s into %s: %s: %w", c.blueName, green, s.name, err)
		}
	}
	return &c.res, nil
}

// cloner is one clone in progress: the connections it holds and what it
// has learnt of blue so far.
type cloner struct {
	d     dialect
	opts  Options
	blue  *database.Target
	green *database.Target
	// blueName is blue's database name, for errors and the marker.
	blueName string

	blueDB  *sql.DB
	snap    *snapshot
	greenDB *sql.DB
	// out is the one session that writes green, set up by
	// prepareWriter; every DDL and row goes through it.
	out *sql.Conn

	// src is blue's schema as Atlas inspected it under the snapshot.
	src   *schema.Schema
	views []database.View
	extra extras

	res Result
}

// step is one named stage of a clone; its name leads its errors.
type step struct {
	name string
	run  func(context.Context) error
}

func newCloner(target *database.Target, green string, opts Options) (*cloner, error) {
	d, err := dialectFor(target)
	if err != nil {
		return nil, err
	}
	if err := checkGreenName(d, target, green); err != nil {
		return nil, err
	}
	greenURL := withDatabase(target.URL, green)
	return &cloner{
		d:        d,
		opts:     opts,
		blue:     target.WithURL(d.connURL(target.URL)),
		green:    target.WithURL(d.connURL(greenURL)),
		blueName: databaseName(target.URL),
		res:      Result{Green: green, GreenURL: greenURL},
	}, nil
}

// steps are the clone's stages in order. Rows go in between the bare
// tables and their indexes and foreign keys; the marker goes last.
func (c *cloner) steps() []step {
	return []step{
		{"connecting to blue", c.openBlue},
		{"checking the green name", c.refuseExisting},
		{"taking a snapshot of blue", c.takeSnapshot},
		{"checking what blue holds", c.checkBlue},
		{"reading blue's schema and creating the green database", c.readBlueAndCreateGreen},
		{"creating tables", c.createTables},
		{"copying rows", c.copyRows},
		{"creating indexes", c.createIndexes},
		{"creating foreign keys", c.createForeignKeys},
		{"creating views", c.createViews},
		{"restoring sequences", c.restoreSequences},
		{"marking green complete", c.writeMarker},
	}
}

func (c *cloner) openBlue(ctx context.Context) error {
	db, err := open(ctx, c.blue)
	if err != nil {
		return err
	}
	c.blueDB = db
	return nil
}

func (c *cloner) refuseExisting(ctx context.Context) error {
	found, err := c.d.exists(ctx, c.blueDB, c.res.Green)
	switch {
	case err != nil:
		return err
	case found:
		return fmt.Errorf("%w: %s (from an earlier clone: see Complete; Drop it or pick another name)", ErrGreenExists, c.res.Green)
	}
	return nil
}

func (c *cloner) takeSnapshot(ctx context.Context) error {
	s, err := beginSnapshot(ctx, c.d, c.blueDB)
	if err != nil {
		return err
	}
	c.snap, c.res.SnapshotAt = s, s.at
	return nil
}

// checkBlue refuses, under the snapshot, a blue it cannot copy, before
// anything exists.
func (c *cloner) checkBlue(ctx context.Context) error {
	bad, err := c.d.unsupported(ctx, c.snap.conn, c.blue.Schema())
	if err != nil {
		return fmt.Errorf("listing objects: %w", err)
	}
	if len(bad) > 0 {
		return &UnsupportedError{Database: c.blueName, Objects: bad}
	}
	return nil
}

// readBlueAndCreateGreen reads blue's schema under the snapshot while
// green's database is created beside it, on a connection of the pool's:
// on PostgreSQL creating a database takes about 0.2 s, longer than
// reading a schema of a few tables (in the benchmark the clone took 4-5%
// less time). The two share nothing; the step ends when both have, and
// fails if either did (green, once created, stays as any part-way
// failure leaves it).
func (c *cloner) readBlueAndCreateGreen(ctx context.Context) error {
	created := make(chan error, 1)
	go func() { created <- c.createGreen(ctx) }()
	read := c.readBlue(ctx)
	return errors.Join(read, <-created)
}

// readBlue reads, under the snapshot, everything green will be made of
// but the rows.
func (c *cloner) readBlue(ctx context.Context) error {
	q, schemaName := c.snap.conn, c.blue.Schema()
	var err error
	if c.extra, err = c.d.readExtras(ctx, q, schemaName); err != nil {
		return err
	}
	skip := append([]string{MarkerTable}, c.extra.excluded()...)
	drv, err := c.blue.Driver(q)
	if err != nil {
		return err
	}
	err = c.blue.Engine.Inspecting(ctx, q, func() error {
		var err error
		c.src, err = drv.InspectSchema(ctx, schemaName, &schema.InspectOptions{Exclude: skip})
		return err
	})
	if err != nil {
		return fmt.Errorf("inspecting schema %s: %w", schemaName, err)
	}
	views, err := c.blue.Engine.Views(ctx, q, schemaName)
	if err != nil {
		return err
	}
	c.views = withoutNames(views, skip)
	return nil
}

// createGreen creates the database and opens the session writing it.
func (c *cloner) createGreen(ctx context.Context) error {
	if err := c.d.createDatabase(ctx, c.blueDB, c.res.Green); err != nil {
		return err
	}
	db, err := open(ctx, c.green)
	if err != nil {
		return err
	}
	c.greenDB = db
	if c.out, err = db.Conn(ctx); err != nil {
		return err
	}
	return c.d.prepareWriter(ctx, c.out)
}

// restoreSequences gives green's sequences blue's values, now that the
// rows they numbered are in.
func (c *cloner) restoreSequences(ctx context.Context) error {
	return c.extra.afterRows(ctx, c.out)
}

// close ends the snapshot and every connection. A failed clone leaves
// green as it is, for Complete to report and Drop to remove.
func (c *cloner) close() {
	if c.snap != nil {
		c.snap.end()
	}
	if c.out != nil {
		_ = c.out.Close()
	}
	for _, db := range []*sql.DB{c.greenDB, c.blueDB} {
		if db != nil {
			_ = db.Close()
		}
	}
}

// open connects to t. A *database.ConnectionError keeps its type, so
// errors.Is(err, database.ErrUnreachable) still says "try again", but names
// the database rather than its URL.
func open(ctx context.Context, t *database.Target) (*sql.DB, error) {
	db, err := t.Open(ctx)
	var ce *database.ConnectionError
	if errors.As(err, &ce) {
		return nil, &database.ConnectionError{Target: "database " + databaseName(t.URL), Err: ce.Err}
	}
	return db, err
}

// greenDriver is Atlas's driver on the session writing green.
func (c *cloner) greenDriver() (migrate.Driver, error) {
	return c.green.Driver(c.out)
}

// report passes progress on, when the caller asked for it.
func (c *cloner) report(table string, done, total int64) {
	if c.opts.Progress != nil {
		c.opts.Progress(table, done, total)
	}
}

// withoutNames drops the views named in names.
func withoutNames(views []database.View, names []string) []database.View {
	skip := map[string]bool{}
	for _, n := range names {
		skip[n] = true
	}
	var kept []database.View
	for _, v := range views {
		if !skip[v.Name] {
			kept = append(kept, v)
		}
	}
	return kept
}
