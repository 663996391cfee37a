package bluegreen

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func init() {
	dialects[postgres.DriverName] = func(c database.Catalog) dialect { return postgresDialect{c} }
}

// postgresDialect clones a PostgreSQL database into another database of
// the same server.
type postgresDialect struct {
	database.Catalog
}

func (postgresDialect) connURL(u *url.URL) *url.URL { return u }

func (postgresDialect) placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (d postgresDialect) table(schemaName, name string) string { return d.Qualify(schemaName, name) }

// pgLiteral quotes a string constant (standard_conforming_strings, the
// default since PostgreSQL 9.1, keeps backslashes literal).
func pgLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (postgresDialect) exists(ctx context.Context, q database.Querier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_catalog.pg_database WHERE datname = $1", name).Scan(&n)
	return n > 0, err
}

// pgLocale is how a database sorts and classifies text, as pg_database
// says across versions: ICU came in 15 (daticulocale), the builtin
// provider in 17 (datlocale). Reading the row as JSON takes whichever
// columns the server has.
type pgLocale struct {
	Collate   string `json:"datcollate"`
	Ctype     string `json:"datctype"`
	Provider  string `json:"datlocprovider"`
	ICULocale string `json:"daticulocale"`
	Locale    string `json:"datlocale"`
	ICURules  string `json:"daticurules"`
}

// createDatabase copies blue's encoding and locale: green must sort and
// compare text as blue does, or a unique index could refuse blue's rows.
// template0 is the template that accepts any encoding and locale.
func (d postgresDialect) createDatabase(ctx context.Context, q database.Querier, green string) error {
	var (
		encoding string
		row      []byte
		loc      pgLocale
	)
	err := q.QueryRowContext(ctx, `SELECT pg_catalog.pg_encoding_to_char(d.encoding), to_jsonb(d) FROM pg_catalog.pg_database d WHERE d.datname = current_database()`).Scan(&encoding, &row)
	if err != nil {
		return fmt.Errorf("reading blue's encoding and locale: %w", err)
	}
	if err := json.Unmarshal(row, &loc); err != nil {
		return fmt.Errorf("reading blue's encoding and locale: %w", err)
	}
	if _, err := q.ExecContext(ctx, pgCreateDatabase(d.Quote(green), encoding, loc)); err != nil {
		return fmt.Errorf("creating database %s (the user needs CREATEDB): %w", green, err)
	}
	return nil
}

// pgCreateDatabase is the CREATE DATABASE statement for green, quoted,
// with encoding and loc.
func pgCreateDatabase(green, encoding string, loc pgLocale) string {
	var b strings.Builder
	b.WriteString("CREATE DATABASE " + green + " TEMPLATE template0 ENCODING " + pgLiteral(encoding))
	if loc.Collate != "" {
		b.WriteString(" LC_COLLATE " + pgLiteral(loc.Collate))
	}
	if loc.Ctype != "" {
		b.WriteString(" LC_CTYPE " + pgLiteral(loc.Ctype))
	}
	switch loc.Provider {
	case "i":
		b.WriteString(" LOCALE_PROVIDER icu ICU_LOCALE " + pgLiteral(cmp.Or(loc.ICULocale, loc.Locale)))
		if loc.ICURules != "" {
			b.WriteString(" ICU_RULES " + pgLiteral(loc.ICURules))
		}
	case "b":
		b.WriteString(" LOCALE_PROVIDER builtin BUILTIN_LOCALE " + pgLiteral(loc.Locale))
	}
	return b.String()
}

// dropDatabase uses WITH (FORCE) (PostgreSQL 13) to end the sessions a
// crashed clone, or an application already pointed at green, left open.
func (d postgresDialect) dropDatabase(ctx context.Context, q database.Querier, name string) error {
	_, err := q.ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.Quote(name)+" WITH (FORCE)")
	return err
}

// pgTextSession makes text the same on both sides of a COPY: dates in ISO
// order, intervals in PostgreSQL's own style, floating-point numbers with
// every digit needed to read them back exactly.
var pgTextSession = []string{
	"SET DateStyle = 'ISO, YMD'",
	"SET IntervalStyle = 'postgres'",
	"SET extra_float_digits = 3",
}

// pgNoTimeouts lifts the role's time limits for this session, as pg_dump
// does: copying or indexing a large table may legitimately take long.
var pgNoTimeouts = []string{
	"SET statement_timeout = 0",
	"SET lock_timeout = 0",
	"SET idle_in_transaction_session_timeout = 0",
}

// beginSnapshot starts a REPEATABLE READ READ ONLY transaction: its
// snapshot is taken by its first statement, which reads the clock.
func (postgresDialect) beginSnapshot(ctx context.Context, conn *sql.Conn) (time.Time, error) {
	stmts := append(append(append([]string{}, pgNoTimeouts...), pgTextSession...), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	if err := execAll(ctx, conn, stmts...); err != nil {
		return time.Time{}, err
	}
	var at time.Time
	if err := conn.QueryRowContext(ctx, "SELECT now()").Scan(&at); err != nil {
		return time.Time{}, err
	}
	return at, nil
}

func (postgresDialect) prepareWriter(ctx context.Context, conn *sql.Conn) error {
	return execAll(ctx, conn, append(append([]string{}, pgNoTimeouts...), pgTextSession...)...)
}

func (postgresDialect) estimateRows(ctx context.Context, q database.Querier, schemaName, table string) (int64, error) {
	// reltuples is -1 for a table never vacuumed nor analysed.
	const estimate = `SELECT COALESCE(MAX(c.reltuples), -1)::bigint FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`
	var n int64
	err := q.QueryRowContext(ctx, estimate, schemaName, table).Scan(&n)
	return n, err
}

func (postgresDialect) keepWithTable(*schema.Table, *schema.Index) bool { return false }

func (postgresDialect) keyAfterRows() bool { return true }

func (postgresDialect) markerDDL(table string) string {
	return "CREATE TABLE " + table + ` (
	blue text NOT NULL PRIMARY KEY,
	snapshot_at timestamptz NOT NULL,
	completed_at timestamptz NOT NULL,
	table_count integer NOT NULL,
	row_count bigint NOT NULL
)`
}

func (postgresDialect) now() string { return "now()" }

// pgNotMember is a condition true for catalogue objects that no extension
// owns: an extension's objects are the extension's to create.
const pgNotMember = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = %s AND e.objid = %s AND e.deptype = 'e')`

// pgUnsupported lists what a clone cannot carry over faithfully: Atlas's
// open-source driver does not inspect triggers, functions, policies, rules,
// domains, composite or range types, and a COPY cannot read a partitioned
// parent or split rows between inherited tables.
var pgUnsupported = `
SELECT 'trigger ' || c.relname || '.' || g.tgname
FROM pg_catalog.pg_trigger g
JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND NOT g.tgisinternal
UNION ALL
SELECT 'function ' || p.proname
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND ` + fmt.Sprintf(pgNotMember, "'pg_catalog.pg_proc'::regclass", "p.oid") + `
UNION ALL
SELECT 'policy ' || c.relname || '.' || p.polname
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1
UNION ALL
SELECT 'row-level security on ' || c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relrowsecurity
UNION ALL
SELECT CASE c.relkind WHEN 'm' THEN 'materialized view ' WHEN 'p' THEN 'partitioned table ' ELSE 'foreign table ' END || c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('m', 'p', 'f') AND ` + fmt.Sprintf(pgNotMember, "'pg_catalog.pg_class'::regclass", "c.oid") + `
UNION ALL
SELECT 'inherited table ' || c.relname
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1
UNION ALL
SELECT 'rule ' || r.tablename || '.' || r.rulename
FROM pg_catalog.pg_rules r
WHERE r.schemaname = $1
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'domain ' WHEN 'c' THEN 'composite type ' ELSE 'range type ' END || t.typname
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
WHERE n.nspname = $1 AND (t.typtype IN ('d', 'r') OR t.typtype = 'c' AND c.relkind = 'c')
	AND ` + fmt.Sprintf(pgNotMember, "'pg_catalog.pg_type'::regclass", "t.oid") + `
ORDER BY 1`

func (postgresDialect) unsupported(ctx context.Context, q database.Querier, schemaName string) ([]string, error) {
	return database.QueryStrings(ctx, q, pgUnsupported, schemaName)
}
