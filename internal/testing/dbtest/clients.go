package dbtest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The databases' own command-line clients, the baselines benchmarks
// measure kube-shift against: psql and pg_dump (found on PATH or in
// `pg_config --bindir`, where Debian keeps them), mysql and mysqldump,
// sqlite3. Passwords go through the environment, never the command line.

// ClientCommand is the engine's own client reading SQL from its standard
// input, connected to the database of rawURL (postgres://, mysql:// or
// sqlite:// as the tests' URLs are): psql, mysql or sqlite3.
func ClientCommand(ctx context.Context, tb testing.TB, rawURL string) *exec.Cmd {
	tb.Helper()
	u := parse(tb, rawURL)
	switch u.Scheme {
	case "postgres", "postgresql":
		cmd := exec.CommandContext(ctx, pgTool(tb, "psql"), append(pgArgs(u), "--quiet", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "--output=/dev/null")...)
		cmd.Env = pgEnv(u)
		return cmd
	case "mysql", "maria", "mariadb":
		cmd := exec.CommandContext(ctx, tool(tb, "mysql"), append(mysqlArgs(u), "--batch", "--silent", mysqlDatabase(u))...)
		cmd.Env = mysqlEnv(u)
		return cmd
	case "sqlite":
		return exec.CommandContext(ctx, tool(tb, "sqlite3"), "-bail", sqlitePath(u))
	}
	tb.Fatalf("no client for %s databases", u.Scheme)
	return nil
}

// DumpCommand is the engine's own dump of the database of rawURL as SQL
// on its standard output: pg_dump or mysqldump (with --single-transaction,
// a consistent read that locks nothing, as a copy of a live database needs).
func DumpCommand(ctx context.Context, tb testing.TB, rawURL string) *exec.Cmd {
	tb.Helper()
	u := parse(tb, rawURL)
	switch u.Scheme {
	case "postgres", "postgresql":
		cmd := exec.CommandContext(ctx, pgTool(tb, "pg_dump"), append(pgArgs(u), "--no-owner", "--no-privileges")...)
		cmd.Env = pgEnv(u)
		return cmd
	case "mysql", "maria", "mariadb":
		cmd := exec.CommandContext(ctx, tool(tb, "mysqldump"), append(mysqlArgs(u), "--single-transaction", "--routines", "--triggers", mysqlDatabase(u))...)
		cmd.Env = mysqlEnv(u)
		return cmd
	}
	tb.Fatalf("no dump for %s databases", u.Scheme)
	return nil
}

// ClientVersion is the first line of `client --version`, for a report.
func ClientVersion(tb testing.TB, name string) string {
	tb.Helper()
	path := tool(tb, name)
	if strings.HasPrefix(name, "pg_") || name == "psql" {
		path = pgTool(tb, name)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		tb.Fatalf("%s --version: %v", name, err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

func parse(tb testing.TB, rawURL string) *url.URL {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("database URL: %v", redact(err))
	}
	return u
}

func tool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("%s is not installed: %v", name, err)
	}
	return path
}

// pgTool finds a PostgreSQL program on PATH or in pg_config's bindir.
func pgTool(tb testing.TB, name string) string {
	tb.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		path := filepath.Join(strings.TrimSpace(string(out)), name)
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	tb.Skipf("%s is neither on PATH nor in pg_config --bindir", name)
	return ""
}

func pgArgs(u *url.URL) []string {
	args := []string{"--host=" + u.Hostname(), "--dbname=" + strings.TrimPrefix(u.Path, "/")}
	if p := u.Port(); p != "" {
		args = append(args, "--port="+p)
	}
	if u.User != nil {
		args = append(args, "--username="+u.User.Username())
	}
	return args
}

func pgEnv(u *url.URL) []string {
	env := append(os.Environ(), "PGSSLMODE="+sslMode(u.Query().Get("sslmode")))
	if pass, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pass)
	}
	return env
}

func sslMode(m string) string {
	if m == "" {
		return "prefer"
	}
	return m
}

func mysqlArgs(u *url.URL) []string {
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	args := []string{"--host=" + u.Hostname(), "--port=" + port, "--protocol=TCP"}
	if u.User != nil {
		args = append(args, "--user="+u.User.Username())
	}
	return args
}

func mysqlDatabase(u *url.URL) string { return strings.TrimPrefix(u.Path, "/") }

func mysqlEnv(u *url.URL) []string {
	env := os.Environ()
	if pass, ok := u.User.Password(); ok {
		env = append(env, "MYSQL_PWD="+pass)
	}
	return env
}

func sqlitePath(u *url.URL) string {
	if u.Opaque != "" {
		return u.Opaque
	}
	return filepath.Join(u.Host, u.Path)
}

// ExpectRows fails unless table holds n rows.
func ExpectRows(tb testing.TB, db *sql.DB, table string, n int) {
	tb.Helper()
	var got int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&got); err != nil {
		tb.Fatal(err)
	}
	if got != n {
		tb.Fatalf("%s holds %d rows, want %d", table, got, n)
	}
}

// EnvSize reads a benchmark's size from the environment variable name
// (make bench's quick mode sets them), def when unset; it must be at least
// least.
func EnvSize(tb testing.TB, name string, def, least int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		tb.Fatalf("%s=%q: want a number of at least %d", name, v, least)
	}
	return n
}
