package shadow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// The tests of PostgreSQL's log of the keys the application writes
// during the copy (postgresDialect.logsWrites).

// loggedTable creates a PostgreSQL table from ddl and the change of its
// column n to bigint.
func loggedTable(t *testing.T, ddl ...string) (*sql.DB, database.Engine, Change) {
	t.Helper()
	ec := engineCases[0]
	db, e := ec.fresh(t), ec.engine(t)
	for _, stmt := range ddl {
		mustExec(t, db, stmt)
	}
	c, err := FromAlter(e, "", "t", "ALTER COLUMN n TYPE bigint")
	if err != nil {
		t.Fatal(err)
	}
	return db, e, c
}

// startRunner starts a run of c, closed when the test ends, for a test
// to take through its steps (mustSteps).
func startRunner(t *testing.T, e database.Engine, db *sql.DB, c Change, opts Options) *runner {
	t.Helper()
	r, err := newRunner(context.Background(), e, db, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// mustSteps runs a run's steps in order, each of which must succeed.
func mustSteps(t *testing.T, steps ...func(context.Context) error) {
	t.Helper()
	for i, step := range steps {
		if err := step(context.Background()); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
}

// afterSecondBatch is a Progress that runs f once, when the copy has
// moved its second batch: the application's writes while the copy runs.
func afterSecondBatch(f func()) func(Progress) {
	batches := 0
	return func(p Progress) {
		if p.SyncStatus == StatusCopying && p.RowsProcessed > 0 {
			if batches++; batches == 2 {
				f()
			}
		}
	}
}

// tableText is a table's rows as text, in key order.
func tableText(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	return queryString(t, db, "SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM "+table+" x")
}

// A unique value moves from a row the copy has moved to one it has not,
// during the copy, and from one row to another between two replays: the
// shadow never holds a value twice when its unique index is built or
// written (its rows are all of one moment then), and the run ends with
// the application's rows.
func TestRunFollowsUniqueValuesThatMove(t *testing.T) {
	g := NewWithT(t)
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, email text UNIQUE, n int)",
		"INSERT INTO t SELECT g, 'e' || g, g FROM generate_series(1, 2000) g")
	batches, replays := 0, 0
	opts := Options{BatchSize: 100, CopyLanes: 1, Progress: func(p Progress) {
		switch {
		case p.SyncStatus == StatusCopying && p.RowsProcessed > 0:
			if batches++; batches == 2 {
				mustExec(t, db, "UPDATE t SET email = 'gone' WHERE id = 1")
				mustExec(t, db, "UPDATE t SET email = 'e1' WHERE id = 1000")
			}
		case p.SyncStatus == StatusIndexing && replays == 0:
			replays++
			// More than a round of the old replay (a thousand entries),
			// and a value that moves only after them.
			mustExec(t, db, "UPDATE t SET n = n + 1 WHERE id = 3")
			mustExec(t, db, "UPDATE t SET n = n + 1 WHERE id BETWEEN 4 AND 1500")
			mustExec(t, db, "UPDATE t SET email = 'z' WHERE id = 2")
			mustExec(t, db, "UPDATE t SET email = 'e2' WHERE id = 3")
		}
	}}
	res, err := Run(context.Background(), e, db, c, opts)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(BeNumerically(">", 0))
	rows := tableText(t, db, "t")
	g.Expect(rows).To(ContainSubstring("(1000,e1,"))
	g.Expect(rows).To(ContainSubstring("(3,e2,"))
	g.Expect(queryString(t, db, "SELECT count(DISTINCT email) FROM t")).To(Equal("2000"))
}

// The application deletes a child row the copy has moved, then its
// parent: the shadow's copy of the foreign key, which would refuse the
// parent's delete while the shadow still held the child, is added only
// once the shadow follows the application's writes.
func TestRunLetsTheApplicationDeleteAParentDuringTheCopy(t *testing.T) {
	g := NewWithT(t)
	db, e, c := loggedTable(t,
		"CREATE TABLE parent (id int PRIMARY KEY)",
		"INSERT INTO parent SELECT g FROM generate_series(1, 1000) g",
		"CREATE TABLE t (id int PRIMARY KEY, parent int NOT NULL REFERENCES parent, n int)",
		"INSERT INTO t SELECT g, g, g FROM generate_series(1, 1000) g")
	var appErr error
	opts := Options{BatchSize: 100, CopyLanes: 1, Progress: afterSecondBatch(func() {
		_, appErr = db.Exec("DELETE FROM t WHERE id = 1")
		if appErr == nil {
			_, appErr = db.Exec("DELETE FROM parent WHERE id = 1")
		}
	})}
	_, err := Run(context.Background(), e, db, c, opts)
	g.Expect(appErr).NotTo(HaveOccurred())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(queryString(t, db, "SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'f' AND convalidated")).To(Equal("1"))
	g.Expect(queryString(t, db, "SELECT count(*) FROM t")).To(Equal("999"))
}

// The change drops the table's foreign key and adds one of its own: the
// clauses see the kept key, and the added one, like the kept ones, never
// refuses the application's delete of a parent during the copy.
func TestRunTakesForeignKeysTheChangeDropsAndAdds(t *testing.T) {
	g := NewWithT(t)
	db, e, _ := loggedTable(t,
		"CREATE TABLE parent (id int PRIMARY KEY)",
		"INSERT INTO parent SELECT g FROM generate_series(1, 1000) g",
		"CREATE TABLE t (id int PRIMARY KEY, parent int NOT NULL CONSTRAINT t_parent_fkey REFERENCES parent, n int)",
		"INSERT INTO t SELECT g, g, g FROM generate_series(1, 1000) g")
	c, err := FromAlter(e, "", "t", "DROP CONSTRAINT t_parent_fkey",
		"ADD CONSTRAINT t_p FOREIGN KEY (parent) REFERENCES parent ON DELETE CASCADE")
	g.Expect(err).NotTo(HaveOccurred())
	var appErr error
	opts := Options{BatchSize: 100, CopyLanes: 1, Progress: afterSecondBatch(func() {
		_, appErr = db.Exec("UPDATE t SET parent = 2 WHERE id = 1")
		if appErr == nil {
			_, appErr = db.Exec("DELETE FROM parent WHERE id = 1")
		}
	})}
	_, err = Run(context.Background(), e, db, c, opts)
	g.Expect(appErr).NotTo(HaveOccurred())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(queryString(t, db, "SELECT string_agg(conname || ' ' || convalidated, ',') FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'f'")).
		To(Equal("t_p true"))
	g.Expect(queryString(t, db, "SELECT count(*) FROM t")).To(Equal("1000"))
}

// A key of a NOT NULL domain: a TRUNCATE during the copy is logged (its
// entry has no key), and a key column may have the name of one of the
// log's own columns.
func TestRunLogsAnyKey(t *testing.T) {
	g := NewWithT(t)
	db, e, c := loggedTable(t,
		"CREATE DOMAIN positive AS int NOT NULL CHECK (VALUE > 0)",
		"CREATE TABLE t (kube_shift_seq positive PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g")
	opts := Options{BatchSize: 100, CopyLanes: 1, Progress: afterSecondBatch(func() {
		mustExec(t, db, "TRUNCATE t")
		mustExec(t, db, "INSERT INTO t VALUES (7, 7)")
	})}
	_, err := Run(context.Background(), e, db, c, opts)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tableText(t, db, "t")).To(Equal("(7,7)"))
}

// An update of the key to a value equal by its type but written otherwise
// (numeric 1 and 1.00), during the copy and after the triggers write the
// shadow: the changed table has the value as the application wrote it.
func TestRunFollowsKeysWrittenOtherwise(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id numeric PRIMARY KEY, n int)",
		"INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)")
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows)
	mustExec(t, db, "UPDATE t SET id = 1.00 WHERE id = 1")
	mustSteps(t, r.buildIndexes, r.catchUp)
	mustExec(t, db, "UPDATE t SET id = 2.0 WHERE id = 2")
	g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
	g.Expect(tableText(t, db, "t")).To(Equal("(1.00,1) (2.0,2) (3,3)"))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// Once the triggers write the shadow, an update of a key to one equal
// by its type's operator but another value (a float the application's
// session prints short, a case-insensitive collation's other case) moves
// the shadow's row too.
func TestSyncTriggerFollowsKeysEqualButDifferent(t *testing.T) {
	for _, tc := range []struct{ name, ddl, rows, from, to string }{
		{"float", "CREATE TABLE t (id float8 PRIMARY KEY, n int)", "(0.1, 1), (2, 2)", "0.1", "0.10000000000000002"},
		{"collation", "CREATE TABLE t (id text COLLATE kube_shift_ci PRIMARY KEY, n int)", "('A', 1), ('B', 2)", "'A'", "'a'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e, c := loggedTable(t,
				"CREATE COLLATION kube_shift_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
				tc.ddl, "INSERT INTO t VALUES "+tc.rows)
			r := startRunner(t, e, db, c, Options{})
			mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes, r.catchUp)
			conn, err := db.Conn(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer discard(conn)
			_, err = conn.ExecContext(ctx, "SET extra_float_digits = 0")
			g.Expect(err).NotTo(HaveOccurred())
			_, err = conn.ExecContext(ctx, "UPDATE t SET id = "+tc.to+" WHERE id = "+tc.from)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
		})
	}
}

// Application transactions in REPEATABLE READ take their snapshots
// before the switch and write after it: the shadow's rows, written by the
// copy since, are ones they cannot see. A delete, and an update that
// moves the key, would leave the shadow's row behind; they fail as a
// serialization failure instead, as PostgreSQL fails the update (an
// upsert of a row the snapshot cannot see), and each retried transaction
// is followed.
func TestSyncTriggerRefusesWritesFromAnOlderSnapshot(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers)
	writes := []string{"DELETE FROM t WHERE id = 1", "UPDATE t SET id = 100 WHERE id = 2", "UPDATE t SET n = 0 WHERE id = 3"}
	txs := make([]*sql.Tx, len(writes))
	for i := range writes {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
		g.Expect(err).NotTo(HaveOccurred())
		txs[i] = tx
		g.Expect(txs[i].QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(new(int))).To(Succeed())
	}
	mustSteps(t, r.copyRows, r.buildIndexes, r.catchUp)
	for i, write := range writes {
		_, err := txs[i].ExecContext(ctx, write)
		var pgErr *pgconn.PgError
		g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "%s: %v", write, err)
		g.Expect(pgErr.Code).To(Equal(pgSerialization), write)
		g.Expect(txs[i].Rollback()).To(Succeed())
		mustExec(t, db, write)
	}
	g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// Keys of types an extension defines, whose operators live in the
// extension's schema, outside the trigger function's search_path: once the
// triggers write the shadow, a delete and a move of the key find the
// shadow's row through its key's index.
func TestSyncTriggerFindsKeysOfExtensionTypes(t *testing.T) {
	for _, tc := range []struct{ name, ddl, rows, gone, from, to string }{
		{"citext", "CREATE TABLE t (id citext PRIMARY KEY, n int)", "('a', 1), ('B', 2), ('c', 3)", "'A'", "'b'", "'d'"},
		{"ltree", "CREATE TABLE t (id ltree PRIMARY KEY, n int)", "('a.b', 1), ('a.c', 2), ('d', 3)", "'a.b'", "'a.c'", "'e.f'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e, c := loggedTable(t, "CREATE EXTENSION "+tc.name, tc.ddl, "INSERT INTO t VALUES "+tc.rows,
				"INSERT INTO t SELECT ('k' || g)::text::"+tc.name+", g FROM generate_series(1, 1000) g")
			r := startRunner(t, e, db, c, Options{})
			mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes, r.catchUp)
			tx, err := db.BeginTx(ctx, nil)
			g.Expect(err).NotTo(HaveOccurred())
			defer func() { _ = tx.Rollback() }()
			for _, write := range []string{"DELETE FROM t WHERE id = " + tc.gone, "UPDATE t SET id = " + tc.to + " WHERE id = " + tc.from} {
				_, err := tx.ExecContext(ctx, write)
				g.Expect(err).NotTo(HaveOccurred(), write)
			}
			// The shadow's rows were found through its key's index.
			var scans string
			g.Expect(tx.QueryRowContext(ctx, "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = '_t_new'").Scan(&scans)).To(Succeed())
			g.Expect(scans).To(Equal("0"))
			g.Expect(tx.Commit()).To(Succeed())
			g.Expect(queryString(t, db, "SELECT count(*) FROM t")).To(Equal("1002"))
			g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
		})
	}
}

// The application writes during the copy from a session whose
// session_replication_role is replica, as a logical replication
// subscription's apply does: the triggers fire for it too.
func TestRunFollowsWritesOfAReplicaSession(t *testing.T) {
	g := NewWithT(t)
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g")
	var appErr error
	opts := Options{BatchSize: 100, CopyLanes: 1, Progress: afterSecondBatch(func() {
		_, appErr = db.Exec("BEGIN; SET LOCAL session_replication_role = replica; " +
			"DELETE FROM t WHERE id = 1; UPDATE t SET n = 0 WHERE id = 999; INSERT INTO t VALUES (1001, 1001); COMMIT")
	})}
	_, err := Run(context.Background(), e, db, c, opts)
	g.Expect(appErr).NotTo(HaveOccurred())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(queryString(t, db, "SELECT count(*) || ' ' || sum(n) FROM t")).To(Equal(fmt.Sprintf("1000 %d", 1001*1000/2-1-999+1001)))
}

// retried runs write in a transaction at level, and once more if that
// fails, as an application retries a serialization failure; it returns
// the failures.
func retried(ctx context.Context, t *testing.T, db *sql.DB, level sql.IsolationLevel, write string) []string {
	t.Helper()
	var failures []string
	for attempt := 1; attempt <= 2; attempt++ {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: level})
		if err != nil {
			t.Fatal(err)
		}
		if _, err = tx.ExecContext(ctx, write); err != nil {
			_ = tx.Rollback()
		} else {
			err = tx.Commit()
		}
		if err == nil {
			return failures
		}
		failures = append(failures, fmt.Sprintf("attempt %d: %v", attempt, err))
	}
	return failures
}

// The shadow's own ON DELETE CASCADE removes its row before the sync
// trigger's delete comes: kept from the live table (its trigger firing
// first, as an OID of one more digit makes it by name), or added by the
// change. The delete that finds nothing then comes from a snapshot that
// sees the switch, in any isolation level: no failure, nothing stale.
func TestSyncTriggerLetsTheShadowsCascadeGoFirst(t *testing.T) {
	for _, tc := range []struct {
		name, fk, alter, write string
	}{
		{"kept", "REFERENCES parent ON DELETE CASCADE", "", "DELETE FROM parent WHERE id = 1"},
		{"added", "", "ADD CONSTRAINT t_p FOREIGN KEY (parent) REFERENCES parent ON DELETE CASCADE", "DELETE FROM t WHERE id = 1"},
	} {
		for _, level := range []sql.IsolationLevel{sql.LevelReadCommitted, sql.LevelReadUncommitted, sql.LevelRepeatableRead, sql.LevelSerializable} {
			t.Run(tc.name+"/"+level.String(), func(t *testing.T) {
				g := NewWithT(t)
				ctx := context.Background()
				db, e, c := loggedTable(t,
					"CREATE TABLE parent (id int PRIMARY KEY)",
					"INSERT INTO parent SELECT g FROM generate_series(1, 10) g",
					"CREATE TABLE t (id int PRIMARY KEY, parent int NOT NULL "+tc.fk+", n int)",
					"INSERT INTO t SELECT g, g, g FROM generate_series(1, 10) g")
				if tc.alter != "" {
					var err error
					c, err = FromAlter(e, "", "t", tc.alter)
					g.Expect(err).NotTo(HaveOccurred())
				}
				r := startRunner(t, e, db, c, Options{})
				mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes, r.catchUp)
				if tc.fk != "" {
					live := queryString(t, db, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'parent'::regclass AND tgconstrrelid = 't'::regclass "+
						"AND tgfoid = 'pg_catalog.\"RI_FKey_cascade_del\"'::regproc")
					mustExec(t, db, `ALTER TRIGGER "`+live+`" ON parent RENAME TO "RI_ConstraintTrigger_a_99999999"`)
				} else {
					mustExec(t, db, "DELETE FROM parent WHERE id = 1")
				}
				g.Expect(retried(ctx, t, db, level, tc.write)).To(BeEmpty())
				g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
				g.Expect(Abort(ctx, e, db, c)).To(Succeed())
			})
		}
	}
}

// A key of a domain over citext, and an operator = of the domain's that
// a role allowed to create in citext's schema added there: the sync
// trigger (SECURITY DEFINER) matches keys by citext's own operator, with
// both sides cast to citext, never by the exact match the domain's would
// be; the added operator never runs with the run's rights.
func TestSyncTriggerRunsNobodysOperatorForADomainKey(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE EXTENSION citext",
		"CREATE DOMAIN email AS citext",
		"CREATE TABLE t (id email PRIMARY KEY, n int)",
		"INSERT INTO t SELECT 'k' || g, g FROM generate_series(1, 100) g",
		"CREATE TABLE stolen (who text)",
		"GRANT INSERT ON stolen TO PUBLIC")
	role := fmt.Sprintf("kube_shift_other_%d", time.Now().UnixNano())
	mustExec(t, db, "CREATE ROLE "+role)
	defer func() { _, _ = db.Exec("DROP OWNED BY " + role); _, _ = db.Exec("DROP ROLE " + role) }()
	mustExec(t, db, "GRANT USAGE, CREATE ON SCHEMA public TO "+role)
	mustExec(t, db, "GRANT SELECT, DELETE ON t TO "+role)
	conn, err := db.Conn(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer discard(conn)
	asRole := func(stmt string) {
		for _, s := range []string{"SET ROLE " + role, stmt, "RESET ROLE"} {
			_, err := conn.ExecContext(ctx, s)
			g.Expect(err).NotTo(HaveOccurred(), s)
		}
	}
	asRole(`CREATE FUNCTION public.mine(public.email, public.email) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.stolen VALUES (current_user);
	RETURN false;
END$$`)
	asRole("CREATE OPERATOR public.= (LEFTARG = public.email, RIGHTARG = public.email, FUNCTION = public.mine)")
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes, r.catchUp)
	mustExec(t, db, "TRUNCATE stolen")
	asRole("DELETE FROM t WHERE id::text = 'k1'")
	g.Expect(queryString(t, db, "SELECT count(*) FROM stolen")).To(Equal("0"))
	g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// The trigger function runs with the rights of the run's user: nobody
// may attach it to a table of their own (EXECUTE is not granted), and
// attached anyway (by a superuser) it refuses to run.
func TestTriggerFunctionServesTheLiveTableOnly(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
	role := fmt.Sprintf("kube_shift_other_%d", time.Now().UnixNano())
	mustExec(t, db, "CREATE ROLE "+role)
	defer func() { _, _ = db.Exec("DROP OWNED BY " + role); _, _ = db.Exec("DROP ROLE " + role) }()
	mustExec(t, db, "GRANT USAGE, CREATE ON SCHEMA public TO "+role)
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers)
	for _, phase := range []string{"logging", "writing the shadow"} {
		if phase == "writing the shadow" {
			mustSteps(t, r.copyRows, r.buildIndexes, r.catchUp)
		}
		conn, err := db.Conn(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		mustConn := func(stmt string) error { _, err := conn.ExecContext(ctx, stmt); return err }
		g.Expect(mustConn("SET ROLE " + role)).To(Succeed())
		g.Expect(mustConn("CREATE TABLE other_" + role + " (id int, n int)")).To(Succeed())
		err = mustConn("CREATE TRIGGER x AFTER INSERT ON other_" + role + " FOR EACH ROW EXECUTE FUNCTION public._t_shadow_sync()")
		g.Expect(err).To(MatchError(ContainSubstring("permission denied")), phase)
		g.Expect(mustConn("RESET ROLE")).To(Succeed())
		g.Expect(mustConn("CREATE TRIGGER x AFTER INSERT ON other_" + role + " FOR EACH ROW EXECUTE FUNCTION public._t_shadow_sync()")).To(Succeed())
		err = mustConn("INSERT INTO other_" + role + " VALUES (1, 666)")
		g.Expect(err).To(MatchError(ContainSubstring("for one table only")), phase)
		g.Expect(mustConn("DROP TABLE other_" + role)).To(Succeed())
		discard(conn)
	}
	g.Expect(queryString(t, db, "SELECT count(*) FROM _t_new WHERE n = 666")).To(Equal("0"))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// A deferrable primary key is refused: the trigger's upsert cannot use it.
func TestRunRefusesADeferrableKey(t *testing.T) {
	g := NewWithT(t)
	db, e, c := loggedTable(t, "CREATE TABLE t (id int PRIMARY KEY DEFERRABLE, n int)")
	_, err := Run(context.Background(), e, db, c, Options{})
	var refusal *RefusalError
	g.Expect(errors.As(err, &refusal)).To(BeTrue(), "%v", err)
	g.Expect(err).To(MatchError(ContainSubstring("deferrable")))
}

// The replays before the switch end when one applies little, or when
// the application writes as fast as they apply (three in a row with no
// new smallest), which would otherwise never end.
func TestReplaysEndWhenTheyStopShrinking(t *testing.T) {
	for _, tc := range []struct {
		applied []int
		rounds  int
	}{
		{[]int{50}, 1},
		{[]int{5000, 400, 300, 99}, 4},
		{[]int{500, 600, 700, 800, 900}, 4},
		{[]int{1000, 900, 950, 800, 850, 870, 880, 10}, 7},
	} {
		var p replayRounds
		rounds := 0
		for _, applied := range tc.applied {
			rounds++
			if p.done(applied) {
				break
			}
		}
		if rounds != tc.rounds {
			t.Errorf("replays applying %v: switched after %d, want %d", tc.applied, rounds, tc.rounds)
		}
	}
}

// Abort drops the triggers while a long query of the application's holds
// the table. Dropping a trigger asks for a lock that the application's
// reads queue behind; each of Abort's attempts gives up soon, as the
// swap's do, so those reads run between them instead of waiting for the
// long query (they would wait for Abort's DefaultLockTimeout, 5 s, and
// give up after their own 2 s).
func TestAbortLetsTheApplicationInWhileTheTableIsBusy(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
	r, err := newRunner(ctx, e, db, c, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers)
	r.close()
	long, err := db.BeginTx(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = long.Rollback() }()
	g.Expect(long.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(new(int))).To(Succeed())

	aborted := make(chan error, 1)
	go func() { aborted <- Abort(ctx, e, db, c) }()
	// Abort asks for the lock.
	g.Eventually(func() string {
		return queryString(t, db, "SELECT count(*) FROM pg_locks WHERE relation = 't'::regclass AND NOT granted")
	}).WithTimeout(30 * time.Second).WithPolling(5 * time.Millisecond).Should(Equal("1"))
	app, err := db.Conn(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer discard(app)
	_, err = app.ExecContext(ctx, "SET lock_timeout = '2s'")
	g.Expect(err).NotTo(HaveOccurred())
	for range 3 {
		g.Expect(app.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(new(int))).To(Succeed())
	}
	g.Expect(long.Rollback()).To(Succeed())
	g.Expect(<-aborted).To(Succeed())
	g.Expect(queryString(t, db, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass AND NOT tgisinternal")).To(Equal("0"))
}

// inPlaceTablespace creates a tablespace of the test's own (in place,
// PostgreSQL's developer option: no directory to set up) and drops it
// once the test's databases are gone: call it before creating them.
func inPlaceTablespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("kube_shift_ts_%d", time.Now().UnixNano())
	admin := dbtest.OpenPostgres(t, dbtest.PostgresURL(t))
	conn, err := admin.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer discard(conn)
	for _, stmt := range []string{"SET allow_in_place_tablespaces = on", "CREATE TABLESPACE " + name + " LOCATION ''"} {
		if _, err := conn.ExecContext(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP TABLESPACE IF EXISTS " + name) })
	return name
}

// tablespaceOf is the tablespace of relation rel, "-" for the default.
func tablespaceOf(t *testing.T, db *sql.DB, rel string) string {
	t.Helper()
	return queryString(t, db, "SELECT COALESCE(s.spcname, '-') FROM pg_class c LEFT JOIN pg_tablespace s ON s.oid = c.reltablespace WHERE c.oid = $1::regclass", rel)
}

// A table and its indexes in a tablespace of their own stay there: the
// shadow is moved to the table's (CREATE TABLE ... LIKE leaves it in the
// default one), and each index is built again in its own, which
// pg_get_indexdef does not name.
func TestRunKeepsTablespaces(t *testing.T) {
	g := NewWithT(t)
	ts := inPlaceTablespace(t)
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY USING INDEX TABLESPACE "+ts+", n int, email text) TABLESPACE "+ts,
		"CREATE INDEX t_n ON t (n) TABLESPACE "+ts+" WHERE n > 0",
		"CREATE UNIQUE INDEX t_email ON t (email)",
		"INSERT INTO t SELECT g, g, 'e' || g FROM generate_series(1, 100) g")
	_, err := Run(context.Background(), e, db, c, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	for rel, want := range map[string]string{"t": ts, "t_pkey": ts, "t_n": ts, "t_email": "-"} {
		g.Expect(tablespaceOf(t, db, rel)).To(Equal(want), rel)
	}
}

// A change that moves the table to another tablespace does so: the live
// table's is the shadow's only until the change's clauses.
func TestRunMovesTheTableWhereTheChangeSays(t *testing.T) {
	g := NewWithT(t)
	from, to := inPlaceTablespace(t), inPlaceTablespace(t)
	db, e, _ := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int) TABLESPACE "+from,
		"INSERT INTO t SELECT g, g FROM generate_series(1, 100) g")
	c, err := FromAlter(e, "", "t", "SET TABLESPACE "+to)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = Run(context.Background(), e, db, c, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tablespaceOf(t, db, "t")).To(Equal(to))
}

// The table's owner runs the change, and a superuser put the table in a
// tablespace the owner may not create in: the run is refused before it
// begins, rather than move the table out of it (or fail half-way).
func TestRunRefusesATablespaceItMayNotCreateIn(t *testing.T) {
	g := NewWithT(t)
	ts := inPlaceTablespace(t)
	dbURL := dbtest.NewPostgresDatabase(t)
	admin := dbtest.OpenPostgres(t, dbURL)
	role := fmt.Sprintf("kube_shift_owner_%d", time.Now().UnixNano())
	mustExec(t, admin, "CREATE ROLE "+role+" LOGIN PASSWORD 'owner'")
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP OWNED BY " + role)
		_, _ = dbtest.OpenPostgres(t, dbtest.PostgresURL(t)).Exec("DROP ROLE IF EXISTS " + role)
	})
	mustExec(t, admin, "GRANT ALL ON SCHEMA public TO "+role)
	mustExec(t, admin, "CREATE TABLE t (id int PRIMARY KEY, n int)")
	mustExec(t, admin, "ALTER TABLE t OWNER TO "+role)
	mustExec(t, admin, "ALTER TABLE t SET TABLESPACE "+ts)
	u, err := url.Parse(dbURL)
	g.Expect(err).NotTo(HaveOccurred())
	u.User = url.UserPassword(role, "owner")
	owner := dbtest.OpenPostgres(t, u.String())
	e := engineCases[0].engine(t)
	c, err := FromAlter(e, "", "t", "ALTER COLUMN n TYPE bigint")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = Run(context.Background(), e, owner, c, Options{})
	var refusal *RefusalError
	g.Expect(errors.As(err, &refusal)).To(BeTrue(), "%v", err)
	g.Expect(err).To(MatchError(ContainSubstring("tablespace " + ts)))
	g.Expect(queryString(t, admin, "SELECT count(*) FROM pg_class WHERE relname = '_t_new'")).To(Equal("0"))
}

// waitForBlockedLock waits until some session waits for a lock on rel.
func waitForBlockedLock(t *testing.T, db *sql.DB, rel string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if queryString(t, db, "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass", rel) != "0" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nobody waited for a lock on %s", rel)
}

// The change drops the live table's only foreign key: createShadow adds
// it to the shadow (KeepForeignKeys) and drops it again, locking the
// referenced table until its commit, while an application transaction
// writing that table makes it wait: the wait counts toward LongestLock,
// though the shadow ends without a foreign key.
func TestCreateShadowTimesTheLockOfAForeignKeyTheChangeDrops(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, _ := loggedTable(t,
		"CREATE TABLE parent (id int PRIMARY KEY)",
		"INSERT INTO parent SELECT g FROM generate_series(1, 10) g",
		"CREATE TABLE t (id int PRIMARY KEY, parent int NOT NULL CONSTRAINT t_parent_fkey REFERENCES parent, n int)",
		"INSERT INTO t SELECT g, g, g FROM generate_series(1, 10) g")
	c, err := FromAlter(e, "", "t", "DROP CONSTRAINT t_parent_fkey")
	g.Expect(err).NotTo(HaveOccurred())
	r, err := newRunner(ctx, e, db, c, Options{CutOverLockTimeout: 10 * time.Second})
	g.Expect(err).NotTo(HaveOccurred())
	defer r.close()
	g.Expect(r.preflight(ctx)).To(Succeed())
	holder, err := db.BeginTx(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = holder.ExecContext(ctx, "INSERT INTO parent VALUES (1000)")
	g.Expect(err).NotTo(HaveOccurred())
	created := make(chan error, 1)
	go func() { created <- r.createShadow(ctx) }()
	waitForBlockedLock(t, db, "parent")
	time.Sleep(500 * time.Millisecond)
	g.Expect(holder.Commit()).To(Succeed())
	g.Expect(<-created).To(Succeed())
	g.Expect(r.res.LongestLock).To(BeNumerically(">=", 500*time.Millisecond))
	g.Expect(r.res.LongestLockStep).To(Equal("the shadow's foreign keys"))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// An application transaction in REPEATABLE READ whose first statement, a
// delete, takes its snapshot while the switch holds its lock (the
// snapshot is taken before the statement's lock wait): the switch is in
// progress in that snapshot, and the row the switch's replay wrote is
// one it cannot see. The delete must not leave the shadow's row behind.
func TestSyncTriggerFollowsADeleteWhoseSnapshotTheSwitchHeld(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes)
	_, err := r.replay(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	mustExec(t, db, "INSERT INTO t VALUES (11, 11)")
	// Holds the switch in its replay, after it wrote the shadow's row 11.
	holder, err := db.BeginTx(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = holder.ExecContext(ctx, "SELECT * FROM _t_shadow_log FOR UPDATE")
	g.Expect(err).NotTo(HaveOccurred())
	sw, err := r.d.prepareSwitch(ctx, r.conn, r.n, r.pk, r.columns, 10*time.Second)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.d.setLockWait(ctx, r.conn, 10*time.Second)).To(Succeed())
	switched := make(chan error, 1)
	go func() {
		switched <- inTx(ctx, r.conn, &sql.TxOptions{Isolation: sql.LevelRepeatableRead}, func(tx *sql.Tx) error { return sw[0](ctx, tx, func() {}) })
	}()
	for i := 0; queryString(t, db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM%_t_shadow_log%'") == "0"; i++ {
		if i > 500 {
			t.Fatal("the switch never waited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	app, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	g.Expect(err).NotTo(HaveOccurred())
	deleted := make(chan error, 1)
	go func() {
		_, err := app.ExecContext(ctx, "DELETE FROM t WHERE id IN (5, 11)")
		if err == nil {
			err = app.Commit()
		} else {
			_ = app.Rollback()
		}
		deleted <- err
	}()
	waitForBlockedLock(t, db, "t")
	g.Expect(holder.Commit()).To(Succeed())
	g.Expect(<-switched).To(Succeed())
	// Refused (40001) or done, never leaving a row behind; retried.
	if err := <-deleted; err != nil {
		var pgErr *pgconn.PgError
		g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "%v", err)
		g.Expect(pgErr.Code).To(Equal(pgSerialization))
		mustExec(t, db, "DELETE FROM t WHERE id IN (5, 11)")
	}
	g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// The application wrote more since the last replay than the switch can
// apply within its budget: the switch gives up, releasing its lock and
// changing nothing (the trigger still logs), for cutOver to try again
// after more replays, instead of holding the application's writes for
// as long as the rest takes.
func TestSwitchGivesUpOverItsBudget(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes)
	mustExec(t, db, "INSERT INTO t SELECT g, g FROM generate_series(11, 200000) g")
	switchCancelledMidStatement(t, r, 20*time.Millisecond)
	g.Expect(queryString(t, db, "SELECT count(*) FROM _t_shadow_log")).To(Equal("199990"))
	// Then, with the log replayed outside the lock, the switch is made.
	g.Expect(r.catchUp(ctx)).To(Succeed())
	mustExec(t, db, "DELETE FROM t WHERE id = 5")
	g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// The budget bounds the switch's statements together, not each: with
// two of a replay's statements taking 0.3 s each, a 0.5 s budget gives
// the second what the first left, and the switch gives up in it rather
// than hold the application's writes 0.6 s.
func TestSwitchBudgetBoundsTheWholeReplay(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes)
	mustExec(t, db, "UPDATE t SET n = -n WHERE id = 3")
	mustExec(t, db, "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$")
	for _, op := range []string{"DELETE", "INSERT"} {
		mustExec(t, db, "CREATE TRIGGER slow_"+op+" BEFORE "+op+" ON _t_new FOR EACH STATEMENT EXECUTE FUNCTION slow()")
	}
	// Cancelled in the insert, which had what the delete left.
	switchCancelledMidStatement(t, r, 500*time.Millisecond)
	g.Expect(queryString(t, db, "SELECT count(*) FROM _t_shadow_log")).To(Equal("1"))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// switchCancelledMidStatement makes the switch with budget, in the
// REPEATABLE READ transaction cutOver gives it, and expects it to give
// up over the budget with a statement cancelled mid-way (SQLSTATE
// 57014), not after it.
func switchCancelledMidStatement(t *testing.T, r *runner, budget time.Duration) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	sw, err := r.d.prepareSwitch(ctx, r.conn, r.n, r.pk, r.columns, budget)
	g.Expect(err).NotTo(HaveOccurred())
	err = inTx(ctx, r.conn, &sql.TxOptions{Isolation: sql.LevelRepeatableRead}, func(tx *sql.Tx) error { return sw[0](ctx, tx, func() {}) })
	g.Expect(err).To(MatchError(errOverLockBudget))
	var pgErr *pgconn.PgError
	g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "%v", err)
	g.Expect(pgErr.Code).To(Equal(pgQueryCanceled))
}

// The log held an entry for each of a million rows during the copy
// (written here as the trigger writes them), which the first replay
// applied; nothing is written since. The log's pages and its statistics
// stay (its own settings leave vacuum's truncation to the run): unless
// they go before the switch, every replay under its lock reads them all
// and joins them with the whole shadow, over its budget, and the switch
// is never made.
func TestSwitchAfterALogThatHeldMuch(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// Without autovacuum on t: an ANALYZE of the million rows it would
	// start meanwhile holds a lock the switch's conflicts with, longer
	// than its five attempts of 10 ms wait.
	db, e, c := loggedTable(t,
		"CREATE TABLE t (id int PRIMARY KEY, n int) WITH (autovacuum_enabled = false)",
		"INSERT INTO t SELECT g, g FROM generate_series(1, 1000000) g")
	r := startRunner(t, e, db, c, Options{CutOverLockTimeout: 10 * time.Millisecond, CutOverAttempts: 5})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows)
	mustExec(t, db, "INSERT INTO _t_shadow_log (id) SELECT g FROM generate_series(1, 1000000) g")
	mustSteps(t, r.buildIndexes, r.catchUp)
	mustExec(t, db, "DELETE FROM t WHERE id = 5")
	g.Expect(tableText(t, db, "_t_new")).To(Equal(tableText(t, db, "t")))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}
