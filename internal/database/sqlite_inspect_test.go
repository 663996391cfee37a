package database_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// queryLog is a querier that keeps the queries it passes on.
type queryLog struct {
	schema.ExecQuerier
	queries []string
}

func (q *queryLog) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q.queries = append(q.queries, query)
	return q.ExecQuerier.QueryContext(ctx, query, args...)
}

// sqliteWith is a new SQLite database file, its target and a pool on it,
// after stmts.
func sqliteWith(t *testing.T, stmts ...string) (*database.Target, *sql.DB) {
	t.Helper()
	target := mustTarget(t, "sqlite://"+filepath.Join(t.TempDir(), "test.db"))
	db, err := target.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return target, db
}

// SQLite is inspected through the engine's driver as through Atlas's own,
// index for index and in the same order, but with each table's indexes
// read by the engine's query, not Atlas's (whose cost grows with the
// whole schema's).
func TestSQLiteInspectionReadsIndexesAsAtlasDoes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ddl := []string{
		`CREATE TABLE t (id integer PRIMARY KEY, a int, b text UNIQUE, c int, UNIQUE (a, c))`,
		`CREATE INDEX t_a ON t (a DESC)`,
		`CREATE INDEX t_partial ON t (c) WHERE c > 0`,
		`CREATE INDEX t_expr ON t (lower(b))`,
		// A name that begins another's, and one whose case differs.
		`CREATE TABLE t2 (id integer PRIMARY KEY, a int)`,
		`CREATE INDEX t2_a ON t2 (a)`,
		`CREATE TABLE "Mixed Case" (k text NOT NULL, v int, PRIMARY KEY (k, v)) WITHOUT ROWID`,
		`CREATE UNIQUE INDEX mixed_v ON "Mixed Case" (v)`,
		`CREATE TABLE plain (x int)`,
	}
	// Indexes created out of their tables' order, and many tables around
	// them.
	for i := range 50 {
		ddl = append(ddl, fmt.Sprintf(`CREATE TABLE other%d (id integer PRIMARY KEY, n int UNIQUE)`, i))
	}
	ddl = append(ddl, `CREATE INDEX t_late ON t (c, a)`, `CREATE INDEX other7_late ON other7 (n, id)`,
		// Rows of sqlite_master that a join by index name meets: a
		// trigger of an index's name, and an index whose tbl_name was
		// edited (SQLite finds its indexes by their definitions).
		`CREATE TRIGGER t_a AFTER INSERT ON t BEGIN SELECT 1; END`,
		`PRAGMA writable_schema = ON`,
		`UPDATE sqlite_master SET tbl_name = 'T2' WHERE name = 't2_a'`,
		`PRAGMA writable_schema = OFF`,
	)
	target, db := sqliteWith(t, ddl...)

	inspect := func(drv interface {
		InspectSchema(context.Context, string, *schema.InspectOptions) (*schema.Schema, error)
	}) *schema.Schema {
		s, err := drv.InspectSchema(ctx, "", nil)
		g.Expect(err).NotTo(HaveOccurred())
		return s
	}
	atlasDriver, err := sqlite.Open(db)
	g.Expect(err).NotTo(HaveOccurred())
	log := &queryLog{ExecQuerier: db}
	ours, err := target.Driver(log)
	g.Expect(err).NotTo(HaveOccurred())
	want, got := inspect(atlasDriver), inspect(ours)

	indexes := func(s *schema.Schema) string {
		var b strings.Builder
		for _, tbl := range s.Tables {
			for _, idx := range tbl.Indexes {
				fmt.Fprintf(&b, "%s.%s unique=%t parts=%d", tbl.Name, idx.Name, idx.Unique, len(idx.Parts))
				for _, a := range idx.Attrs {
					fmt.Fprintf(&b, " %T%+v", a, a)
				}
				b.WriteString("\n")
			}
		}
		return b.String()
	}
	g.Expect(indexes(got)).To(ContainSubstring("Mixed Case.mixed_v"))
	g.Expect(indexes(got)).To(ContainSubstring("t.t_partial"))
	g.Expect(indexes(got)).To(Equal(indexes(want)))
	g.Expect(reflect.DeepEqual(got, want)).To(BeTrue(), "the whole schema inspected as Atlas inspects it")

	var asAtlas, asEngine int
	for _, q := range log.queries {
		switch {
		case strings.Contains(q, "AS il JOIN sqlite_master"):
			asAtlas++
		case strings.Contains(q, "CROSS JOIN pragma_index_list("):
			asEngine++
		}
	}
	g.Expect(asAtlas).To(BeZero(), "Atlas's index query asked as it is")
	g.Expect(asEngine).To(Equal(len(got.Tables)), "one index query a table")
}

// A table or an index whose name holds a quote is inspected as itself:
// Atlas writes the name into its queries' string literals as it is, where
// it would end the literal and go on as SQL.
func TestSQLiteInspectionQuotesNames(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	target, db := sqliteWith(t,
		`CREATE TABLE x (secret text)`,
		`CREATE TABLE parent (id integer PRIMARY KEY)`,
		`CREATE TABLE "x') --" (own int)`,
		`CREATE TABLE "it's" (id integer PRIMARY KEY, a int, parent_id int REFERENCES parent (id))`,
		`CREATE INDEX "it's_a" ON "it's" (a DESC)`,
	)
	drv, err := target.Driver(db)
	g.Expect(err).NotTo(HaveOccurred())
	s, err := drv.InspectSchema(ctx, "", nil)
	g.Expect(err).NotTo(HaveOccurred())

	columns := func(name string) []string {
		tbl, ok := s.Table(name)
		g.Expect(ok).To(BeTrue(), name)
		var out []string
		for _, c := range tbl.Columns {
			out = append(out, c.Name)
		}
		return out
	}
	g.Expect(columns("x') --")).To(Equal([]string{"own"}))
	g.Expect(columns("it's")).To(Equal([]string{"id", "a", "parent_id"}))
	quoted, _ := s.Table("it's")
	g.Expect(quoted.Indexes).To(HaveLen(1))
	g.Expect(quoted.Indexes[0].Name).To(Equal("it's_a"))
	g.Expect(quoted.Indexes[0].Parts).To(HaveLen(1))
	g.Expect(quoted.Indexes[0].Parts[0].Desc).To(BeTrue(), "the index's columns read (pragma_index_xinfo)")
	g.Expect(quoted.ForeignKeys).To(HaveLen(1))
	g.Expect(quoted.ForeignKeys[0].RefTable.Name).To(Equal("parent"))
}
