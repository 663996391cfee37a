package database_test

import (
	"context"
	"database/sql"
	"fmt"
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

// SQLite is inspected through the engine's driver as through Atlas's own,
// index for index and in the same order, but with each table's indexes
// read by the engine's query, not Atlas's (whose cost grows with the
// whole schema's).
func TestSQLiteInspectionReadsIndexesAsAtlasDoes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	target, err := database.ParseURL("sqlite://" + t.TempDir() + "/db.sqlite")
	g.Expect(err).NotTo(HaveOccurred())
	db, err := target.Open(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = db.Close() })

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
	ddl = append(ddl, `CREATE INDEX t_late ON t (c, a)`, `CREATE INDEX other7_late ON other7 (n, id)`)
	for _, stmt := range ddl {
		_, err := db.ExecContext(ctx, stmt)
		g.Expect(err).NotTo(HaveOccurred(), stmt)
	}

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
		case strings.Contains(q, "FROM pragma_index_list("):
			asAtlas++
		case strings.Contains(q, "CROSS JOIN pragma_index_list("):
			asEngine++
		}
	}
	g.Expect(asAtlas).To(BeZero(), "Atlas's index query asked as it is")
	g.Expect(asEngine).To(Equal(len(got.Tables)), "one index query a table")
}
