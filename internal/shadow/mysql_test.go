package shadow

import (
	"context"
	"database/sql"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"
)

// TestMySQLLogsWritesUnlessTheShadowCannotFollowTheLog: the triggers log
// the application's keys during the copy unless the shadow has a unique
// index besides its key, a foreign key, or a key column of another type
// than the live table's (see mysqlDialect.logsWrites).
func TestMySQLLogsWritesUnlessTheShadowCannotFollowTheLog(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   []string
		clauses []string
		logged  bool
	}{
		{name: "plain index", clauses: []string{"MODIFY n bigint NOT NULL"}, logged: true},
		{name: "unique index", setup: []string{"CREATE UNIQUE INDEX t_n_key ON t (n)"}, clauses: []string{"MODIFY n bigint NOT NULL"}},
		{name: "the change's unique index", clauses: []string{"ADD UNIQUE INDEX t_n_key (n)"}},
		{name: "foreign key", setup: []string{"ALTER TABLE t ADD CONSTRAINT t_parent_fkey FOREIGN KEY (parent) REFERENCES parent (id)"},
			clauses: []string{"MODIFY n bigint NOT NULL"}},
		{name: "key type", clauses: []string{"MODIFY id bigint NOT NULL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			ec := engineCases[1]
			db, e := ec.fresh(t), ec.engine(t)
			for _, stmt := range append([]string{
				"CREATE TABLE parent (id int PRIMARY KEY)",
				"INSERT INTO parent VALUES (1)",
				"CREATE TABLE t (id int PRIMARY KEY, parent int NOT NULL, n int NOT NULL, KEY t_n_idx (n))",
				"INSERT INTO t VALUES (1, 1, 1), (2, 1, 2)",
			}, tc.setup...) {
				mustExec(t, db, stmt)
			}
			c, err := FromAlter(e, "", "t", tc.clauses...)
			g.Expect(err).NotTo(HaveOccurred())
			r := startRunner(t, e, db, c, Options{})
			g.Expect(r.preflight(ctx)).To(Succeed())
			g.Expect(r.createShadow(ctx)).To(Succeed())
			g.Expect(r.logged).To(Equal(tc.logged))
			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
		})
	}
}

// TestMySQLSwitchCutShortLosesNoWrite fails the switch after each of its
// statements in turn, as a statement that times out on its lock would
// (DDL commits statement by statement on MySQL), lets the application
// write every kind of change, then switches again and applies the log:
// the shadow must hold the live table's rows. With the log's triggers
// dropped before the sync triggers exist, a write between the attempts
// would reach neither the log nor the shadow.
func TestMySQLSwitchCutShortLosesNoWrite(t *testing.T) {
	ec := engineCases[1]
	e := ec.engine(t)
	d, err := dialectFor(e)
	if err != nil {
		t.Fatal(err)
	}
	count := len(d.(mysqlDialect).switchStatements(namesFor("s", "items", 64), []string{"id"}, []string{"id"}))
	for done := range count + 1 {
		t.Run("after "+strconv.Itoa(done), func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e, c := ec.itemsToBigint(t, 200)
			r := startRunner(t, e, db, c, Options{BatchSize: 50})
			for _, step := range []func(context.Context) error{r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes} {
				g.Expect(step(ctx)).To(Succeed())
			}
			g.Expect(r.logged).To(BeTrue())
			_, err := r.replay(ctx)
			g.Expect(err).NotTo(HaveOccurred())

			// The first attempt stops after done statements.
			stmts := d.(mysqlDialect).switchStatements(r.n, r.pk, r.columns)
			tables := []string{r.qualified(r.n.table), r.qualified(r.n.shadow), r.qualified(logTable(r.n))}
			g.Expect(underLock(ctx, r.conn, tables, stmts[:done])).To(Succeed())

			// Between the attempts: an insert, an update, a delete, a key
			// moved, a row updated twice.
			for _, stmt := range []string{
				"INSERT INTO items (n, note) VALUES (7, 'between')",
				"UPDATE items SET note = 'updated' WHERE id = 10",
				"DELETE FROM items WHERE id = 20",
				"UPDATE items SET id = -30 WHERE id = 30",
				"UPDATE items SET n = 1 WHERE id = 40",
				"UPDATE items SET n = 2 WHERE id = 40",
			} {
				mustExec(t, db, stmt)
			}

			switchToSync, err := r.d.prepareSwitch(ctx, r.conn, r.n, r.pk, r.columns, 0)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(inTx(ctx, r.conn, nil, func(tx *sql.Tx) error { return switchToSync(ctx, tx) })).To(Succeed())
			g.Expect(r.d.drainLog(ctx, r.conn, r.n, r.pk, r.columns)).To(Succeed())
			mustExec(t, db, "UPDATE items SET note = 'after' WHERE id = 50")

			g.Expect(ec.items(t, db, "_items_new")).To(Equal(ec.items(t, db, "items")))
			g.Expect(ec.triggers(t, db)).To(ConsistOf("items._items_del", "items._items_upd", "items._items_ins"))
			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
		})
	}
}
