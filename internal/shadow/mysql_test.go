package shadow

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

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

// TestMySQLSwitchCutShortLosesNoWrite fails the switch twice, after each
// of its statements in turn, as a statement that times out on its lock
// would (DDL commits statement by statement on MySQL), with the
// application writing every kind of change after each attempt; then
// switches and applies the log: the shadow must hold the live table's
// rows. Were an event left without a trigger between two statements (a
// log trigger dropped before its sync trigger is created), a write
// between the attempts would reach neither the log nor the shadow.
func TestMySQLSwitchCutShortLosesNoWrite(t *testing.T) {
	ec := engineCases[1]
	ctx := context.Background()
	db, e, c := ec.itemsToBigint(t, 100)
	r := startRunner(t, e, db, c, Options{BatchSize: 50})
	g := NewWithT(t)
	for _, step := range []func(context.Context) error{r.preflight, r.createShadow, r.installTriggers} {
		g.Expect(step(ctx)).To(Succeed())
	}
	d := r.d.(mysqlDialect)
	all := d.switchStatements(r.n, r.pk, r.columns)
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())

	// attempt runs the switch as far as its first done statements.
	attempt := func(r *runner, done int) error {
		tables := []string{r.qualified(r.n.table), r.qualified(r.n.shadow), r.qualified(logTable(r.n))}
		return underLock(ctx, r.conn, tables, d.switchStatements(r.n, r.pk, r.columns)[:done])
	}
	for first := range len(all) + 1 {
		for second := range len(all) + 1 {
			t.Run(fmt.Sprintf("after %d then %d", first, second), func(t *testing.T) {
				g := NewWithT(t)
				db, e, c := ec.itemsToBigint(t, 100)
				r := startRunner(t, e, db, c, Options{BatchSize: 50})
				for _, step := range []func(context.Context) error{r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes} {
					g.Expect(step(ctx)).To(Succeed())
				}
				g.Expect(r.logged).To(BeTrue())
				_, err := r.replay(ctx)
				g.Expect(err).NotTo(HaveOccurred())

				for i, done := range []int{first, second} {
					g.Expect(attempt(r, done)).To(Succeed())
					// An insert, an update, a delete, a key moved, a row
					// updated twice.
					for _, stmt := range []string{
						fmt.Sprintf("INSERT INTO items (n, note) VALUES (%d, 'between')", i),
						fmt.Sprintf("UPDATE items SET note = 'updated %d' WHERE id = %d", i, 10+i),
						fmt.Sprintf("DELETE FROM items WHERE id = %d", 20+i),
						fmt.Sprintf("UPDATE items SET id = %d WHERE id = %d", -30-i, 30+i),
						fmt.Sprintf("UPDATE items SET n = 1 WHERE id = %d", 40+i),
						fmt.Sprintf("UPDATE items SET n = 2 WHERE id = %d", 40+i),
					} {
						mustExec(t, db, stmt)
					}
				}

				switchAll(t, r)
				g.Expect(r.d.drainLog(ctx, r.conn, r.n, r.pk, r.columns)).To(Succeed())
				mustExec(t, db, "UPDATE items SET note = 'after' WHERE id = 50")

				g.Expect(ec.items(t, db, "_items_new")).To(Equal(ec.items(t, db, "items")))
				g.Expect(ec.triggers(t, db)).To(ConsistOf("items._items_del", "items._items_upd", "items._items_ins"))
				g.Expect(Abort(ctx, e, db, c)).To(Succeed())
			})
		}
	}
}

// switchAll makes r's switch, each step in a transaction of its own.
func switchAll(t *testing.T, r *runner) {
	t.Helper()
	ctx := context.Background()
	steps, err := r.d.prepareSwitch(ctx, r.conn, r.n, r.pk, r.columns, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range steps {
		if err := inTx(ctx, r.conn, nil, func(tx *sql.Tx) error { return step(ctx, tx, func() {}) }); err != nil {
			t.Fatal(err)
		}
	}
}

// loggedItems sets up a logged run on items of rows rows, copied and
// indexed, and logs an update of the rows up to id updated.
func loggedItems(t *testing.T, rows, updated int, opts Options) (*sql.DB, *runner, Change) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	ec := engineCases[1]
	db, e, c := ec.itemsToBigint(t, rows)
	r := startRunner(t, e, db, c, opts)
	for _, step := range []func(context.Context) error{r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes} {
		g.Expect(step(ctx)).To(Succeed())
	}
	g.Expect(r.logged).To(BeTrue())
	mustExec(t, db, fmt.Sprintf("UPDATE items SET note = 'logged' WHERE id <= %d", updated))
	return db, r, c
}

// TestMySQLReplayPassesAnOpenTransaction: a replay applies what is
// committed in the log while an application transaction that wrote the
// table is open, without waiting for it (a read of the log that scanned
// it would wait for that transaction's entry), and leaves that entry for
// later; with more entries than one statement lists.
func TestMySQLReplayPassesAnOpenTransaction(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, r, c := loggedItems(t, 5000, 2500, Options{BatchSize: 5000, LockTimeout: time.Second})
	app, err := db.BeginTx(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = app.Rollback() }()
	_, err = app.ExecContext(ctx, "UPDATE items SET note = 'open' WHERE id = 4999")
	g.Expect(err).NotTo(HaveOccurred())

	applied, err := r.replay(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(applied).To(Equal(2500))
	g.Expect(queryString(t, db, "SELECT COUNT(*) FROM _items_new WHERE note = 'logged'")).To(Equal("2500"))
	g.Expect(app.Commit()).To(Succeed())
	g.Expect(queryString(t, db, "SELECT COUNT(*) FROM _items_shadow_log")).To(Equal("1"))
	g.Expect(Abort(ctx, r.e, db, c)).To(Succeed())
}

// TestMySQLReplayAppliesEveryEntryItSees: one replay applies the whole
// log as it was when it started, however many statements that takes, so
// that the replays before the switch do not stop with most of it left.
func TestMySQLReplayAppliesEveryEntryItSees(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, r, c := loggedItems(t, 12000, 12000, Options{BatchSize: 12000})
	applied, err := r.replay(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(applied).To(Equal(12000))
	g.Expect(queryString(t, db, "SELECT COUNT(*) FROM _items_shadow_log")).To(Equal("0"))
	g.Expect(Abort(ctx, r.e, db, c)).To(Succeed())
}

// TestMySQLDrainLocksOnlyTheLoggedRows: after the switch, a transaction of
// drainLog locks the live rows of the keys it applies, not the table:
// the application updates another row meanwhile.
func TestMySQLDrainLocksOnlyTheLoggedRows(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, r, c := loggedItems(t, 20000, 8000, Options{BatchSize: 20000})
	switchAll(t, r)

	tx, err := r.conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = tx.Rollback() }()
	applied, _, err := r.d.(mysqlDialect).applyLog(ctx, tx, r.n, r.pk, r.columns, "0", "", drainChunk, true)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(applied).To(Equal(drainChunk))
	app, err := db.Conn(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer discard(app)
	_, err = app.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = app.ExecContext(ctx, "UPDATE items SET note = 'far' WHERE id = 15000")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tx.Commit()).To(Succeed())

	g.Expect(r.d.drainLog(ctx, r.conn, r.n, r.pk, r.columns)).To(Succeed())
	ec := engineCases[1]
	g.Expect(ec.items(t, db, "_items_new")).To(Equal(ec.items(t, db, "items")))
	g.Expect(Abort(ctx, r.e, db, c)).To(Succeed())
}

// TestMySQLDrainNeverMakesTheApplicationADeadlockVictim: an application
// transaction holds a logged row when drainLog starts, then writes
// another logged row that drainLog, going in key order, would have locked
// first. drainLog gives its locks back and tries again, rather than wait
// for the application's row while holding the one the application waits
// for: InnoDB would end that deadlock by rolling the application's
// transaction back, the smaller.
func TestMySQLDrainNeverMakesTheApplicationADeadlockVictim(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, r, c := loggedItems(t, 100, 0, Options{BatchSize: 100})
	mustExec(t, db, "UPDATE items SET note = 'logged' WHERE id IN (3, 7)")
	switchAll(t, r)

	app, err := db.BeginTx(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = app.Rollback() }()
	_, err = app.ExecContext(ctx, "UPDATE items SET note = 'app 7' WHERE id = 7")
	g.Expect(err).NotTo(HaveOccurred())
	drained := make(chan error, 1)
	go func() { drained <- r.d.drainLog(ctx, r.conn, r.n, r.pk, r.columns) }()
	time.Sleep(300 * time.Millisecond)
	_, err = app.ExecContext(ctx, "UPDATE items SET note = 'app 3' WHERE id = 3")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(app.Commit()).To(Succeed())
	g.Expect(<-drained).To(Succeed())

	ec := engineCases[1]
	g.Expect(ec.items(t, db, "_items_new")).To(Equal(ec.items(t, db, "items")))
	g.Expect(Abort(ctx, r.e, db, c)).To(Succeed())
}
