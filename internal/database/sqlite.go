package database

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver
)

const sqliteName = sqlite.DriverName

func init() { register(sqliteEngine{}) }

// sqliteEngine is SQLite through modernc.org/sqlite (no cgo). The URL's
// path is the database file; ":memory:" is a private in-memory database.
type sqliteEngine struct{}

func (sqliteEngine) Name() string { return sqliteName }

func (sqliteEngine) Kinds() []Kind { return []Kind{KindSQLite} }

func (sqliteEngine) Schemes() []string { return []string{"sqlite", "sqlite3"} }

func (sqliteEngine) BuildURL(cfg Config, _, _ string) (*url.URL, error) {
	if cfg.Database == "" {
		return nil, errors.New("database (the file path) is required for sqlite")
	}
	return &url.URL{Scheme: "sqlite", Path: cfg.Database}, nil
}

func inMemory(u *url.URL) bool {
	return u.Path == ":memory:" || u.Path == "" || u.Query().Get("mode") == "memory"
}

// Open ignores roots: a file has no certificate.
func (sqliteEngine) Open(ctx context.Context, u *url.URL, _ *x509.CertPool) (*sql.DB, error) {
	path := u.Path
	if inMemory(u) {
		path = ":memory:"
	}
	// A writer waits for a busy database instead of failing at once;
	// foreign keys are enforced, as a user of the file expects.
	params := url.Values{"_pragma": {"busy_timeout(5000)", "foreign_keys(1)"}}
	driverName := "sqlite"
	if inMemory(u) {
		// In memory is where planning replays unreviewed scripts.
		driverName = confinedDriver
	}
	db, err := sql.Open(driverName, path+"?"+params.Encode())
	if err != nil {
		return nil, err
	}
	if inMemory(u) {
		// Each connection to :memory: is a database of its own: keep one.
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	db, err = pinged(ctx, db)
	if isBusy(err) {
		// Another connection holds the exclusive lock an apply takes.
		return nil, errors.Join(ErrLockBusy, err)
	}
	return db, err
}

// SSLMode is disable: a file is not reached over a network.
func (sqliteEngine) SSLMode(*url.URL) SSLMode { return SSLModeDisable }

func isBusy(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked"))
}

func (sqliteEngine) Schema(*url.URL) string { return "main" }

func (sqliteEngine) Identity(u *url.URL) string {
	if inMemory(u) {
		return "sqlite://:memory:"
	}
	path, err := filepath.Abs(u.Path)
	if err != nil {
		path = u.Path
	}
	return "sqlite://" + path
}

func (sqliteEngine) Redact(u *url.URL) string {
	s := "sqlite://" + u.Path
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}

// Driver is Atlas's SQLite driver on q, its inspection's queries asked
// as sqliteInspector asks them.
func (sqliteEngine) Driver(q schema.ExecQuerier) (migrate.Driver, error) {
	return sqlite.Open(sqliteInspector{q})
}

func (sqliteEngine) Server() bool { return false }

func (sqliteEngine) TransactionalDDL() bool { return true }

// Lock begins an exclusive transaction on conn: no other connection may
// write (or, outside WAL mode, read) until it ends. The plan then runs in
// that same transaction (see Begin); Unlock rolls back whatever is left.
func (sqliteEngine) Lock(ctx context.Context, conn *sql.Conn, _ string, wait time.Duration) (Unlock, error) {
	ms := max(wait.Milliseconds(), 1)
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(ms, 10)); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		if isBusy(err) {
			return nil, errors.Join(ErrLockBusy, err)
		}
		return nil, err
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil && !strings.Contains(err.Error(), "no transaction") {
			return err
		}
		return nil
	}, nil
}

// Begin returns the exclusive transaction Lock began.
// After a commit (a rolling apply commits each step) it begins the next
// exclusive transaction, which takes the lock again.
func (sqliteEngine) Begin(ctx context.Context, conn *sql.Conn) (Tx, error) {
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil && !strings.Contains(err.Error(), "within a transaction") {
		if isBusy(err) {
			return nil, errors.Join(ErrLockBusy, err)
		}
		return nil, err
	}
	return &lockTx{conn}, nil
}

// lockTx is the transaction a SQLite Lock holds open on its connection.
type lockTx struct{ *sql.Conn }

func (t *lockTx) Commit() error {
	_, err := t.ExecContext(context.Background(), "COMMIT")
	return err
}

func (t *lockTx) Rollback() error {
	_, err := t.ExecContext(context.Background(), "ROLLBACK")
	return err
}

// Scratch is an in-memory database: nothing to create or drop.
func (sqliteEngine) Scratch(context.Context, *sql.DB, *url.URL) (*url.URL, func(context.Context) error, error) {
	return &url.URL{Scheme: "sqlite", Path: ":memory:"}, func(context.Context) error { return nil }, nil
}

// Inspecting runs inspect as it is.
func (sqliteEngine) Inspecting(_ context.Context, _ Querier, inspect func() error) error {
	return inspect()
}

func (sqliteEngine) revisions() revisionDialect {
	return revisionDialect{
		// No AUTOINCREMENT: it would add sqlite_sequence to the schema.
		create: `CREATE TABLE IF NOT EXISTS ` + RevisionTable + ` (
	id integer PRIMARY KEY,
	plan_hash text NOT NULL,
	object text NOT NULL,
	scripts text NOT NULL,
	approver text NOT NULL,
	started_at datetime NOT NULL,
	finished_at datetime,
	status text NOT NULL,
	statements_done integer NOT NULL,
	statements_total integer NOT NULL,
	error text NOT NULL
)`,
		exists:      `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '` + RevisionTable + `'`,
		placeholder: func(int) string { return "?" },
	}
}
