package archtest_test

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// TestEveryEngineHasEveryCapability fails when a database kind has an
// engine but one of the packages the strategies lean on has no dialect for
// it: every kind is split and gated, its integrity checked; every server
// engine can also take shadow-table changes and blue-green copies. Every
// engine answers every catalogue fact those packages read, on a real
// database.
func TestEveryEngineHasEveryCapability(t *testing.T) {
	kinds := []database.Kind{database.KindPostgreSQL, database.KindMySQL, database.KindMariaDB, database.KindSQLite}
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			g := NewWithT(t)
			e, err := database.For(k)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(e.Kinds()).To(ContainElement(k))

			_, err = sqlstatic.SplitFor(sqlstatic.Dialect(k), "CREATE TABLE t (id int);")
			g.Expect(err).NotTo(HaveOccurred(), "sqlstatic splits %s", k)
			violations, err := sqlstatic.Gate{}.CheckScript(sqlstatic.Dialect(k), "GRANT ALL ON t TO someone;")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(violations).NotTo(BeEmpty(), "the gate reads %s", k)

			g.Expect(integrity.Supports(e)).To(BeTrue(), "integrity checks on %s", k)
			if e.Server() {
				g.Expect(shadow.Supports(e)).To(BeTrue(), "shadow-table on %s", k)
				g.Expect(bluegreen.Supports(e)).To(BeTrue(), "blue-green on %s", k)
				_, err := e.BuildURL(database.Config{Kind: k, Host: "db", Port: k.DefaultPort(), Database: "app", SSLMode: k.DefaultSSLMode()}, "u", "p")
				g.Expect(err).NotTo(HaveOccurred())
			}
			g.Expect(e.Identity(&url.URL{Scheme: e.Schemes()[0], Host: "db:1", Path: "/app"})).NotTo(BeEmpty())

			t.Run("catalogue", func(t *testing.T) { checkCatalogue(t, k) })
		})
	}
}

// checkCatalogue asks a real database of kind k every catalogue fact the
// strategies read (shadow-table changes, blue-green copies, integrity
// checks), of a table whose primary key runs against its column order.
// Server kinds run where the test servers are configured.
func checkCatalogue(t *testing.T, k database.Kind) {
	g := NewWithT(t)
	ctx := context.Background()
	raw := map[database.Kind]func(testing.TB) string{
		database.KindPostgreSQL: dbtest.NewPostgresDatabase,
		database.KindMySQL:      dbtest.NewMySQLDatabase,
		database.KindMariaDB:    dbtest.NewMySQLDatabase,
		database.KindSQLite:     func(tb testing.TB) string { return "sqlite://" + filepath.Join(tb.TempDir(), "catalogue.db") },
	}[k]
	g.Expect(raw).NotTo(BeNil(), "no test database for %s", k)
	target, err := database.ParseURL(raw(t))
	g.Expect(err).NotTo(HaveOccurred())
	db, err := target.Open(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = db.Close() }()
	e, schema := target.Engine, target.Schema()
	_, err = db.ExecContext(ctx, "CREATE TABLE items (b integer NOT NULL, a integer NOT NULL, note varchar(20), PRIMARY KEY (a, b))")
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(e.IdentLimit()).To(BeNumerically(">=", len("items")), "identifier limit")
	g.Expect(e.IdentLimit()).To(BeNumerically(">=", database.PortableIdentLimit()))
	g.Expect(e.CurrentSchema(ctx, db)).To(Equal(schema), "current schema")
	var rows int
	g.Expect(db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+e.Qualify(schema, "items")).Scan(&rows)).To(Succeed(), "qualified name")

	want := []string{"b", "a", "note"}
	tables, err := e.Tables(ctx, db, schema)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tables).To(HaveLen(1))
	g.Expect(tables[0].Name).To(Equal("items"))
	g.Expect(columnNames(tables[0].Columns)).To(Equal(want), "tables")
	cols, err := e.Columns(ctx, db, schema, "items")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(columnNames(cols)).To(Equal(want), "columns")
	g.Expect(cols[0].Type).NotTo(BeEmpty(), "column type")
	g.Expect(database.PrimaryKey(cols)).To(Equal([]string{"a", "b"}), "primary key in key order")
	g.Expect(e.Columns(ctx, db, schema, "missing")).To(BeEmpty())

	size, err := e.TableSize(ctx, db, schema, "items")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(size).To(BeNumerically(">=", 0))
	_, err = e.Views(ctx, db, schema)
	g.Expect(err).NotTo(HaveOccurred())
}

func columnNames(cols []database.Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}
