package planner_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/schema"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/faultproxy"
)

// engine makes fresh, empty databases of one engine.
type engine struct {
	name  string
	fresh func(tb testing.TB) string
}

var engines = []engine{
	{"sqlite", func(tb testing.TB) string { return "sqlite://" + filepath.Join(tb.TempDir(), "test.db") }},
	{"postgres", dbtest.NewPostgresDatabase},
	{"mysql", dbtest.NewMySQLDatabase},
}

// perEngine picks the SQL for an engine, falling back to the "" entry.
type perEngine map[string]string

func (p perEngine) for_(e string) string {
	if s, ok := p[e]; ok {
		return s
	}
	return p[""]
}

// testDB is a target database with a handle for checks.
type testDB struct {
	target *database.Target
	db     *sql.DB
}

func newTestDB(t testing.TB, e engine) *testDB {
	t.Helper()
	g := NewWithT(t)
	target, err := database.ParseURL(e.fresh(t))
	g.Expect(err).NotTo(HaveOccurred())
	db, err := target.Open(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = db.Close() })
	return &testDB{target: target, db: db}
}

// throughProxy reaches the target through a fault proxy, closed when t
// ends: the proxy, and the target as seen through it.
func (d *testDB) throughProxy(t testing.TB) (*faultproxy.Proxy, *database.Target) {
	t.Helper()
	g := NewWithT(t)
	proxy, err := faultproxy.Start(d.target.URL.Host)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = proxy.Close() })
	u := *d.target.URL
	u.Host = proxy.Addr()
	via, err := database.ParseURL(u.String())
	g.Expect(err).NotTo(HaveOccurred())
	return proxy, via
}

// exec runs a script on the target directly.
func (d *testDB) exec(t testing.TB, sql string) {
	t.Helper()
	stmts, err := migrate.Stmts(sql)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	for _, s := range stmts {
		_, err := d.db.ExecContext(context.Background(), s.Text)
		NewWithT(t).Expect(err).NotTo(HaveOccurred(), s.Text)
	}
}

// inspect returns the live schema (revision table excluded).
func (d *testDB) inspect(t testing.TB) *schema.Schema {
	t.Helper()
	drv, err := d.target.Driver(d.db)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	s, err := drv.InspectSchema(context.Background(), d.target.Schema(), &schema.InspectOptions{Exclude: []string{database.RevisionTable}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return s
}

func (d *testDB) tables(t testing.TB) []string {
	var names []string
	for _, tb := range d.inspect(t).Tables {
		names = append(names, tb.Name)
	}
	return names
}

func (d *testDB) columns(t testing.TB, table string) []string {
	tb, ok := d.inspect(t).Table(table)
	if !ok {
		return nil
	}
	var names []string
	for _, c := range tb.Columns {
		names = append(names, c.Name)
	}
	return names
}

func (d *testDB) indexes(t testing.TB, table string) []string {
	var names []string
	for _, tb := range d.inspect(t).Tables {
		if tb.Name == table {
			for _, ix := range tb.Indexes {
				names = append(names, ix.Name)
			}
		}
	}
	return names
}

func (d *testDB) views(t testing.TB) []string {
	vs, err := d.target.Engine.Views(context.Background(), d.db, d.target.Schema())
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, v := range vs {
		names = append(names, v.Name)
	}
	return names
}

func (d *testDB) revisions(t testing.TB) []*database.Revision {
	revs, err := database.RevisionsOn(d.target.Engine, d.db).All(context.Background())
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return revs
}

func (d *testDB) queryString(t testing.TB, query string) string {
	var s string
	NewWithT(t).Expect(d.db.QueryRowContext(context.Background(), query).Scan(&s)).To(Succeed())
	return s
}

func scripts(sqls ...string) []script.Script {
	var out []script.Script
	for i, s := range sqls {
		out = append(out, script.Script{Name: string(rune('a'+i)) + "-script", Type: "schema", SQL: s, Checksum: script.Checksum([]byte(s))})
	}
	return out
}
