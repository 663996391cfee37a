package integrity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// itemRows is how many rows the fixture's items table holds.
const itemRows = 200

// engineCase is one engine the tests run on: how to get a fresh database
// and its spelling of the statements that differ.
type engineCase struct {
	name  string
	fresh func(t testing.TB) string
	// widen turns items.qty from int to bigint and items.name from
	// varchar to text.
	widen []string
}

var engineCases = []engineCase{
	{
		name:  "sqlite",
		fresh: func(t testing.TB) string { return "sqlite://" + filepath.Join(t.TempDir(), "test.db") },
		// SQLite cannot change a column's type: rebuild the table, as
		// a migration tool would.
		widen: []string{
			`CREATE TABLE items_new (id int PRIMARY KEY, name text NOT NULL, qty bigint)`,
			`INSERT INTO items_new (id, name, qty) SELECT id, name, qty FROM items`,
			`DROP TABLE items`,
			`ALTER TABLE items_new RENAME TO items`,
		},
	},
	{
		name:  "postgres",
		fresh: dbtest.NewPostgresDatabase,
		widen: []string{`ALTER TABLE items ALTER COLUMN qty TYPE bigint, ALTER COLUMN name TYPE text`},
	},
	{
		name:  "mysql",
		fresh: dbtest.NewMySQLDatabase,
		widen: []string{`ALTER TABLE items MODIFY qty bigint, MODIFY name text NOT NULL`},
	},
}

// fixture is an open test database.
type fixture struct {
	t      testing.TB
	e      database.Engine
	db     *sql.DB
	schema string
}

// open connects to dbURL through kube-shift's own engine, as the
// reconciler does.
func open(t testing.TB, dbURL string) *fixture {
	t.Helper()
	target, err := database.ParseURL(dbURL)
	if err != nil {
		t.Fatalf("parsing the test database URL: %v", err)
	}
	db, err := target.Open(context.Background())
	if err != nil {
		t.Fatalf("opening the test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &fixture{t: t, e: target.Engine, db: db, schema: target.Schema()}
}

// seeded opens a fresh database of tc's engine holding the fixture's
// tables: items (primary key, itemRows rows), notes (no primary key),
// audit (primary key) and a revision table.
func seeded(t testing.TB, tc engineCase) *fixture {
	t.Helper()
	f := open(t, tc.fresh(t))
	f.exec(
		`CREATE TABLE items (id int PRIMARY KEY, name varchar(50) NOT NULL, qty int)`,
		insertItems("items", 1, itemRows),
		`CREATE TABLE notes (body varchar(100))`,
		`INSERT INTO notes (body) VALUES ('a'), ('b'), ('b'), (NULL)`,
		`CREATE TABLE audit (id int PRIMARY KEY, msg varchar(100))`,
		`INSERT INTO audit (id, msg) VALUES (1, 'created'), (2, 'updated')`,
		`CREATE TABLE `+database.RevisionTable+` (id int PRIMARY KEY)`,
		`INSERT INTO `+database.RevisionTable+` (id) VALUES (1)`,
	)
	return f
}

// insertItems inserts rows first..last: name item-N, qty 3N, and a NULL
// qty every 10th row so NULL is part of the row text.
func insertItems(table string, first, last int) string {
	values := make([]string, 0, last-first+1)
	for id := first; id <= last; id++ {
		qty := fmt.Sprint(3 * id)
		if id%10 == 0 {
			qty = "NULL"
		}
		values = append(values, fmt.Sprintf("(%d, 'item-%d', %s)", id, id, qty))
	}
	return "INSERT INTO " + table + " (id, name, qty) VALUES " + strings.Join(values, ", ")
}

// exec runs statements one by one (MySQL's driver runs one per call).
func (f *fixture) exec(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.db.ExecContext(context.Background(), s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
}

// capture captures every table.
func (f *fixture) capture(opts Options) *State {
	f.t.Helper()
	s, err := Capture(context.Background(), f.e, f.db, f.schema, nil, opts)
	if err != nil {
		f.t.Fatalf("Capture: %v", err)
	}
	return s
}

// recheck rechecks before on the fixture's pool.
func (f *fixture) recheck(before *State, opts Options) error {
	return Recheck(context.Background(), f.e, f.db, before, opts)
}

// mismatches unwraps the mismatches of err, which must be a
// *MismatchError matching ErrMismatch.
func mismatches(g Gomega, err error) []Mismatch {
	g.ExpectWithOffset(1, err).To(MatchError(ErrMismatch))
	var me *MismatchError
	g.ExpectWithOffset(1, errors.As(err, &me)).To(BeTrue(), "want a *MismatchError, got %T", err)
	return me.Mismatches
}

// keyText is the key text of a key whose values render as themselves:
// each quoted, joined by commas.
func keyText(values ...string) string {
	return "'" + strings.Join(values, "','") + "'"
}

// sampled tells, for each row of table, whether its key is in the sample
// at percent, by the engine's own definition: the server's SQL spelling,
// or the Go one for SQLite. Rows are named by their key values joined by
// commas.
func (f *fixture) sampled(table string, key []string, percent int) map[string]bool {
	f.t.Helper()
	d, err := dialectFor(f.e)
	if err != nil {
		f.t.Fatal(err)
	}
	cols := make([]column, len(key))
	quoted := make([]string, len(key))
	for i, k := range key {
		cols[i], quoted[i] = column{name: k}, f.e.Quote(k)
	}
	pred := "0"
	server, inServer := d.(serverDialect)
	if inServer {
		pred = fmt.Sprintf("%s < %d", server.bucket(server.rowText(cols)), percent)
	}
	rows, err := f.db.Query(fmt.Sprintf("SELECT %s, %s FROM %s", strings.Join(quoted, ", "), pred, f.e.Quote(table)))
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		values := make([]string, len(key))
		dest := make([]any, len(key)+1)
		for i := range values {
			dest[i] = &values[i]
		}
		var in bool
		dest[len(key)] = &in
		if err := rows.Scan(dest...); err != nil {
			f.t.Fatal(err)
		}
		if !inServer {
			in = bucket(keyText(values...)) < percent
		}
		out[strings.Join(values, ",")] = in
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// sampledIDs splits the items ids into the ones sampled at percent and
// the others, in id order.
func (f *fixture) sampledIDs(percent int) (in, out []int) {
	f.t.Helper()
	sampled := f.sampled("items", []string{"id"}, percent)
	for id := 1; id <= itemRows; id++ {
		if sampled[fmt.Sprint(id)] {
			in = append(in, id)
		} else {
			out = append(out, id)
		}
	}
	return in, out
}
