package bluegreen_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// engine makes fresh databases of one engine and knows its SQL.
type engine struct {
	name  string
	fresh func(tb testing.TB) string
	open  func(tb testing.TB, url string) *sql.DB
	// ph is the n-th bind parameter.
	ph func(n int) string
	// fixture creates the shared test schema: customers and orders linked
	// by a foreign key, and a view over both.
	fixture string
}

var engines = []engine{
	{
		name:    "postgres",
		fresh:   dbtest.NewPostgresDatabase,
		open:    dbtest.OpenPostgres,
		ph:      func(n int) string { return fmt.Sprintf("$%d", n) },
		fixture: pgFixture,
	},
	{
		name:    "mysql",
		fresh:   dbtest.NewMySQLDatabase,
		open:    dbtest.OpenMySQL,
		ph:      func(int) string { return "?" },
		fixture: mysqlFixture,
	},
}

const pgFixture = `
CREATE TABLE customers (
	id serial PRIMARY KEY,
	email text NOT NULL,
	name text,
	status text NOT NULL DEFAULT 'active',
	created_at timestamp NOT NULL,
	balance numeric(12,2) NOT NULL DEFAULT 0,
	CONSTRAINT customers_balance_check CHECK (balance >= 0)
);
CREATE UNIQUE INDEX customers_email_key ON customers (email);
CREATE TABLE orders (
	id bigserial PRIMARY KEY,
	customer_id integer NOT NULL REFERENCES customers (id),
	note text,
	total numeric(12,2) NOT NULL,
	placed_at timestamptz NOT NULL,
	CONSTRAINT orders_total_check CHECK (total > 0)
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE VIEW customer_totals AS
	SELECT c.id, c.email, count(o.id) AS orders, coalesce(sum(o.total), 0) AS spent
	FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
	GROUP BY c.id, c.email;
`

const mysqlFixture = `
CREATE TABLE customers (
	id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
	email varchar(255) NOT NULL,
	name varchar(255) NULL,
	status varchar(16) NOT NULL DEFAULT 'active',
	created_at datetime(6) NOT NULL,
	balance decimal(12,2) NOT NULL DEFAULT 0,
	UNIQUE KEY customers_email_key (email),
	CONSTRAINT customers_balance_check CHECK (balance >= 0)
);
CREATE TABLE orders (
	id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
	customer_id int NOT NULL,
	note text NULL,
	total decimal(12,2) NOT NULL,
	placed_at timestamp(6) NOT NULL,
	KEY orders_customer_idx (customer_id),
	CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id),
	CONSTRAINT orders_total_check CHECK (total > 0)
);
CREATE VIEW customer_totals AS
	SELECT c.id, c.email, count(o.id) AS orders, coalesce(sum(o.total), 0) AS spent
	FROM customers c LEFT JOIN orders o ON o.customer_id = c.id
	GROUP BY c.id, c.email;
`

// Fixture sizes: the last customersDeleted customers are deleted, so
// blue's counter is past its highest id and only a copied sequence (not
// one recomputed from the rows) gives green's next customer id
// fixtureCustomers+1.
const (
	fixtureCustomers = 3000
	customersDeleted = 5
	ordersPerCust    = 2
)

// testDB is a database of the test server, with a handle for checks.
type testDB struct {
	e      engine
	url    string
	target *database.Target
	db     *sql.DB
}

func newTestDB(t testing.TB, e engine) *testDB {
	t.Helper()
	u := e.fresh(t)
	target, err := database.ParseURL(u)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return &testDB{e: e, url: u, target: target, db: e.open(t, u)}
}

// blueWithFixture is a database holding the fixture and its rows.
func blueWithFixture(t testing.TB, e engine) *testDB {
	t.Helper()
	blue := newTestDB(t, e)
	blue.exec(t, e.fixture)
	blue.fill(t)
	return blue
}

// greenOf opens the green database named green on blue's server.
func (d *testDB) greenOf(t testing.TB, green string) *testDB {
	t.Helper()
	u := *d.target.URL
	u.Path = "/" + green
	target, err := database.ParseURL(u.String())
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return &testDB{e: d.e, url: u.String(), target: target, db: d.e.open(t, u.String())}
}

// exec runs a script, one statement at a time.
func (d *testDB) exec(t testing.TB, script string) {
	t.Helper()
	stmts, err := migrate.Stmts(script)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	for _, s := range stmts {
		_, err := d.db.ExecContext(context.Background(), s.Text)
		NewWithT(t).Expect(err).NotTo(HaveOccurred(), s.Text)
	}
}

// insertRows inserts rows into table in multi-row statements.
// createBig creates table big with n rows, enough for a copy of several
// batches.
func (d *testDB) createBig(t testing.TB, n int) {
	t.Helper()
	d.exec(t, "CREATE TABLE big (id integer NOT NULL PRIMARY KEY, payload varchar(100))")
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{i, fmt.Sprintf("payload %d", i)}
	}
	d.insertRows(t, "big", []string{"id", "payload"}, rows)
}

func (d *testDB) insertRows(t testing.TB, table string, cols []string, rows [][]any) {
	t.Helper()
	const per = 200
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var tuples []string
		var args []any
		for _, r := range chunk {
			var phs []string
			for _, v := range r {
				args = append(args, v)
				phs = append(phs, d.e.ph(len(args)))
			}
			tuples = append(tuples, "("+strings.Join(phs, ", ")+")")
		}
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Join(tuples, ", ")
		_, err := d.db.ExecContext(context.Background(), q, args...)
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
	}
}

// fill loads the fixture's rows: NULLs, quotes of both kinds, backslashes,
// newlines, tabs and non-ASCII text, timestamps with microseconds and
// decimals; then deletes the last customers.
func (d *testDB) fill(t testing.TB) {
	t.Helper()
	var customers, orders [][]any
	for i := 1; i <= fixtureCustomers; i++ {
		var name any = fmt.Sprintf("O'Brien \"%d\" \\ tab\there\nnewline — 東京 🚀", i)
		if i%7 == 0 {
			name = nil
		}
		created := fmt.Sprintf("2024-%02d-%02d 10:%02d:%02d.%06d", 1+i%12, 1+i%28, i%60, (i*7)%60, i*37%1000000)
		customers = append(customers, []any{fmt.Sprintf("c%d@example.com", i), name, created, fmt.Sprintf("%d.%02d", i%1000, i%100)})
		for j := 1; j <= ordersPerCust; j++ {
			var note any = fmt.Sprintf("order %d of %d: 'quoted' ünïcödé", j, i)
			if (i+j)%5 == 0 {
				note = nil
			}
			placed := fmt.Sprintf("2024-06-%02d 0%d:15:30.%06d", 1+i%28, j, i*13%1000000)
			orders = append(orders, []any{i, note, fmt.Sprintf("%d.%02d", 1+i%500, j*11%100), placed})
		}
	}
	d.insertRows(t, "customers", []string{"email", "name", "created_at", "balance"}, customers)
	d.insertRows(t, "orders", []string{"customer_id", "note", "total", "placed_at"}, orders)
	first := fixtureCustomers - customersDeleted + 1
	d.exec(t, fmt.Sprintf("DELETE FROM orders WHERE customer_id >= %d; DELETE FROM customers WHERE id >= %d", first, first))
}

// rows dumps a table ordered by its first column, with byte slices as
// strings, so that two dumps compare with Equal.
func (d *testDB) rows(t testing.TB, table string) [][]any {
	t.Helper()
	rows, err := d.db.QueryContext(context.Background(), "SELECT * FROM "+table+" ORDER BY 1")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer rows.Close()
	cols, err := rows.Columns()
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		NewWithT(t).Expect(rows.Scan(ptrs...)).To(Succeed())
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	NewWithT(t).Expect(rows.Err()).NotTo(HaveOccurred())
	return out
}

// count returns the rows of table.
func (d *testDB) count(t testing.TB, table string) int64 {
	t.Helper()
	var n int64
	NewWithT(t).Expect(d.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n)).To(Succeed())
	return n
}

// inspect returns the schema as Atlas sees it, without the clone marker.
func (d *testDB) inspect(t testing.TB) *schema.Schema {
	t.Helper()
	drv, err := d.target.Driver(d.db)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	s, err := drv.InspectSchema(context.Background(), d.target.Schema(), &schema.InspectOptions{Exclude: []string{bluegreen.MarkerTable}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return s
}

// createScript is the SQL Atlas would run to create s in an empty schema:
// a text that differs when any table, column, default, index, constraint
// or sequence of s does.
func (d *testDB) createScript(t testing.TB, s *schema.Schema) []string {
	t.Helper()
	drv, err := d.target.Driver(d.db)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	changes, err := drv.SchemaDiff(&schema.Schema{Name: s.Name, Attrs: s.Attrs}, s)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	plan, err := drv.PlanChanges(context.Background(), "create", changes, func(o *migrate.PlanOptions) {
		empty := ""
		o.SchemaQualifier = &empty
	})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var stmts []string
	for _, c := range plan.Changes {
		stmts = append(stmts, c.Cmd)
	}
	return stmts
}

// expectSameSchema compares green's schema, as Atlas inspects it, with
// blue's: no difference in Atlas's diff, the same creation script, and
// the same views.
func expectSameSchema(t testing.TB, blue, green *testDB) {
	t.Helper()
	g := NewWithT(t)
	bs, gs := blue.inspect(t), green.inspect(t)
	g.Expect(tableNames(gs)).To(Equal(tableNames(bs)))
	g.Expect(green.createScript(t, gs)).To(Equal(blue.createScript(t, bs)))
	renamed := *gs
	renamed.Name = bs.Name
	for _, tb := range renamed.Tables {
		tb.Schema = &renamed
	}
	drv, err := blue.target.Driver(blue.db)
	g.Expect(err).NotTo(HaveOccurred())
	diff, err := drv.RealmDiff(schema.NewRealm(bs), schema.NewRealm(&renamed))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(diff).To(BeEmpty(), "Atlas sees a difference between blue and green")
	bv, err := blue.target.Engine.Views(context.Background(), blue.db, blue.target.Schema())
	g.Expect(err).NotTo(HaveOccurred())
	gv, err := green.target.Engine.Views(context.Background(), green.db, green.target.Schema())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gv).To(Equal(bv))
}

func tableNames(s *schema.Schema) []string {
	var names []string
	for _, t := range s.Tables {
		names = append(names, t.Name)
	}
	return names
}

// progress records Progress calls per table.
type progress map[string][][2]int64

func (p progress) record(table string, done, total int64) {
	p[table] = append(p[table], [2]int64{done, total})
}

// dones are the rows written a table's calls reported, each once.
func (p progress) dones(table string) []int64 {
	var out []int64
	for _, c := range p[table] {
		if len(out) == 0 || out[len(out)-1] != c[0] {
			out = append(out, c[0])
		}
	}
	return out
}

// last is a table's last call.
func (p progress) last(table string) [2]int64 {
	calls := p[table]
	if len(calls) == 0 {
		return [2]int64{-1, -1}
	}
	return calls[len(calls)-1]
}
