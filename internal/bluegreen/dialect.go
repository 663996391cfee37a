package bluegreen

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// dialect is one engine's way of doing each step of a clone: its
// snapshot, its bulk copy, and the catalogue queries only a clone needs;
// names and quoting come from the engine's catalogue. The steps themselves
// are the same for every engine (see clone.go).
type dialect interface {
	database.Catalog

	// connURL is the URL this package's own connections use for u, which
	// may differ from u in driver parameters only.
	connURL(u *url.URL) *url.URL
	// placeholder is the n-th (from 1) bind parameter of a statement.
	placeholder(n int) string
	// table names table of schema for a connection bound to the database
	// holding it.
	table(schema, name string) string

	// exists reports whether the server has a database of that name.
	exists(ctx context.Context, q database.Querier, name string) (bool, error)
	// createDatabase creates green with the defaults (encoding, locale,
	// character set) of the database q is connected to.
	createDatabase(ctx context.Context, q database.Querier, green string) error
	// dropDatabase drops a database if it exists (PostgreSQL also ends
	// the sessions connected to it, which would stop the drop).
	dropDatabase(ctx context.Context, q database.Querier, name string) error

	// beginSnapshot sets conn's session up for reading and starts the
	// read-only transaction whose snapshot the whole copy reads; it returns
	// the server's clock at that moment.
	beginSnapshot(ctx context.Context, conn *sql.Conn) (time.Time, error)
	// prepareWriter sets up the session that writes green, so that values
	// read as text go back in unchanged.
	prepareWriter(ctx context.Context, conn *sql.Conn) error
	// unsupported names the objects of schema a clone cannot copy.
	unsupported(ctx context.Context, q database.Querier, schema string) ([]string, error)
	// readExtras reads, under the snapshot, what the engine's tables need
	// besides what Atlas inspects.
	readExtras(ctx context.Context, q database.Querier, schema string) (extras, error)
	// keepWithTable reports whether an index must be created with its table
	// instead of after the rows (MySQL's AUTO_INCREMENT column must be
	// indexed from the start).
	keepWithTable(t *schema.Table, idx *schema.Index) bool
	// keyAfterRows reports whether a primary key is added after the rows,
	// built in one sorted pass as pg_dump's restore builds it, rather
	// than kept up row by row (InnoDB clusters the rows on it: a key
	// added later rebuilds the table).
	keyAfterRows() bool
	// estimateRows is the server's estimate of a table's rows, from its
	// statistics, or -1 when it has none. Progress shows it: counting
	// the rows first would read the whole table once more (70-110 ms of a
	// 1,000,000-row copy's 1.8-4.4 s here).
	estimateRows(ctx context.Context, q database.Querier, schema, table string) (int64, error)
	// copyRows streams the rows of one table from src (under the snapshot)
	// into dst, calling flushed with the rows written since its last call
	// (about every batch rows). It returns the rows blue's server sent and
	// the rows green's stored, which the caller compares.
	copyRows(ctx context.Context, src, dst *sql.Conn, t tableCopy, batch int, flushed func(int64)) (read, written int64, err error)

	// markerDDL creates the marker table, named as table() names it.
	markerDDL(table string) string
	// now is the SQL for the server's current time in UTC.
	now() string
}

// extras is what a table of one engine needs beside what Atlas's
// open-source drivers inspect and create, read from blue under the
// snapshot and recreated in green around the tables.
type extras interface {
	// excluded names blue's tables and views that something other than
	// the schema creates in green (an extension's own tables), which the
	// clone leaves alone.
	excluded() []string
	// beforeTables creates in green what its tables need to exist.
	beforeTables(ctx context.Context, green database.Querier) error
	// column is the column to create in green for blue's column c of t.
	column(t *schema.Table, c *schema.Column) *schema.Column
	// afterRows finishes green once its rows are in: sequences take blue's
	// values, so new rows do not collide with copied ones.
	afterRows(ctx context.Context, green database.Querier) error
}

// tableCopy is one table's copy: where the rows come from and go to.
type tableCopy struct {
	// name is the table's name, for errors.
	name string
	// from and into are the table as blue's and green's connections name
	// it, quoted.
	from, into string
	// columns are the quoted columns copied, in order: all but generated
	// ones, which the server computes.
	columns []string
}

// dialects maps an engine's Atlas name to its dialect, built on the
// engine's catalogue.
var dialects = map[string]func(c database.Catalog) dialect{}

// Supports reports whether blue-green copies have a dialect for e.
func Supports(e database.Engine) bool {
	_, ok := dialects[e.Name()]
	return ok
}

// dialectFor returns the dialect of target's engine.
func dialectFor(target *database.Target) (dialect, error) {
	if target == nil || target.Engine == nil || target.URL == nil {
		return nil, fmt.Errorf("%w: no target database", ErrEngine)
	}
	newDialect, ok := dialects[target.Engine.Name()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrEngine, target.Engine.Name())
	}
	return newDialect(target.Engine), nil
}

// execAll runs statements one by one, stopping at the first failure.
func execAll(ctx context.Context, q database.Querier, stmts ...string) error {
	for _, s := range stmts {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// noExtras is an engine whose tables Atlas carries whole.
type noExtras struct{}

func (noExtras) excluded() []string                                      { return nil }
func (noExtras) beforeTables(context.Context, database.Querier) error    { return nil }
func (noExtras) column(_ *schema.Table, c *schema.Column) *schema.Column { return c }
func (noExtras) afterRows(context.Context, database.Querier) error       { return nil }
