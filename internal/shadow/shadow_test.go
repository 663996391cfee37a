package shadow

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func TestRunChangesDefinition(t *testing.T) {
	for _, ec := range withDirect() {
		for _, preserve := range []bool{true, false} {
			name := ec.name + "/drop-backup"
			if preserve {
				name = ec.name + "/keep-backup"
			}
			t.Run(name, func(t *testing.T) {
				g := NewWithT(t)
				ctx := context.Background()
				db, e := ec.fresh(t), ec.engine(t)
				ec.createItems(t, db, "items", 3000)
				before := ec.items(t, db, "items")
				var indexesBefore []string
				if ec.name == "postgres" {
					indexesBefore = indexNames(t, db, "items")
				}

				c, err := FromAlter(e, "", "items", ec.toBigint, ec.addColumn)
				g.Expect(err).NotTo(HaveOccurred())
				var seen []Progress
				res, err := Run(ctx, e, db, c, Options{
					BatchSize:      700,
					PreserveBackup: preserve,
					Progress:       func(p Progress) { seen = append(seen, p) },
					Verify:         ec.checksum,
				})
				g.Expect(err).NotTo(HaveOccurred())

				// The new definition, every row, the same comment.
				g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
				g.Expect(ec.columnType(t, db, "items", "extra")).NotTo(BeEmpty())
				g.Expect(ec.items(t, db, "items")).To(Equal(before))
				g.Expect(queryString(t, db, "SELECT MIN(extra) FROM items")).To(Equal("x"))
				g.Expect(ec.tableComment(t, db, "items")).To(Equal("the items"))
				if ec.name == "postgres" {
					g.Expect(indexNames(t, db, "items")).To(Equal(indexesBefore))
				} else {
					want := "items_n_idx,PRIMARY"
					if ec.direct {
						want = "items_id_n_key," + want
					}
					g.Expect(queryString(t, db, "SELECT GROUP_CONCAT(DISTINCT index_name ORDER BY index_name) FROM information_schema.statistics"+
						" WHERE table_schema = DATABASE() AND table_name = 'items'")).To(Equal(want))
				}

				// The key's numbering goes on.
				id, err := ec.insertReturningID(ctx, db, "items", 1, "after")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(id).To(BeNumerically(">", 3000))

				// Nothing of the run is left but the backup asked for.
				g.Expect(ec.triggers(t, db)).To(BeEmpty())
				g.Expect(ec.tableExists(t, db, "_items_new")).To(BeFalse())
				g.Expect(ec.tableExists(t, db, "_items_old")).To(Equal(preserve))
				if preserve {
					g.Expect(res.Backup).To(Equal("_items_old"))
					g.Expect(res.BackupSize).To(BeNumerically(">", 0))
					g.Expect(ec.columnType(t, db, "_items_old", "n")).To(Equal(ec.integer))
					g.Expect(ec.items(t, db, "_items_old")).To(Equal(before))
				} else {
					g.Expect(res.Backup).To(BeEmpty())
				}

				g.Expect(res.Shadow).To(Equal("_items_new"))
				g.Expect(res.Rows).To(Equal(int64(3000)))
				g.Expect(res.LockTime).To(BeNumerically(">", 0))
				g.Expect(res.CopyTime).To(BeNumerically(">", 0))

				var statuses []SyncStatus
				for _, p := range seen {
					if len(statuses) == 0 || statuses[len(statuses)-1] != p.SyncStatus {
						statuses = append(statuses, p.SyncStatus)
					}
				}
				// The index on n is left out of the copy and built after it;
				// the writes logged meanwhile are replayed.
				want := []SyncStatus{StatusCreating, StatusCopying, StatusIndexing, StatusVerifying, StatusSwapping, StatusDone}
				if ec.logged() {
					want = slices.Insert(want, 3, StatusReplaying)
				}
				g.Expect(statuses).To(Equal(want))
				g.Expect(res.IndexTime).To(BeNumerically(">", 0))
				last := seen[len(seen)-1]
				g.Expect(last.RowsProcessed).To(Equal(int64(3000)))
				g.Expect(last.TotalRows).To(Equal(int64(3000)))
				g.Expect(last.Shadow).To(Equal("_items_new"))
				// 3000 rows in batches of 700: five batches, each reported.
				copying := 0
				for _, p := range seen {
					if p.SyncStatus == StatusCopying && p.RowsProcessed > 0 {
						copying++
					}
				}
				g.Expect(copying).To(Equal(5))
			})
		}
	}
}

func TestRunRefusesWhatItCannotDoSafely(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			cases := []struct {
				name   string
				setup  []string
				table  string
				alter  string
				reason error
				detail string
			}{
				{
					name:   "no primary key",
					setup:  []string{"CREATE TABLE loose (id integer, n integer)"},
					table:  "loose",
					reason: ErrNoPrimaryKey,
				},
				{
					name: "referenced by a foreign key",
					setup: []string{
						"CREATE TABLE parent (id integer PRIMARY KEY)",
						"CREATE TABLE child (id integer PRIMARY KEY, parent_id integer, CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id))",
					},
					table:  "parent",
					reason: ErrReferenced,
					detail: "child_parent",
				},
				{
					name: "referenced by itself",
					setup: []string{
						"CREATE TABLE tree (id integer PRIMARY KEY, up integer, CONSTRAINT tree_up FOREIGN KEY (up) REFERENCES tree (id))",
					},
					table:  "tree",
					reason: ErrReferenced,
					detail: "tree_up",
				},
				{
					name: "shadow name taken",
					setup: []string{
						"CREATE TABLE items (id integer PRIMARY KEY, n integer)",
						"CREATE TABLE _items_new (id integer PRIMARY KEY)",
					},
					table:  "items",
					reason: ErrNameInUse,
					detail: "_items_new",
				},
				{
					name: "backup name taken",
					setup: []string{
						"CREATE TABLE items (id integer PRIMARY KEY, n integer)",
						"CREATE TABLE _items_old (id integer PRIMARY KEY)",
					},
					table:  "items",
					reason: ErrNameInUse,
					detail: "_items_old",
				},
				{
					name:   "missing table",
					table:  "nowhere",
					reason: ErrNoTable,
				},
				{
					name:   "primary key changed",
					setup:  []string{"CREATE TABLE items (id integer PRIMARY KEY, n integer NOT NULL)"},
					table:  "items",
					alter:  map[string]string{"postgres": "DROP CONSTRAINT _items_new_pkey, ADD PRIMARY KEY (id, n)", "mysql": "DROP PRIMARY KEY, ADD PRIMARY KEY (id, n)"}[ec.name],
					reason: ErrPrimaryKeyChanged,
				},
				{
					// 1.5 would become 2: a later delete of 1.5 would not find it.
					name:   "key type rounded",
					setup:  []string{map[string]string{"postgres": "CREATE TABLE items (id numeric PRIMARY KEY, n integer)", "mysql": "CREATE TABLE items (id decimal(10,2) PRIMARY KEY, n integer)"}[ec.name]},
					table:  "items",
					alter:  map[string]string{"postgres": "ALTER COLUMN id TYPE integer", "mysql": "MODIFY id integer NOT NULL"}[ec.name],
					reason: ErrPrimaryKeyChanged,
					detail: "may not keep every value",
				},
			}
			if ec.name == "postgres" {
				cases = append(cases, struct {
					name   string
					setup  []string
					table  string
					alter  string
					reason error
					detail string
				}{
					name: "used by a view",
					setup: []string{
						"CREATE TABLE items (id integer PRIMARY KEY, n integer)",
						"CREATE VIEW big_items AS SELECT id FROM items WHERE n > 10",
					},
					table:  "items",
					reason: ErrUnsupported,
					detail: "view big_items",
				})
			} else {
				cases = append(cases, struct {
					name   string
					setup  []string
					table  string
					alter  string
					reason error
					detail string
				}{
					name: "trigger of the application's",
					setup: []string{
						"CREATE TABLE items (id integer PRIMARY KEY, n integer)",
						"CREATE TRIGGER items_audit BEFORE INSERT ON items FOR EACH ROW SET NEW.n = NEW.n + 1",
					},
					table:  "items",
					reason: ErrUnsupported,
					detail: "trigger items_audit",
				}, struct {
					name   string
					setup  []string
					table  string
					alter  string
					reason error
					detail string
				}{
					name:   "not transactional",
					setup:  []string{"CREATE TABLE items (id integer PRIMARY KEY, n integer) ENGINE=MyISAM"},
					table:  "items",
					reason: ErrUnsupported,
					detail: "MyISAM",
				})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					g := NewWithT(t)
					ctx := context.Background()
					db, e := ec.fresh(t), ec.engine(t)
					for _, s := range tc.setup {
						mustExec(t, db, s)
					}
					before := ec.triggers(t, db)
					alter := []string{ec.addColumn}
					if tc.alter != "" {
						alter = []string{tc.alter}
					}
					c, err := FromAlter(e, "", tc.table, alter...)
					g.Expect(err).NotTo(HaveOccurred())

					_, err = Run(ctx, e, db, c, Options{})
					g.Expect(err).To(MatchError(tc.reason))
					var refusal *RefusalError
					g.Expect(errors.As(err, &refusal)).To(BeTrue())
					g.Expect(strings.Join(refusal.Details, "; ")).To(ContainSubstring(tc.detail))

					// Nothing was left behind, nothing of the user's touched.
					g.Expect(ec.triggers(t, db)).To(Equal(before))
					if tc.reason != ErrNameInUse {
						g.Expect(ec.tableExists(t, db, "_"+tc.table+"_new")).To(BeFalse())
					}
				})
			}
		})
	}
}

func TestRunFailureLeavesTableUntouched(t *testing.T) {
	for _, ec := range engineCases {
		cases := []struct {
			name string
			// change makes the failing change; opts may cancel the run.
			alter  string
			cancel bool
			verify bool
			lanes  int
		}{
			// Rows 1..3000 have n = id*10: a copy fails at id 10.
			{name: "copy fails", alter: "ADD CONSTRAINT n_small CHECK (n < 100)"},
			// ... at id 2000, in the second of two lanes (ids 1501..3000):
			// the first stops, cancelled, or ends; either way the run fails.
			{name: "copy fails in one of two lanes", alter: "ADD CONSTRAINT n_small CHECK (n < 20000)", lanes: 2},
			{name: "context cancelled mid-copy", alter: ec.toBigint, cancel: true},
			{name: "verify fails", alter: ec.toBigint, verify: true},
		}
		for _, tc := range cases {
			t.Run(ec.name+"/"+tc.name, func(t *testing.T) {
				g := NewWithT(t)
				db, e := ec.fresh(t), ec.engine(t)
				ec.createItems(t, db, "items", 3000)
				before := ec.items(t, db, "items")
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				opts := Options{BatchSize: 500, CopyLanes: tc.lanes}
				batches := 0
				if tc.cancel {
					opts.Progress = func(p Progress) {
						if p.SyncStatus == StatusCopying && p.RowsProcessed > 0 {
							if batches++; batches == 2 {
								cancel()
							}
						}
					}
				}
				verifyErr := errors.New("checksums differ")
				if tc.verify {
					opts.Verify = func(context.Context, database.Querier, string, string, []string) error { return verifyErr }
				}
				c, err := FromAlter(e, "", "items", tc.alter)
				g.Expect(err).NotTo(HaveOccurred())

				_, err = Run(ctx, e, db, c, opts)
				g.Expect(err).To(HaveOccurred())
				if tc.cancel {
					g.Expect(err).To(MatchError(context.Canceled))
					g.Expect(batches).To(Equal(2))
				}
				if tc.verify {
					g.Expect(err).To(MatchError(verifyErr))
				}
				if tc.lanes > 1 {
					// The lane's own failure, not the other's cancellation.
					g.Expect(err.Error()).To(ContainSubstring("n_small"))
					g.Expect(err).NotTo(MatchError(context.Canceled))
				}
				untouched := func() {
					g.Expect(ec.triggers(t, db)).To(BeEmpty())
					g.Expect(ec.tableExists(t, db, "_items_new")).To(BeFalse())
					g.Expect(ec.tableExists(t, db, "_items_old")).To(BeFalse())
					g.Expect(ec.columnType(t, db, "items", "n")).To(Equal(ec.integer))
					g.Expect(ec.items(t, db, "items")).To(Equal(before))
					g.Expect(ec.tableComment(t, db, "items")).To(Equal("the items"))
				}
				untouched()
				// Abort after a failed run has nothing left to do.
				g.Expect(Abort(context.Background(), e, db, c)).To(Succeed())
				untouched()
			})
		}
	}
}

func TestSwapBackRestoresTheOldTable(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e := ec.fresh(t), ec.engine(t)
			ec.createItems(t, db, "items", 2000)
			before := ec.items(t, db, "items")
			var indexesBefore []string
			if ec.name == "postgres" {
				indexesBefore = indexNames(t, db, "items")
			}
			oldType := ec.columnType(t, db, "items", "n")
			c, err := FromAlter(e, "", "items", ec.toBigint, ec.addColumn)
			g.Expect(err).NotTo(HaveOccurred())

			// Without a kept backup there is nothing to swap back.
			_, err = Run(ctx, e, db, c, Options{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(SwapBack(ctx, e, db, c)).To(MatchError(ErrNoBackup))

			// With one, SwapBack restores the definition before the run.
			c2, err := FromAlter(e, "", "items", "DROP COLUMN extra")
			g.Expect(err).NotTo(HaveOccurred())
			res, err := Run(ctx, e, db, c2, Options{PreserveBackup: true})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Backup).To(Equal("_items_old"))
			g.Expect(ec.columnType(t, db, "items", "extra")).To(BeEmpty())

			g.Expect(SwapBack(ctx, e, db, c2)).To(Succeed())
			g.Expect(ec.columnType(t, db, "items", "extra")).NotTo(BeEmpty())
			g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
			g.Expect(ec.items(t, db, "items")).To(Equal(before))
			g.Expect(ec.tableComment(t, db, "items")).To(Equal("the items"))
			g.Expect(ec.tableExists(t, db, "_items_old")).To(BeFalse())
			if ec.name == "postgres" {
				g.Expect(indexNames(t, db, "items")).To(Equal(indexesBefore))
			}
			id, err := ec.insertReturningID(ctx, db, "items", 7, "after swap back")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(before).NotTo(HaveKey(id))

			// Twice is once; Abort then clears the table set aside.
			g.Expect(SwapBack(ctx, e, db, c2)).To(Succeed())
			g.Expect(ec.tableExists(t, db, "_items_new")).To(BeTrue())
			g.Expect(Abort(ctx, e, db, c2)).To(Succeed())
			g.Expect(ec.tableExists(t, db, "_items_new")).To(BeFalse())

			// And the table can go through a change again: back to the
			// original definition.
			c3, err := FromAlter(e, "", "items", "DROP COLUMN extra", strings.ReplaceAll(ec.toBigint, "bigint", ec.integer))
			g.Expect(err).NotTo(HaveOccurred())
			_, err = Run(ctx, e, db, c3, Options{PreserveBackup: true})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ec.columnType(t, db, "items", "n")).To(Equal(oldType))
			g.Expect(DropBackup(ctx, e, db, c3)).To(Succeed())
			g.Expect(ec.tableExists(t, db, "_items_old")).To(BeFalse())
			g.Expect(DropBackup(ctx, e, db, c3)).To(Succeed())
		})
	}
}

func TestRunKeepsForeignKeysOfItsOwn(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e := ec.fresh(t), ec.engine(t)
			mustExec(t, db, "CREATE TABLE parent (id integer PRIMARY KEY)")
			mustExec(t, db, "CREATE TABLE child (id integer PRIMARY KEY, parent_id integer NOT NULL, CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)")
			mustExec(t, db, "INSERT INTO parent (id) VALUES (1), (2)")
			mustExec(t, db, "INSERT INTO child (id, parent_id) VALUES (10, 1), (20, 2)")

			c, err := FromAlter(e, "", "child", ec.addColumn)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = Run(ctx, e, db, c, Options{})
			g.Expect(err).NotTo(HaveOccurred())

			g.Expect(ec.columnType(t, db, "child", "extra")).NotTo(BeEmpty())
			_, err = db.Exec("INSERT INTO child (id, parent_id) VALUES (30, 3)")
			g.Expect(err).To(HaveOccurred(), "the foreign key still holds")
			mustExec(t, db, "DELETE FROM parent WHERE id = 1")
			g.Expect(queryString(t, db, "SELECT COUNT(*) FROM child")).To(Equal("1"), "and still cascades")
		})
	}
}

func TestRunHandlesLongTableNames(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e := ec.fresh(t), ec.engine(t)
			limit := e.IdentLimit()
			table := strings.Repeat("t", limit)
			mustExec(t, db, "CREATE TABLE "+table+" (id integer PRIMARY KEY, n integer NOT NULL)")
			mustExec(t, db, "INSERT INTO "+table+" (id, n) VALUES (1, 1), (2, 2)")

			c, err := FromAlter(e, "", table, ec.toBigint)
			g.Expect(err).NotTo(HaveOccurred())
			res, err := Run(ctx, e, db, c, Options{PreserveBackup: true})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(len(res.Shadow)).To(BeNumerically("<=", limit))
			g.Expect(len(res.Backup)).To(BeNumerically("<=", limit))
			g.Expect(res.Backup).NotTo(Equal(res.Shadow))
			g.Expect(ec.columnType(t, db, table, "n")).To(Equal("bigint"))
			g.Expect(ec.tableExists(t, db, res.Backup)).To(BeTrue())
			g.Expect(ec.triggers(t, db)).To(BeEmpty())
		})
	}
}

func TestRunContinuesIdentityColumns(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ec := engineCases[0]
	db, e := ec.fresh(t), ec.engine(t)
	mustExec(t, db, "CREATE TABLE events (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL)")
	mustExec(t, db, "INSERT INTO events (kind) SELECT 'k' || g FROM generate_series(1, 500) g")
	seq := queryString(t, db, "SELECT pg_get_serial_sequence('events', 'id')")

	c, err := FromAlter(e, "", "events", "ALTER COLUMN id TYPE bigint")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = Run(ctx, e, db, c, Options{BatchSize: 100})
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(ec.columnType(t, db, "events", "id")).To(Equal("bigint"))
	g.Expect(queryString(t, db, "SELECT pg_get_serial_sequence('events', 'id')")).To(Equal(seq), "the sequence keeps its name")
	g.Expect(queryString(t, db, "INSERT INTO events (kind) VALUES ('new') RETURNING id")).To(Equal("501"))
	g.Expect(queryString(t, db, "SELECT COUNT(*) FROM events")).To(Equal("501"))
}

func TestRunLeavesThePoolsSessionsAlone(t *testing.T) {
	// What the run sets on its session, and how it shows.
	setting := map[string]struct{ query, runValue string }{
		"postgres": {"SHOW lock_timeout", "5s"},
		"mysql":    {"SELECT @@SESSION.sql_mode", "STRICT_ALL_TABLES"},
	}
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e := ec.fresh(t), ec.engine(t)
			ec.createItems(t, db, "items", 10)
			// One connection: were the run's session handed back to the
			// pool, the next query would get it, settings and all.
			db.SetMaxOpenConns(1)
			s := setting[ec.name]
			g.Expect(queryString(t, db, s.query)).NotTo(ContainSubstring(s.runValue))

			c, err := FromAlter(e, "", "items", ec.addColumn)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = Run(ctx, e, db, c, Options{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(queryString(t, db, s.query)).NotTo(ContainSubstring(s.runValue))
		})
	}
}

// TestRunCopiesInAsManyLanesAsItCan asks for more lanes than the table has
// rows, or than the pool has connections: the copy runs in as many as it
// can have, never waits for a connection beyond the run's own, and a
// failed run cleans up on that one connection.
func TestRunCopiesInAsManyLanesAsItCan(t *testing.T) {
	for _, ec := range engineCases {
		cases := []struct {
			name               string
			rows, lanes, conns int
			alter              string
			wantLanes          int
		}{
			{name: "more lanes than rows", rows: 5, lanes: 8, wantLanes: 5},
			{name: "an empty table", rows: 0, lanes: 2, wantLanes: 1},
			{name: "one connection", rows: 3000, lanes: 3, conns: 1, wantLanes: 1},
			// n = id*10: the copy fails at id 2000.
			{name: "one connection, the copy fails", rows: 3000, lanes: 3, conns: 1, alter: "ADD CONSTRAINT n_small CHECK (n < 20000)"},
		}
		for _, tc := range cases {
			t.Run(ec.name+"/"+tc.name, func(t *testing.T) {
				g := NewWithT(t)
				db, e := ec.fresh(t), ec.engine(t)
				ec.createItems(t, db, "items", tc.rows)
				before := ec.items(t, db, "items")
				if tc.conns > 0 {
					db.SetMaxOpenConns(tc.conns)
				}
				alter := cmp.Or(tc.alter, ec.toBigint)
				c, err := FromAlter(e, "", "items", alter)
				g.Expect(err).NotTo(HaveOccurred())
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()

				res, err := Run(ctx, e, db, c, Options{BatchSize: 100, CopyLanes: tc.lanes})
				if tc.alter != "" {
					g.Expect(err).To(MatchError(ContainSubstring("n_small")))
					g.Expect(err).NotTo(MatchError(ContainSubstring("cleaning up")))
					g.Expect(ec.triggers(t, db)).To(BeEmpty())
					g.Expect(ec.tableExists(t, db, "_items_new")).To(BeFalse())
					g.Expect(ec.items(t, db, "items")).To(Equal(before))
					return
				}
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(res.CopyLanes).To(Equal(tc.wantLanes))
				g.Expect(res.Rows).To(Equal(int64(tc.rows)))
				g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
				g.Expect(ec.items(t, db, "items")).To(Equal(before))
			})
		}
	}
}

func TestKeepsKeyOnlyForConversionsThatKeepEveryValue(t *testing.T) {
	for _, tc := range []struct {
		d        dialect
		from, to string
		want     bool
	}{
		{postgresDialect{}, "integer", "integer", true},
		{postgresDialect{}, "integer", "bigint", true},
		{postgresDialect{}, "smallint", "bigint", true},
		{postgresDialect{}, "bigint", "integer", false},
		{postgresDialect{}, "numeric", "integer", false},
		{postgresDialect{}, "double precision", "numeric", false},
		{postgresDialect{}, "integer", "text", false},
		{postgresDialect{}, "character varying(10)", "character varying(20)", true},
		{postgresDialect{}, "character varying(20)", "character varying(10)", false},
		{postgresDialect{}, "character varying(10)", "character varying", true},
		{postgresDialect{}, "character varying", "character varying(10)", false},
		{postgresDialect{}, "character varying(10)", "text", true},
		{postgresDialect{}, "text", "character varying", true},
		{postgresDialect{}, "text", "character varying(10)", false},
		{postgresDialect{}, "numeric(10,2)", "numeric(12,2)", true},
		{postgresDialect{}, "numeric(10,2)", "numeric(10,0)", false},
		{postgresDialect{}, "numeric(10,2)", "numeric", true},
		{postgresDialect{}, "numeric", "numeric(10,2)", false},
		{postgresDialect{}, "character(10)", "character varying(10)", false},
		{mysqlDialect{}, "int(11)", "bigint(20)", true},
		{mysqlDialect{}, "int", "bigint", true},
		{mysqlDialect{}, "bigint(20)", "int(11)", false},
		{mysqlDialect{}, "int(10) unsigned", "bigint(20)", true},
		{mysqlDialect{}, "int(10) unsigned", "int(11)", false},
		{mysqlDialect{}, "int(11)", "int(10) unsigned", false},
		{mysqlDialect{}, "int(11)", "bigint(20) unsigned", false},
		{mysqlDialect{}, "decimal(10,2)", "int(11)", false},
		{mysqlDialect{}, "decimal(10,2)", "decimal(10,0)", false},
		{mysqlDialect{}, "varchar(10) COLLATE utf8mb4_bin", "varchar(20) COLLATE utf8mb4_bin", true},
		{mysqlDialect{}, "varchar(20) COLLATE utf8mb4_bin", "varchar(10) COLLATE utf8mb4_bin", false},
		{mysqlDialect{}, "varchar(10) COLLATE utf8mb3_general_ci", "varchar(10) COLLATE utf8mb4_general_ci", true},
		{mysqlDialect{}, "char(10) COLLATE latin1_swedish_ci", "char(12) COLLATE utf8mb4_bin", true},
		{mysqlDialect{}, "varchar(10) COLLATE utf8mb4_bin", "varbinary(20)", false},
		{mysqlDialect{}, "binary(10)", "binary(12)", false},
		{mysqlDialect{}, "varbinary(10)", "varbinary(12)", true},
	} {
		if got := tc.d.keepsKey(tc.from, tc.to); got != tc.want {
			t.Errorf("%T.keepsKey(%q, %q) = %v, want %v", tc.d, tc.from, tc.to, got, tc.want)
		}
	}
}
