package integrity

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// full checksums every row.
var full = Options{SamplePercentage: 100, Checksum: true}

func TestCaptureRecordsTables(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := seeded(t, tc)
			s := f.capture(Options{SamplePercentage: 10, Checksum: true})

			g.Expect(s.Engine).To(Equal(f.e.Name()))
			g.Expect(s.Schema).To(Equal(f.schema))
			g.Expect(s.SamplePercentage).To(Equal(10))
			names := make([]string, len(s.Tables))
			for i, tab := range s.Tables {
				names[i] = tab.Name
			}
			g.Expect(names).To(Equal([]string{"audit", "items", "notes"}), "the revision table is not captured")

			items := s.Table("items")
			g.Expect(items.Columns).To(Equal([]string{"id", "name", "qty"}))
			g.Expect(items.PrimaryKey).To(Equal([]string{"id"}))
			g.Expect(items.Rows).To(BeEquivalentTo(itemRows))
			in, _ := f.sampledIDs(10)
			g.Expect(items.SampledRows).To(BeEquivalentTo(len(in)),
				"Capture samples the rows the engine's definition picks")
			g.Expect(items.Checksum).NotTo(BeEmpty())
			g.Expect(items.CountOnly).To(BeFalse())

			notes := s.Table("notes")
			g.Expect(notes.Rows).To(BeEquivalentTo(4))
			g.Expect(notes.CountOnly).To(BeTrue())
			g.Expect(notes.Checksum).To(BeEmpty())
			g.Expect(s.CountOnly()).To(Equal([]string{"notes"}))
		})
	}
}

// TestChecksumDefinition pins the definition MySQL and SQLite share: the
// same rows give the checksum the Go spelling computes, so neither SQL
// spelling drifts from it.
func TestChecksumDefinition(t *testing.T) {
	var want total
	for id := 1; id <= itemRows; id++ {
		if bucket(keyText(fmt.Sprint(id))) < 50 {
			qty := fmt.Sprintf("'%d'", 3*id)
			if id%10 == 0 {
				qty = "NULL"
			}
			want.add(rowHash(fmt.Sprintf("'%d','item-%d',%s", id, id, qty)))
		}
	}
	for _, tc := range []engineCase{engineCases[0], engineCases[2]} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s := seeded(t, tc).capture(Options{SamplePercentage: 50, Checksum: true})
			g.Expect(s.Table("items").Checksum).To(Equal(want.String()))
		})
	}
}

func TestRecheck(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("unchanged data passes", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				for _, opts := range []Options{full, {SamplePercentage: 10, Checksum: true}, {Checksum: false}} {
					before := f.capture(opts)
					g.Expect(f.recheck(before, opts)).To(Succeed(), "%+v", opts)
				}
			})

			t.Run("a deleted row fails with the counts", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				before := f.capture(full)
				f.exec(`DELETE FROM items WHERE id = 7`, `DELETE FROM notes WHERE body = 'a'`)

				err := f.recheck(before, full)
				g.Expect(mismatches(g, err)).To(ConsistOf(
					Mismatch{Kind: RowCount, Table: "items", Before: itemRows, After: itemRows - 1},
					Mismatch{Kind: Checksum, Table: "items", Before: itemRows, After: itemRows - 1},
					Mismatch{Kind: RowCount, Table: "notes", Before: 4, After: 3},
				))
				g.Expect(err.Error()).To(Equal("data integrity check failed, 3 mismatches: " +
					"table items: rows 200 → 199; " +
					"table items: checksum differs (sampled rows 200 → 199); " +
					"table notes: rows 4 → 3"))
			})

			t.Run("an updated value in a sampled row fails the checksum", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				before := f.capture(full)
				f.exec(`UPDATE items SET name = 'secret-value' WHERE id = 3`)

				err := f.recheck(before, full)
				g.Expect(mismatches(g, err)).To(ConsistOf(
					Mismatch{Kind: Checksum, Table: "items", Before: itemRows, After: itemRows}))
				g.Expect(err.Error()).To(ContainSubstring("table items: checksum differs over 200 sampled rows"))
				g.Expect(err.Error()).NotTo(ContainSubstring("secret"), "no data values in errors")
				g.Expect(err.Error()).NotTo(ContainSubstring("item-3"), "no data values in errors")
			})

			t.Run("sampling is by primary key", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				opts := Options{SamplePercentage: 10, Checksum: true}
				in, out := f.sampledIDs(opts.SamplePercentage)
				g.Expect(in).NotTo(BeEmpty())
				g.Expect(out).NotTo(BeEmpty())
				before := f.capture(opts)

				// Rewrite the table in reverse key order: another physical
				// layout, the same rows.
				f.exec(`CREATE TABLE items_old AS SELECT * FROM items`, `DELETE FROM items`,
					`INSERT INTO items SELECT * FROM items_old ORDER BY id DESC`, `DROP TABLE items_old`)
				g.Expect(f.recheck(before, opts)).To(Succeed(), "row order is no change")

				f.exec(fmt.Sprintf(`UPDATE items SET qty = -1 WHERE id = %d`, out[0]))
				g.Expect(f.recheck(before, opts)).To(Succeed(), "row %d is outside the 10%% sample", out[0])

				f.exec(fmt.Sprintf(`UPDATE items SET qty = -1 WHERE id = %d`, in[0]))
				g.Expect(mismatches(g, f.recheck(before, opts))).To(ConsistOf(
					Mismatch{Kind: Checksum, Table: "items", Before: int64(len(in)), After: int64(len(in))}),
					"row %d is in the sample", in[0])
			})

			t.Run("an added column passes", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				before := f.capture(full)
				f.exec(`ALTER TABLE items ADD COLUMN extra int DEFAULT 5`, `ALTER TABLE notes ADD COLUMN extra int`)
				g.Expect(f.recheck(before, full)).To(Succeed())
			})

			t.Run("a dropped column fails", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				before := f.capture(full)
				f.exec(`ALTER TABLE items DROP COLUMN qty`)

				err := f.recheck(before, full)
				g.Expect(mismatches(g, err)).To(ConsistOf(
					Mismatch{Kind: ColumnsDiffer, Table: "items", Missing: []string{"qty"}}))
				g.Expect(err.Error()).To(ContainSubstring("table items: column qty missing, checksum not compared"))
			})

			t.Run("a dropped table fails", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				before := f.capture(full)
				f.exec(`DROP TABLE audit`)

				err := f.recheck(before, full)
				g.Expect(mismatches(g, err)).To(ConsistOf(Mismatch{Kind: TableMissing, Table: "audit"}))
				g.Expect(err.Error()).To(ContainSubstring("table audit: missing"))
			})

			t.Run("int to bigint and varchar to text pass", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				before := f.capture(full)
				f.exec(tc.widen...)
				g.Expect(f.recheck(before, full)).To(Succeed())
			})

			t.Run("Exclude skips a table", func(t *testing.T) {
				g := NewWithT(t)
				f := seeded(t, tc)
				opts := full
				opts.Exclude = []string{"audit"}
				before := f.capture(opts)
				g.Expect(before.Table("audit")).To(BeNil(), "Capture skips excluded tables")

				all := f.capture(full)
				f.exec(`DELETE FROM audit`, `UPDATE items SET name = 'x' WHERE id = 1`)
				g.Expect(mismatches(g, f.recheck(all, opts))).To(ConsistOf(
					Mismatch{Kind: Checksum, Table: "items", Before: itemRows, After: itemRows}),
					"audit is skipped, items is still checked")
			})
		})
	}
}

func TestRecheckInsideATransaction(t *testing.T) {
	for _, tc := range engineCases[1:] { // PostgreSQL and MySQL
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			f := seeded(t, tc)

			// A read-only transaction proves nothing is written.
			ro, err := f.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			g.Expect(err).NotTo(HaveOccurred())
			before, err := Capture(ctx, f.e, ro, f.schema, nil, full)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Recheck(ctx, f.e, ro, before, full)).To(Succeed())
			g.Expect(ro.Commit()).To(Succeed())

			// The apply's transaction sees its own uncommitted changes.
			tx, err := f.db.BeginTx(ctx, nil)
			g.Expect(err).NotTo(HaveOccurred())
			defer func() { _ = tx.Rollback() }()
			before, err = Capture(ctx, f.e, tx, f.schema, []string{"items"}, full)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = tx.ExecContext(ctx, `DELETE FROM items WHERE id = 1`)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(mismatches(g, Recheck(ctx, f.e, tx, before, full))).To(ContainElement(
				Mismatch{Kind: RowCount, Table: "items", Before: itemRows, After: itemRows - 1}))
			g.Expect(tx.Rollback()).To(Succeed())
			g.Expect(f.recheck(before, full)).To(Succeed(), "rolled back")
		})
	}
}

// TestRecheckOnTheLockConnection runs on SQLite's apply transaction, the
// exclusive one the engine's Lock takes.
func TestRecheckOnTheLockConnection(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f := seeded(t, engineCases[0])
	conn, err := f.db.Conn(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	unlock, err := f.e.Lock(ctx, conn, "test", time.Second)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = unlock() }()
	tx, err := f.e.Begin(ctx, conn)
	g.Expect(err).NotTo(HaveOccurred())

	before, err := Capture(ctx, f.e, tx, f.schema, nil, full)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = tx.ExecContext(ctx, `UPDATE items SET qty = 0 WHERE id = 2`)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mismatches(g, Recheck(ctx, f.e, tx, before, full))).To(ConsistOf(
		Mismatch{Kind: Checksum, Table: "items", Before: itemRows, After: itemRows}))
	g.Expect(tx.Rollback()).To(Succeed())
}

func TestDiffTables(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			f := seeded(t, tc)
			// A shadow copy with another column order and an extra column.
			f.exec(`CREATE TABLE items_shadow (qty bigint, note varchar(10), name text NOT NULL, id int PRIMARY KEY)`,
				`INSERT INTO items_shadow (id, name, qty) SELECT id, name, qty FROM items`)
			diff := func(columns []string, opts Options) error {
				return DiffTables(ctx, f.e, f.db, f.schema, "items", "items_shadow", columns, opts)
			}
			g.Expect(diff([]string{"name", "qty"}, full)).To(Succeed())
			g.Expect(diff([]string{"qty"}, Options{SamplePercentage: 10, Checksum: true})).To(Succeed())

			f.exec(`DELETE FROM items_shadow WHERE id = 42`)
			err := diff([]string{"name", "qty"}, full)
			g.Expect(mismatches(g, err)).To(ConsistOf(
				Mismatch{Kind: RowCount, Table: "items", Copy: "items_shadow", Before: itemRows, After: itemRows - 1},
				Mismatch{Kind: Checksum, Table: "items", Copy: "items_shadow", Before: itemRows, After: itemRows - 1},
			))
			g.Expect(err.Error()).To(HavePrefix("copy check failed, 2 mismatches: table items (copy items_shadow): rows 200 → 199;"))

			g.Expect(mismatches(g, DiffTables(ctx, f.e, f.db, f.schema, "items_shadow", "items", nil, full))).To(ConsistOf(
				Mismatch{Kind: RowCount, Table: "items_shadow", Copy: "items", Before: itemRows - 1, After: itemRows},
				Mismatch{Kind: ColumnsDiffer, Table: "items_shadow", Copy: "items", Missing: []string{"note"}},
			), "no columns named: all of the source's, the copy's extra ones ignored")
			g.Expect(mismatches(g, DiffTables(ctx, f.e, f.db, f.schema, "items", "nowhere", nil, full))).To(ConsistOf(
				Mismatch{Kind: TableMissing, Table: "items", Copy: "nowhere"}))
			g.Expect(diff([]string{"nope"}, full)).To(MatchError("column nope not found in table items"))
			g.Expect(DiffTables(ctx, f.e, f.db, f.schema, "nowhere", "items", nil, full)).To(
				MatchError(fmt.Sprintf("table nowhere not found in schema %s", f.schema)))
		})
	}
}

// TestDiffAcrossDatabases compares a table with its copy in another
// database, as blue-green does.
func TestDiffAcrossDatabases(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			blue := seeded(t, tc)
			green := seeded(t, tc)
			green.exec(`ALTER TABLE items ADD COLUMN added int`)
			opts := Options{SamplePercentage: 25, Checksum: true}

			a := blue.capture(opts)
			b, err := CaptureLike(ctx, green.e, green.db, green.schema, a, opts)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(Diff(a, b)).To(Succeed())

			// One audit row, and an items row outside the sample.
			_, out := blue.sampledIDs(25)
			green.exec(`DELETE FROM audit WHERE id = 2`, fmt.Sprintf(`DELETE FROM items WHERE id = %d`, out[0]))
			b, err = CaptureLike(ctx, green.e, green.db, green.schema, a, opts)
			g.Expect(err).NotTo(HaveOccurred())
			want := []Mismatch{
				{Kind: RowCount, Table: "audit", Before: 2, After: 1},
				{Kind: RowCount, Table: "items", Before: itemRows, After: itemRows - 1},
			}
			if blue.sampled("audit", []string{"id"}, 25)["2"] {
				want = append(want, Mismatch{Kind: Checksum, Table: "audit", Before: a.Table("audit").SampledRows, After: a.Table("audit").SampledRows - 1})
			}
			g.Expect(mismatches(g, Diff(a, b))).To(ConsistOf(want),
				"a deleted row outside the items sample shows only in the count")

			independent := green.capture(opts)
			g.Expect(mismatches(g, Diff(a, independent))).To(ContainElement(
				Mismatch{Kind: ColumnsDiffer, Table: "items", Extra: []string{"added"}}))
		})
	}
}

func TestUsageErrors(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	f := seeded(t, engineCases[0])

	_, err := Capture(ctx, f.e, f.db, f.schema, []string{"items", "nowhere"}, full)
	g.Expect(err).To(MatchError("table nowhere not found in schema main"))
	_, err = Capture(ctx, f.e, f.db, f.schema, nil, Options{SamplePercentage: 101})
	g.Expect(err).To(MatchError("sample percentage 101 is outside 1..100"))

	before := f.capture(full)
	err = f.recheck(before, Options{SamplePercentage: 10, Checksum: true})
	g.Expect(err).To(MatchError("options (sample 10%, checksum true) differ from the capture's (sample 100%, checksum true)"))
	g.Expect(err).NotTo(MatchError(ErrMismatch))
	g.Expect(Diff(before, f.capture(Options{}))).To(MatchError(ContainSubstring("different options")))

	pg, err := database.For(database.KindPostgreSQL)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(Recheck(ctx, pg, f.db, before, full)).To(MatchError("the capture was taken on " + f.e.Name() + ", not " + pg.Name()))

	g.Expect(f.recheck(nil, full)).To(MatchError("no earlier capture to compare with"))
	_, err = Capture(ctx, f.e, f.db, f.schema, []string{"items", "items"}, full)
	g.Expect(err).NotTo(HaveOccurred(), "a table named twice is captured once")

	// Options{} samples everything: 0 means 100.
	g.Expect(f.capture(Options{Checksum: true}).SamplePercentage).To(Equal(100))
}

// TestCompositeKey checks that a key is read in key order, not column
// order, and sampled by all its columns.
func TestCompositeKey(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := open(t, tc.fresh(t))
			f.exec(`CREATE TABLE stock (shop varchar(10) NOT NULL, sku int NOT NULL, n int, PRIMARY KEY (sku, shop))`)
			for sku := 1; sku <= 50; sku++ {
				f.exec(fmt.Sprintf(`INSERT INTO stock (shop, sku, n) VALUES ('north', %d, 1), ('south', %d, 1)`, sku, sku))
			}
			var sampled int64
			for _, in := range f.sampled("stock", []string{"sku", "shop"}, 30) {
				if in {
					sampled++
				}
			}
			stock := f.capture(Options{SamplePercentage: 30, Checksum: true}).Table("stock")
			g.Expect(stock.PrimaryKey).To(Equal([]string{"sku", "shop"}))
			g.Expect(stock.Columns).To(Equal([]string{"n", "shop", "sku"}))
			g.Expect(stock.SampledRows).To(Equal(sampled))
		})
	}
}

// TestStateSurvivesJSON: a capture kept as JSON (by an apply that was
// interrupted) still rechecks.
func TestStateSurvivesJSON(t *testing.T) {
	g := NewWithT(t)
	f := seeded(t, engineCases[0])
	opts := Options{SamplePercentage: 40, Checksum: true}
	data, err := json.Marshal(f.capture(opts))
	g.Expect(err).NotTo(HaveOccurred())
	var before State
	g.Expect(json.Unmarshal(data, &before)).To(Succeed())
	g.Expect(f.recheck(&before, opts)).To(Succeed())
	f.exec(`DELETE FROM notes`)
	g.Expect(mismatches(g, f.recheck(&before, opts))).To(ConsistOf(
		Mismatch{Kind: RowCount, Table: "notes", Before: 4, After: 0}))
}
