package database

import (
	"context"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
)

// Engine is what kube-shift needs from one database engine.
type Engine interface {
	// Name is the engine's Atlas dialect name ("postgres", "mysql",
	// "sqlite"), the name its analyzers are registered under.
	Name() string
	// Kinds are the kinds of database this engine serves.
	Kinds() []Kind
	// Schemes are the URL schemes this engine accepts.
	Schemes() []string

	// BuildURL builds the engine's Atlas-style URL for cfg, with the
	// credentials from its Secret.
	BuildURL(cfg Config, user, password string) (*url.URL, error)
	// Open opens a handle on u and checks that it connects. roots, when
	// set, are the only authorities a server's certificate may chain to
	// (Target.RootCAs).
	Open(ctx context.Context, u *url.URL, roots *x509.CertPool) (*sql.DB, error)
	// SSLMode is how u secures its connection, in the API's vocabulary.
	SSLMode(u *url.URL) SSLMode
	// Schema names the schema u addresses: the search_path schema (default
	// public) in PostgreSQL, the database in MySQL, main in SQLite.
	Schema(u *url.URL) string
	// Identity is u without credentials or options: what a plan is for.
	Identity(u *url.URL) string
	// Redact returns u as text safe for errors and logs.
	Redact(u *url.URL) string

	// Driver opens Atlas's driver on q: a pool, a connection or a
	// transaction.
	Driver(q schema.ExecQuerier) (migrate.Driver, error)

	// TransactionalDDL reports whether schema changes can run in a
	// transaction that rolls all of them back on failure.
	TransactionalDDL() bool
	// Server reports whether the database is a server that other
	// sessions use while a migration holds its lock: false for SQLite,
	// whose lock is one connection's exclusive transaction on a file, so
	// nothing runs beside it (no parallel steps, no shadow copy).
	Server() bool
	// Lock takes the engine's migration lock for key on conn, waiting at
	// most wait. It returns ErrLockBusy when another session keeps it.
	Lock(ctx context.Context, conn *sql.Conn, key string, wait time.Duration) (Unlock, error)
	// Begin starts the transaction a plan runs in, on the conn holding the
	// lock. Only for engines with TransactionalDDL.
	Begin(ctx context.Context, conn *sql.Conn) (Tx, error)
	// Scratch creates an empty dev database on the dev server that server
	// and u address (never a target's: replay runs unreviewed scripts), or
	// in memory for SQLite (both nil), and returns its URL and a function
	// that drops it.
	Scratch(ctx context.Context, server *sql.DB, u *url.URL) (*url.URL, func(context.Context) error, error)
	// Inspecting runs inspect, an Atlas inspection through q (a
	// connection or a transaction, of a target or a dev database), under
	// the engine's session settings for it, and gives q's session (or
	// transaction) its own back.
	Inspecting(ctx context.Context, q Querier, inspect func() error) error

	// EvalHCL reads an Atlas HCL schema document into realm.
	EvalHCL(data []byte, realm *schema.Realm) error
	// Catalog reads names, tables and columns the engine's way.
	Catalog
	// ServerVersion names the server and its version, for the connection
	// pre-check.
	ServerVersion(ctx context.Context, q Querier) (string, error)
	// ServerID names the server q is connected to, whatever name its URL
	// gave it (an address, another DNS name, a host in its query): two
	// sessions with the same ServerID are on one server. Empty for an
	// engine without servers.
	ServerID(ctx context.Context, q Querier) (string, error)
	// MissingPrivileges lists what the connected user lacks of what a
	// migration needs on schema, read from the engine's privilege
	// catalogue (nothing is tried on the target).
	MissingPrivileges(ctx context.Context, q Querier, schema string) ([]string, error)
	// DiskUsage reports the database's size and, where the engine can
	// tell, the free space it grows into.
	DiskUsage(ctx context.Context, q Querier, u *url.URL) (DiskUsage, error)

	// revisions is the engine's SQL for the revision table.
	revisions() revisionDialect
}

// serverEngine is an engine whose connections go to a server: its
// connector is what a connection limit wraps (openLimited).
type serverEngine interface {
	connector(u *url.URL, roots *x509.CertPool) (driver.Connector, error)
}

// View is a view and its definition (the SELECT) as the server keeps it.
type View struct {
	Name string
	Def  string
}

// Unlock releases a lock taken by Engine.Lock.
type Unlock func() error

// Querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is a transaction a plan runs in.
type Tx interface {
	Querier
	Commit() error
	Rollback() error
}

var (
	byKind   = map[Kind]Engine{}
	byScheme = map[string]Engine{}
)

// register makes e available by its kinds and schemes; engines call it
// from init.
func register(e Engine) {
	for _, k := range e.Kinds() {
		byKind[k] = e
	}
	for _, s := range e.Schemes() {
		byScheme[s] = e
	}
}

// For returns the engine of a kind of database.
func For(k Kind) (Engine, error) {
	if e, ok := byKind[k]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("database type %q is not supported (want one of %s)", k, strings.Join(supportedKinds(), ", "))
}

// forScheme returns the engine of a URL scheme.
func forScheme(scheme string) (Engine, error) {
	if e, ok := byScheme[strings.ToLower(scheme)]; ok {
		return e, nil
	}
	schemes := make([]string, 0, len(byScheme))
	for s := range byScheme {
		schemes = append(schemes, s)
	}
	sort.Strings(schemes)
	return nil, fmt.Errorf("URL scheme %q is not supported (want one of %s)", scheme, strings.Join(schemes, ", "))
}

func supportedKinds() []string {
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	return kinds
}
