package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

const (
	// PostgresURLEnv names the variable holding the PostgreSQL server URL,
	// postgres://postgres:<pw>@127.0.0.1:<port>/kube_shift_test?sslmode=disable.
	PostgresURLEnv = "KUBE_SHIFT_TEST_POSTGRES_URL"
	// MySQLURLEnv names the variable holding the MySQL/MariaDB server URL,
	// mysql://root:<pw>@127.0.0.1:<port>/kube_shift_test.
	MySQLURLEnv = "KUBE_SHIFT_TEST_MYSQL_URL"

	// PostgresCAEnv and MySQLCAEnv name the variables holding the path of
	// the CA certificate that signed the test servers' own (hack/db-up.sh
	// starts them with TLS, for 127.0.0.1 only).
	PostgresCAEnv = "KUBE_SHIFT_TEST_POSTGRES_CA"
	MySQLCAEnv    = "KUBE_SHIFT_TEST_MYSQL_CA"

	// DevPostgresEnv and DevMySQLEnv name the variables holding the URLs
	// of the dev servers planning replays on (hack/db-up.sh starts them
	// beside the target servers; the manager reads the same variables).
	DevPostgresEnv = "KUBE_SHIFT_DEV_DATABASE_POSTGRES"
	DevMySQLEnv    = "KUBE_SHIFT_DEV_DATABASE_MYSQL"

	// dbPrefix starts the name of every database this package creates.
	dbPrefix = "kst_"
	// opTimeout bounds each setup or cleanup statement.
	opTimeout = 30 * time.Second
)

// PostgresURL returns the URL of the test PostgreSQL server. Without one the
// test is skipped, or fails when CI=true.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	return serverURL(tb, PostgresURLEnv, "PostgreSQL")
}

// MySQLURL returns the URL (Atlas form, mysql://...) of the test MySQL or
// MariaDB server. Without one the test is skipped, or fails when CI=true.
func MySQLURL(tb testing.TB) string {
	tb.Helper()
	return serverURL(tb, MySQLURLEnv, "MySQL/MariaDB")
}

// PostgresCA returns the PEM of the CA that signed the PostgreSQL test
// server's certificate. Without one the test is skipped, or fails when
// CI=true.
func PostgresCA(tb testing.TB) []byte {
	tb.Helper()
	return caFile(tb, serverURL(tb, PostgresCAEnv, "PostgreSQL server with TLS"))
}

// MySQLCA returns the PEM of the CA that signed the MySQL/MariaDB test
// server's certificate. Without one the test is skipped, or fails when
// CI=true.
func MySQLCA(tb testing.TB) []byte {
	tb.Helper()
	return caFile(tb, serverURL(tb, MySQLCAEnv, "MySQL/MariaDB server with TLS"))
}

func caFile(tb testing.TB, path string) []byte {
	tb.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("reading the test servers' CA: %v", err)
	}
	return pem
}

func serverURL(tb testing.TB, env, what string) string {
	tb.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	if inCI() {
		tb.Fatalf("%s is not set but this test needs a %s server: run hack/db-up.sh and source bin/db/env", env, what)
	}
	tb.Skipf("%s is not set; to run this test against %s: hack/db-up.sh && source bin/db/env", env, what)
	return ""
}

// DevServers returns the dev servers the environment names, keyed by
// engine name as planner.Planner.DevServers wants them: never the servers
// the tests migrate.
func DevServers() map[string]string {
	servers := map[string]string{}
	for engine, env := range map[string]string{"postgres": DevPostgresEnv, "mysql": DevMySQLEnv} {
		if v := os.Getenv(env); v != "" {
			servers[engine] = v
		}
	}
	return servers
}

// inCI reports whether CI is set to a true value (CI=true, as CI systems set it).
func inCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// NewPostgresDatabase creates an empty database on the PostgreSQL server,
// drops it when the test ends (after ending any session still using it), and
// returns the server URL pointing at it.
func NewPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	return NewPostgresDatabaseOn(tb, PostgresURL(tb))
}

// NewPostgresDatabaseOn is NewPostgresDatabase on the server of base.
func NewPostgresDatabaseOn(tb testing.TB, base string) string {
	tb.Helper()
	name := newName(tb)
	dbURL, err := withDatabase(base, name)
	if err != nil {
		tb.Fatalf("PostgreSQL server URL: %v", err)
	}
	db := openAdmin(tb, "pgx", base)
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("create PostgreSQL database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := dropPostgres(base, name); err != nil {
			tb.Errorf("drop PostgreSQL database %s: %v", name, err)
		}
	})
	return dbURL
}

func dropPostgres(base, name string) error {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
	for attempt := 1; ; attempt++ {
		// A session the test left open would make DROP DATABASE fail.
		if _, err = db.ExecContext(ctx,
			`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			 WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
			return err
		}
		if _, err = db.ExecContext(ctx, drop); err == nil || attempt == 5 {
			return err
		}
		// A session may connect between the two statements; try again.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// NewMySQLDatabase creates an empty database on the MySQL/MariaDB server,
// drops it when the test ends (after killing any connection still using it),
// and returns the server URL (Atlas form) pointing at it.
func NewMySQLDatabase(tb testing.TB) string {
	tb.Helper()
	return NewMySQLDatabaseOn(tb, MySQLURL(tb))
}

// NewMySQLDatabaseOn is NewMySQLDatabase on the server of base.
func NewMySQLDatabaseOn(tb testing.TB, base string) string {
	tb.Helper()
	name := newName(tb)
	dbURL, err := withDatabase(base, name)
	if err != nil {
		tb.Fatalf("MySQL server URL: %v", err)
	}
	dsn, err := MySQLDSN(base)
	if err != nil {
		tb.Fatalf("MySQL server URL: %v", err)
	}
	db := openAdmin(tb, "mysql", dsn)
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+mysqlIdent(name)); err != nil {
		tb.Fatalf("create MySQL database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := dropMySQL(dsn, name); err != nil {
			tb.Errorf("drop MySQL database %s: %v", name, err)
		}
	})
	return dbURL
}

func dropMySQL(dsn, name string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// A connection the test left in a transaction holds metadata locks that
	// would make DROP DATABASE wait; end such connections first.
	rows, err := db.QueryContext(ctx,
		`SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()`, name)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, id := range ids {
		// The connection may be gone already (unknown thread id); fine.
		_, _ = db.ExecContext(ctx, "KILL "+strconv.FormatInt(id, 10))
	}
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysqlIdent(name))
	return err
}

// OpenPostgres opens a database/sql handle (driver "pgx") for a PostgreSQL
// URL, checks that it connects, and closes it when the test ends.
func OpenPostgres(tb testing.TB, dbURL string) *sql.DB {
	tb.Helper()
	db := openAdmin(tb, "pgx", dbURL)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// OpenMySQL opens a database/sql handle (driver "mysql") for a MySQL URL in
// Atlas form, checks that it connects, and closes it when the test ends.
func OpenMySQL(tb testing.TB, dbURL string) *sql.DB {
	tb.Helper()
	dsn, err := MySQLDSN(dbURL)
	if err != nil {
		tb.Fatalf("MySQL URL: %v", err)
	}
	db := openAdmin(tb, "mysql", dsn)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// openAdmin opens and pings a handle; the caller closes it.
func openAdmin(tb testing.TB, driver, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatalf("open %s: %v", driver, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		tb.Fatalf("connect to the %s test server: %v (is hack/db-up.sh running and bin/db/env sourced?)", driver, err)
	}
	return db
}

// MySQLDSN converts a MySQL URL in Atlas form,
// mysql://user:pass@host[:port]/db?param=value, to a go-sql-driver/mysql DSN,
// user:pass@tcp(host:port)/db?multiStatements=true&parseTime=true. The
// schemes maria and mariadb are accepted too. The port defaults to 3306;
// query parameters are passed on to the driver, and may override parseTime
// and multiStatements. User and password may hold any character when
// percent-encoded in the URL.
func MySQLDSN(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parse MySQL URL: %w", redact(err))
	}
	switch u.Scheme {
	case "mysql", "maria", "mariadb":
	default:
		// Not echoed: in a DSN mistaken for a URL the "scheme" is the user
		// and the password follows it.
		return "", errors.New("MySQL URL: want mysql://user:pass@host:port/db")
	}
	if u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("MySQL URL %s: no host", u.Redacted())
	}
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return "", fmt.Errorf("MySQL URL %s: database name %q holds a slash", u.Redacted(), db)
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(u.Hostname(), port)
	cfg.DBName = db
	cfg.ParseTime = true
	cfg.MultiStatements = true
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	dsn := cfg.FormatDSN()
	if len(u.Query()) > 0 {
		// Let the driver read the URL's parameters, after the defaults so
		// that they win, and validate them.
		sep := "?"
		if strings.Contains(dsn[strings.LastIndex(dsn, "/"):], "?") {
			sep = "&"
		}
		parsed, err := mysql.ParseDSN(dsn + sep + u.Query().Encode())
		if err != nil {
			return "", fmt.Errorf("MySQL URL %s: %w", u.Redacted(), err)
		}
		dsn = parsed.FormatDSN()
	}
	return dsn, nil
}

// redact strips the URL (and so any password) from a *url.Error.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// withDatabase returns rawURL with its path set to /name, keeping the rest.
func withDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", redact(err)
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %s has no host", u.Redacted())
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// newName returns a fresh database name, kst_ and 16 hex digits: unique
// across tests, processes and runs, and safe unquoted in both dialects.
func newName(tb testing.TB) string {
	tb.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("random database name: %v", err)
	}
	return dbPrefix + hex.EncodeToString(b[:])
}

func mysqlIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// DropPostgresDatabase drops database name on the server of dbURL, if it
// exists: for databases a test made the operator create (a blue-green
// copy, say).
func DropPostgresDatabase(dbURL, name string) error {
	return dropPostgres(dbURL, name)
}
