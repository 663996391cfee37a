package shadow

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// engineCase is one engine under test: a fresh database and the SQL that
// differs between engines.
type engineCase struct {
	name string
	typ  database.Kind
	// fresh creates an empty database and opens it.
	fresh func(t testing.TB) *sql.DB
	// schemaExpr is the current schema in SQL.
	schemaExpr string
	// serial is an auto-numbered integer key column.
	serial string
	// text is a text column type; integer is how information_schema
	// names the integer type; signed is CAST's name for a 64-bit integer.
	text, integer, signed string
	// toBigint changes column n to bigint; addColumn adds a column extra.
	toBigint, addColumn string
	// insertReturningID inserts (n, note) into a table and returns the id.
	insertReturningID func(ctx context.Context, q database.Querier, table string, n int64, note string) (int64, error)
	// checksum is an opts.Verify comparing the shared columns' contents.
	checksum func(ctx context.Context, q database.Querier, table, shadow string, columns []string) error
	// direct: the items tables have a unique index besides the primary
	// key, so that on MySQL the triggers write the shadow from the start
	// instead of logging keys (see mysqlDialect.logsWrites).
	direct bool
}

// logged reports whether a run on ec's items tables logs the
// application's writes during the copy.
func (ec engineCase) logged() bool { return !ec.direct }

var engineCases = []engineCase{
	{
		name:       "postgres",
		typ:        database.KindPostgreSQL,
		fresh:      func(t testing.TB) *sql.DB { return dbtest.OpenPostgres(t, dbtest.NewPostgresDatabase(t)) },
		schemaExpr: "current_schema()",
		serial:     "id serial PRIMARY KEY",
		text:       "text",
		integer:    "integer",
		signed:     "bigint",
		toBigint:   "ALTER COLUMN n TYPE bigint",
		addColumn:  "ADD COLUMN extra text NOT NULL DEFAULT 'x'",
		insertReturningID: func(ctx context.Context, q database.Querier, table string, n int64, note string) (int64, error) {
			var id int64
			err := q.QueryRowContext(ctx, "INSERT INTO "+table+" (n, note) VALUES ($1, $2) RETURNING id", n, note).Scan(&id)
			return id, err
		},
		checksum: func(ctx context.Context, q database.Querier, table, shadow string, columns []string) error {
			sum := func(rel string) (string, error) {
				var s sql.NullString
				err := q.QueryRowContext(ctx, "SELECT md5(string_agg(concat_ws('|', "+strings.Join(columns, ", ")+
					"), ',' ORDER BY id)) FROM "+rel).Scan(&s)
				return s.String, err
			}
			return compareSums(sum, table, shadow)
		},
	},
	{
		name:       "mysql",
		typ:        database.KindMySQL,
		fresh:      func(t testing.TB) *sql.DB { return dbtest.OpenMySQL(t, dbtest.NewMySQLDatabase(t)) },
		schemaExpr: "DATABASE()",
		serial:     "id int NOT NULL AUTO_INCREMENT PRIMARY KEY",
		text:       "varchar(64)",
		integer:    "int",
		signed:     "SIGNED",
		toBigint:   "MODIFY n bigint NOT NULL",
		addColumn:  "ADD COLUMN extra varchar(16) NOT NULL DEFAULT 'x'",
		insertReturningID: func(ctx context.Context, q database.Querier, table string, n int64, note string) (int64, error) {
			res, err := q.ExecContext(ctx, "INSERT INTO "+table+" (n, note) VALUES (?, ?)", n, note)
			if err != nil {
				return 0, err
			}
			return res.LastInsertId()
		},
		checksum: func(ctx context.Context, q database.Querier, table, shadow string, columns []string) error {
			sum := func(rel string) (string, error) {
				var s sql.NullString
				err := q.QueryRowContext(ctx, "SELECT CONCAT(COUNT(*), ':', SUM(CRC32(CONCAT_WS('|', "+
					strings.Join(columns, ", ")+")))) FROM "+rel).Scan(&s)
				return s.String, err
			}
			return compareSums(sum, table, shadow)
		},
	},
}

// withDirect is engineCases and a copy of the MySQL case whose tables
// have a unique index (see engineCase.direct): the tests of what the
// triggers must keep, run both ways on MySQL.
func withDirect() []engineCase {
	direct := engineCases[1]
	direct.name, direct.direct = "mysql-direct", true
	return append(slices.Clone(engineCases), direct)
}

// compareSums fails when two tables' checksums differ.
func compareSums(sum func(string) (string, error), table, shadow string) error {
	a, err := sum(table)
	if err != nil {
		return err
	}
	b, err := sum(shadow)
	if err != nil {
		return err
	}
	if a != b {
		return fmt.Errorf("checksums differ: %s has %s, %s has %s", table, a, shadow, b)
	}
	return nil
}

// engine returns the kube-shift engine of ec.
func (ec engineCase) engine(t testing.TB) database.Engine {
	t.Helper()
	e, err := database.For(ec.typ)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rebind turns ? placeholders into PostgreSQL's $n.
func (ec engineCase) rebind(query string) string {
	if ec.name != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// itemsToBigint sets up what most tests change: a fresh database with
// table items of rows rows (see createItems), its engine, and the change
// of column n to bigint.
func (ec engineCase) itemsToBigint(t testing.TB, rows int) (*sql.DB, database.Engine, Change) {
	t.Helper()
	db, e := ec.fresh(t), ec.engine(t)
	ec.createItems(t, db, "items", rows)
	c, err := FromAlter(e, "", "items", ec.toBigint)
	if err != nil {
		t.Fatal(err)
	}
	return db, e, c
}

// createItems creates table name (id, n, note) with an index on n (and,
// for a direct case, a unique one on id and n) and a comment, and fills it with rows 1..rows where n = id*10 and note =
// "note-<id>".
func (ec engineCase) createItems(t testing.TB, db *sql.DB, name string, rows int) {
	t.Helper()
	ctx := context.Background()
	e := ec.engine(t)
	stmts := []string{
		"CREATE TABLE " + e.Quote(name) + " (" + ec.serial + ", n integer NOT NULL, note " + ec.text + ")",
		"CREATE INDEX " + e.Quote(name+"_n_idx") + " ON " + e.Quote(name) + " (n)",
	}
	if ec.direct {
		stmts = append(stmts, "CREATE UNIQUE INDEX "+e.Quote(name+"_id_n_key")+" ON "+e.Quote(name)+" (id, n)")
	}
	if ec.name == "postgres" {
		stmts = append(stmts, "COMMENT ON TABLE "+e.Quote(name)+" IS 'the items'")
	} else {
		stmts = append(stmts, "ALTER TABLE "+e.Quote(name)+" COMMENT = 'the items'")
	}
	for _, s := range stmts {
		mustExec(t, db, s)
	}
	const chunk = 1000
	for start := 1; start <= rows; start += chunk {
		var values []string
		for id := start; id < start+chunk && id <= rows; id++ {
			values = append(values, fmt.Sprintf("(%d, %d, 'note-%d')", id, id*10, id))
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO "+e.Quote(name)+" (id, n, note) VALUES "+strings.Join(values, ", ")); err != nil {
			t.Fatalf("filling %s: %v", name, err)
		}
	}
	if ec.name == "postgres" {
		// Explicit ids do not move the serial sequence.
		mustExec(t, db, "SELECT setval(pg_get_serial_sequence('"+name+"', 'id'), (SELECT max(id) FROM "+e.Quote(name)+"))")
	}
}

// item is a row of an items table.
type item struct {
	n    int64
	note string
}

// items reads an items table by id. The cast keeps the result's type
// whatever n's is: pgx prepares statements, and PostgreSQL refuses to run
// a prepared plan whose result type changed ("cached plan must not change
// result type"), as it did when a change made n bigint.
func (ec engineCase) items(t testing.TB, db *sql.DB, table string) map[int64]item {
	t.Helper()
	e := ec.engine(t)
	rows, err := db.Query("SELECT CAST(id AS " + ec.signed + "), CAST(n AS " + ec.signed + "), COALESCE(note, '') FROM " + e.Quote(table))
	if err != nil {
		t.Fatalf("reading %s: %v", table, err)
	}
	defer rows.Close()
	out := map[int64]item{}
	for rows.Next() {
		var id int64
		var it item
		if err := rows.Scan(&id, &it.n, &it.note); err != nil {
			t.Fatal(err)
		}
		out[id] = it
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustExec(t testing.TB, db *sql.DB, stmt string, args ...any) {
	t.Helper()
	if _, err := db.Exec(stmt, args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// queryString runs a query returning one text value (NULL as "").
func queryString(t testing.TB, db *sql.DB, query string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRow(query, args...).Scan(&s); err != nil && err != sql.ErrNoRows {
		t.Fatalf("%s: %v", query, err)
	}
	return s.String
}

// columnType is a column's information_schema data type, "" when absent.
func (ec engineCase) columnType(t testing.TB, db *sql.DB, table, col string) string {
	t.Helper()
	return queryString(t, db, ec.rebind("SELECT data_type FROM information_schema.columns WHERE table_schema = "+
		ec.schemaExpr+" AND table_name = ? AND column_name = ?"), table, col)
}

// tableExists reports whether the current schema has a table of the name.
func (ec engineCase) tableExists(t testing.TB, db *sql.DB, table string) bool {
	t.Helper()
	return queryString(t, db, ec.rebind("SELECT table_name FROM information_schema.tables WHERE table_schema = "+
		ec.schemaExpr+" AND table_name = ?"), table) != ""
}

// triggers lists the triggers of the current schema, as engine-neutral
// "table.trigger" strings.
func (ec engineCase) triggers(t testing.TB, db *sql.DB) []string {
	t.Helper()
	query := "SELECT DISTINCT CONCAT(event_object_table, '.', trigger_name) FROM information_schema.triggers WHERE trigger_schema = " +
		ec.schemaExpr + " ORDER BY 1"
	if ec.name == "postgres" {
		// information_schema.triggers does not show TRUNCATE triggers.
		query = `SELECT tgrelid::regclass::text || '.' || tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`
	}
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// indexNames lists a PostgreSQL table's index names.
func indexNames(t testing.TB, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 ORDER BY 1", table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// tableComment is a table's comment.
func (ec engineCase) tableComment(t testing.TB, db *sql.DB, table string) string {
	t.Helper()
	if ec.name == "postgres" {
		return queryString(t, db, "SELECT obj_description(to_regclass($1), 'pg_class')", table)
	}
	return queryString(t, db, "SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", table)
}
