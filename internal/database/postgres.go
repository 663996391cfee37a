package database

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

func init() { register(postgresEngine{}) }

// postgresEngine is PostgreSQL through pgx's database/sql driver.
type postgresEngine struct{}

func (postgresEngine) Name() string { return postgres.DriverName }

func (postgresEngine) Kinds() []Kind { return []Kind{KindPostgreSQL} }

func (postgresEngine) Schemes() []string { return []string{"postgres", "postgresql"} }

func (postgresEngine) BuildURL(cfg Config, user, password string) (*url.URL, error) {
	if cfg.Host == "" {
		return nil, errors.New("database host is required for postgresql")
	}
	port := cfg.Port
	if port == 0 {
		port = cfg.Kind.DefaultPort()
	}
	ssl := cfg.SSLMode
	if ssl == "" {
		ssl = cfg.Kind.DefaultSSLMode()
	}
	return &url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(cfg.Host, strconv.Itoa(int(port))),
		Path:     "/" + cfg.Database,
		RawQuery: url.Values{"sslmode": {string(ssl)}}.Encode(),
	}, nil
}

func (e postgresEngine) Open(ctx context.Context, u *url.URL, roots *x509.CertPool) (*sql.DB, error) {
	c, err := e.connector(u, roots)
	if err != nil {
		return nil, err
	}
	return pinged(ctx, sql.OpenDB(c))
}

// connector reads the URL with pgx; search_path is a run-time parameter it
// passes on, which is what binds the session to the schema. With roots and
// an sslmode of verify-ca or verify-full, every TLS attempt pgx would make
// verifies against them, as that mode says.
func (e postgresEngine) connector(u *url.URL, roots *x509.CertPool) (driver.Connector, error) {
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, err
	}
	bindSearchPath(cfg.RuntimeParams, e.Quote(e.Schema(u)))
	if mode := e.SSLMode(u); roots != nil && verifies(mode) {
		if cfg.TLSConfig != nil {
			cfg.TLSConfig = verifyingTLS(mode, cfg.Host, roots)
		}
		for _, fb := range cfg.Fallbacks {
			if fb.TLSConfig != nil {
				fb.TLSConfig = verifyingTLS(mode, fb.Host, roots)
			}
		}
	}
	return stdlib.GetConnector(*cfg), nil
}

// postgresRefused are the URL parameters pgx reads itself that a URL may
// not set (see parameterChecker): where it connects, over the URL's
// authority and path, and files it would read from the operator's disk.
var postgresRefused = map[string]string{
	"dbname":      "the database is the URL's path",
	"database":    "the database is the URL's path",
	"host":        "the server is the URL's host",
	"hostaddr":    "the server is the URL's host",
	"port":        "the server's port is the URL's",
	"service":     "the server is the URL's host, and the service file is the operator's",
	"servicefile": "it is a file of the operator's disk",
	"passfile":    "it is a file of the operator's disk: give the password in the URL",
	"sslcert":     "it is a file of the operator's disk",
	"sslkey":      "it is a file of the operator's disk",
	"sslpassword": "it decrypts a key read from the operator's disk",
	"sslrootcert": "it is a file of the operator's disk: give the CA in a caSecret",
}

func (postgresEngine) refused(key string, _ []string) string { return postgresRefused[key] }

// bindSearchPath sets the session's search_path to schema (quoted), the
// one Schema names, unless the URL set one: without it the server's
// default applies, which puts a schema named as the user first ("$user",
// public) and which a database or a role may change, so unqualified
// names would resolve to a schema other than the one inspected, planned
// and hashed. A search_path left empty is replaced too: it names no
// schema at all. The server reads parameter names in any case, so the
// URL's key is matched so.
func bindSearchPath(params map[string]string, schema string) {
	for key, value := range params {
		if strings.EqualFold(key, "search_path") {
			if value != "" {
				return
			}
			delete(params, key)
		}
	}
	params["search_path"] = schema
}

// server is where pgx connects: a host (or hostaddr) and port in the
// URL's query win over its authority, and a list of hosts is tried in
// turn, all of them named.
func (postgresEngine) server(u *url.URL) (string, bool) {
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return "", false
	}
	name := func(host string, port uint16) string {
		return net.JoinHostPort(strings.ToLower(host), strconv.Itoa(int(port)))
	}
	servers := []string{name(cfg.Host, cfg.Port)}
	for _, fb := range cfg.Fallbacks {
		if s := name(fb.Host, fb.Port); !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
	}
	return strings.Join(servers, ","), true
}

// SSLMode is the URL's sslmode; pgx's default, as libpq's, is prefer.
func (postgresEngine) SSLMode(u *url.URL) SSLMode {
	if mode := u.Query().Get("sslmode"); mode != "" {
		return SSLMode(mode)
	}
	return SSLModePrefer
}

func (postgresEngine) Schema(u *url.URL) string {
	if sps := queryValuesFold(u, "search_path"); len(sps) > 0 && sps[0] != "" {
		sp := sps[0]
		first, _, _ := strings.Cut(sp, ",")
		return strings.Trim(strings.TrimSpace(first), `"`)
	}
	return "public"
}

func (e postgresEngine) Identity(u *url.URL) string {
	return fmt.Sprintf("postgresql://%s/%s?schema=%s", hostPort(u, "5432"), strings.TrimPrefix(u.Path, "/"), e.Schema(u))
}

func (postgresEngine) Redact(u *url.URL) string { return redacted(u) }

func (postgresEngine) Driver(q schema.ExecQuerier) (migrate.Driver, error) { return postgres.Open(q) }

func (postgresEngine) Server() bool { return true }

func (postgresEngine) TransactionalDDL() bool { return true }

// Lock takes a session advisory lock: it lives as long as conn's session,
// so a crashed operator cannot leave it behind.
func (postgresEngine) Lock(ctx context.Context, conn *sql.Conn, key string, wait time.Duration) (Unlock, error) {
	h := fnv.New64a()
	_, _ = h.Write([]byte("kube-shift:" + key))
	id := int64(h.Sum64())
	err := poll(ctx, wait, func() (bool, error) {
		var ok bool
		err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok)
		return ok, err
	})
	if err != nil {
		return nil, err
	}
	return func() error {
		// A fresh context: the caller's may have expired, and the lock
		// must still be released.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", id)
		return err
	}, nil
}

func (postgresEngine) Begin(ctx context.Context, conn *sql.Conn) (Tx, error) {
	return conn.BeginTx(ctx, nil)
}

// Scratch creates a database on the dev server: a dev database must be
// empty and have the same server version and extensions at hand. Replay
// runs scripts nobody has reviewed yet, so when the server's user is a
// superuser (who may run programs and read files on the server's host),
// the scratch database is owned by a role of its own, with no other
// right, and the plan replays as that role; both go when it is dropped.
func (postgresEngine) Scratch(ctx context.Context, server *sql.DB, u *url.URL) (*url.URL, func(context.Context) error, error) {
	name := scratchName()
	ident := pgx.Identifier{name}.Sanitize()
	var super bool
	if err := server.QueryRowContext(ctx, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		return nil, nil, fmt.Errorf("reading the dev server user's attributes: %w", err)
	}
	dev := *u
	dev.Path = "/" + name
	owner := ""
	if super {
		password := scratchPassword()
		if _, err := server.ExecContext(ctx, "CREATE ROLE "+ident+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '"+password+"'"); err != nil {
			return nil, nil, fmt.Errorf("creating the scratch dev role %s: %w", name, err)
		}
		owner = " OWNER " + ident
		dev.User = url.UserPassword(name, password)
	}
	dropRole := func(ctx context.Context) error {
		if !super {
			return nil
		}
		_, err := server.ExecContext(ctx, "DROP ROLE IF EXISTS "+ident)
		return err
	}
	if _, err := server.ExecContext(ctx, "CREATE DATABASE "+ident+owner); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("creating scratch dev database %s (the user needs CREATEDB, or configure a dev database): %w", name, err), dropRole(ctx))
	}
	drop := func(ctx context.Context) error {
		// WITH (FORCE) ends sessions a failed plan may have left behind.
		_, err := server.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
		if err != nil {
			return err
		}
		return dropRole(ctx)
	}
	return &dev, drop, nil
}

// Inspecting plans Atlas's catalog queries without nested loops. Its
// index query joins every index to an aggregate of all the database's
// constraints, which the server runs once per index when it expects few
// indexes, as it does whatever the statistics: inspecting a 500-table
// schema among 10,000 tables took 4.2-5.3 s, and 0.7-0.9 s hashed; a
// 50-table one beside them 1.1-1.4 s and 0.7 s; a 10-table database 70
// ms either way; 2,000 tables just loaded on a dev database 5-8 s, and
// 0.5-0.7 s. The setting is a transaction's
// own in q's transaction, else the session's, and q's goes back after:
// the migration's statements run as the server is set. A pool has no
// one session to set, and is inspected as it is.
func (postgresEngine) Inspecting(ctx context.Context, q Querier, inspect func() error) error {
	if _, pool := q.(*sql.DB); pool {
		return inspect()
	}
	_, local := q.(*sql.Tx)
	var was string
	if err := q.QueryRowContext(ctx, "SELECT pg_catalog.current_setting('enable_nestloop')").Scan(&was); err != nil {
		return fmt.Errorf("setting up the inspection: %w", err)
	}
	if _, err := q.ExecContext(ctx, "SELECT pg_catalog.set_config('enable_nestloop', 'off', $1)", local); err != nil {
		return fmt.Errorf("setting up the inspection: %w", err)
	}
	err := inspect()
	// Put back whatever happened to ctx: the session goes on, and so may
	// the transaction, whatever the inspection returned.
	_, restore := q.ExecContext(context.WithoutCancel(ctx), "SELECT pg_catalog.set_config('enable_nestloop', $1, $2)", was, local)
	if restore != nil && (err == nil || !local) {
		// (A transaction the inspection failed in ends with the setting.)
		return errors.Join(err, fmt.Errorf("putting enable_nestloop back after the inspection: %w", restore))
	}
	return err
}

func (postgresEngine) revisions() revisionDialect {
	return revisionDialect{
		create: `CREATE TABLE IF NOT EXISTS ` + RevisionTable + ` (
	id bigserial PRIMARY KEY,
	plan_hash text NOT NULL,
	object text NOT NULL,
	scripts text NOT NULL,
	approver text NOT NULL,
	started_at timestamptz NOT NULL,
	finished_at timestamptz,
	status text NOT NULL,
	statements_done integer NOT NULL,
	statements_total integer NOT NULL,
	error text NOT NULL
)`,
		exists:      `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = '` + RevisionTable + `'`,
		placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
		returning:   true,
	}
}

// scratchName is a fresh dev database name, safe unquoted everywhere.
// scratchPassword is a fresh password for a scratch role: hex, so it needs
// no quoting in SQL or a URL.
func scratchPassword() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func scratchName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kube_shift_dev_" + hex.EncodeToString(b[:])
}

func hostPort(u *url.URL, defaultPort string) string {
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// pinged checks that db connects, and closes it if not.
func pinged(ctx context.Context, db *sql.DB) (*sql.DB, error) {
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// poll calls try until it succeeds, fails, or wait (and ctx) runs out.
func poll(ctx context.Context, wait time.Duration, try func() (bool, error)) error {
	deadline := time.Now().Add(wait)
	for {
		ok, err := try()
		switch {
		case err != nil:
			return fmt.Errorf("taking the migration lock: %w", err)
		case ok:
			return nil
		case time.Now().After(deadline):
			return ErrLockBusy
		}
		select {
		case <-ctx.Done():
			return errors.Join(ErrLockBusy, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
