package bluegreen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	atlasmysql "ariga.io/atlas/sql/mysql"
	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func init() {
	dialects[atlasmysql.DriverName] = func(c database.Catalog) dialect { return mysqlDialect{c} }
}

// mysqlDialect clones a MySQL or MariaDB database into another database
// of the same server.
type mysqlDialect struct {
	database.Catalog
}

// connURL turns off the driver's parsing of dates: values then cross from
// blue to green as the server's own text, zero dates included, instead of
// going through time.Time.
func (mysqlDialect) connURL(u *url.URL) *url.URL {
	c := *u
	q := c.Query()
	q.Set("parseTime", "false")
	c.RawQuery = q.Encode()
	return &c
}

func (mysqlDialect) placeholder(int) string { return "?" }

// table is the bare name: each session is bound to its own database.
func (d mysqlDialect) table(_, name string) string { return d.Quote(name) }

func (mysqlDialect) exists(ctx context.Context, q database.Querier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n)
	return n > 0, err
}

// createDatabase gives green blue's default character set and collation,
// which its tables inherit as blue's did.
func (d mysqlDialect) createDatabase(ctx context.Context, q database.Querier, green string) error {
	var charset, collation string
	err := q.QueryRowContext(ctx, "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata WHERE schema_name = DATABASE()").Scan(&charset, &collation)
	if err != nil {
		return fmt.Errorf("reading blue's character set: %w", err)
	}
	create := "CREATE DATABASE " + d.Quote(green) + " CHARACTER SET " + charset + " COLLATE " + collation
	if _, err := q.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("creating database %s (the user needs CREATE on it): %w", green, err)
	}
	return nil
}

func (d mysqlDialect) dropDatabase(ctx context.Context, q database.Querier, name string) error {
	_, err := q.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.Quote(name))
	return err
}

// mysqlTimeLayout is how the server prints a DATETIME(6).
const mysqlTimeLayout = "2006-01-02 15:04:05.999999"

// beginSnapshot starts a transaction WITH CONSISTENT SNAPSHOT, which
// takes the snapshot at once rather than at the first read. Both sessions
// use UTC, so TIMESTAMP values cross unshifted, even in the hour a
// daylight-saving change repeats. net_write_timeout is raised because the
// server waits, mid-stream, while a batch is written to green.
func (mysqlDialect) beginSnapshot(ctx context.Context, conn *sql.Conn) (time.Time, error) {
	err := execAll(ctx, conn,
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION net_write_timeout = 600",
		"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
	if err != nil {
		return time.Time{}, err
	}
	var at string
	if err := conn.QueryRowContext(ctx, "SELECT UTC_TIMESTAMP(6)").Scan(&at); err != nil {
		return time.Time{}, err
	}
	return time.Parse(mysqlTimeLayout, at)
}

// mysqlWriterMode is the writing session's sql_mode: strict, so that a
// value the server would change fails loudly rather than being stored
// altered; NO_AUTO_VALUE_ON_ZERO, so that a copied id 0 stays 0; and
// accepting the dates (zero, or with a zero day) an earlier, laxer mode
// may have let into blue.
const mysqlWriterMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES"

func (mysqlDialect) prepareWriter(ctx context.Context, conn *sql.Conn) error {
	return execAll(ctx, conn,
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION sql_mode = '"+mysqlWriterMode+"'")
}

// mysqlUnsupported lists what Atlas's open-source driver does not inspect
// (triggers, routines, events, MariaDB sequences) and partitioning, which
// a copy would silently drop.
const mysqlUnsupported = `
SELECT CONCAT('trigger ', trigger_name) FROM information_schema.triggers WHERE trigger_schema = ?
UNION ALL
SELECT CONCAT(LOWER(routine_type), ' ', routine_name) FROM information_schema.routines WHERE routine_schema = ?
UNION ALL
SELECT CONCAT('event ', event_name) FROM information_schema.events WHERE event_schema = ?
UNION ALL
SELECT CONCAT('sequence ', table_name) FROM information_schema.tables WHERE table_schema = ? AND table_type = 'SEQUENCE'
UNION ALL
SELECT DISTINCT CONCAT('partitioned table ', table_name) FROM information_schema.partitions WHERE table_schema = ? AND partition_name IS NOT NULL
ORDER BY 1`

func (mysqlDialect) unsupported(ctx context.Context, q database.Querier, schemaName string) ([]string, error) {
	return database.QueryStrings(ctx, q, mysqlUnsupported, schemaName, schemaName, schemaName, schemaName, schemaName)
}

// readExtras: Atlas carries MySQL tables whole, AUTO_INCREMENT counters
// included.
func (mysqlDialect) readExtras(context.Context, database.Querier, string) (extras, error) {
	return noExtras{}, nil
}

func (mysqlDialect) keyAfterRows() bool { return false }

// estimateRows reads InnoDB's estimate, which may be off by half, of a
// table in the session's database.
func (mysqlDialect) estimateRows(ctx context.Context, q database.Querier, _, table string) (int64, error) {
	var n sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !n.Valid {
		return -1, nil
	}
	return n.Int64, err
}

// keepWithTable keeps the indexes of the AUTO_INCREMENT column: MySQL
// refuses a table whose AUTO_INCREMENT column is not indexed.
func (mysqlDialect) keepWithTable(_ *schema.Table, idx *schema.Index) bool {
	for _, p := range idx.Parts {
		if p.C != nil && autoIncrement(p.C) {
			return true
		}
	}
	return false
}

func autoIncrement(c *schema.Column) bool {
	for _, a := range c.Attrs {
		if _, ok := a.(*atlasmysql.AutoIncrement); ok {
			return true
		}
	}
	return false
}

func (mysqlDialect) markerDDL(table string) string {
	return "CREATE TABLE " + table + ` (
	blue varchar(64) NOT NULL PRIMARY KEY,
	snapshot_at datetime(6) NOT NULL,
	completed_at datetime(6) NOT NULL,
	table_count int NOT NULL,
	row_count bigint NOT NULL
)`
}

func (mysqlDialect) now() string { return "UTC_TIMESTAMP(6)" }
