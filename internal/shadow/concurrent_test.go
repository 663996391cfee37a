package shadow

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// writer is the application during a run: it inserts, updates, deletes and
// re-keys rows of the items table, one autocommit statement at a time, and
// keeps the table it expects from the statements that took effect.
type writer struct {
	ec  engineCase
	db  *sql.DB
	d   dialect
	rng *rand.Rand

	mu   sync.Mutex
	want map[int64]item
	ids  []int64 // the keys of want, to pick from
	// nextKey is where the next re-keyed row goes: below zero, where
	// neither a sequence nor AUTO_INCREMENT (which MariaDB moves up to a
	// key an UPDATE sets) hands out keys.
	nextKey int64
	// freed are keys the writer deleted, under the highest: every other
	// re-keyed row goes to one of them, anywhere in the table, often a
	// part of it the copy has not reached (in another lane).
	freed []int64

	ops     atomic.Int64 // statements that took effect
	retries atomic.Int64 // statements the server rolled back (deadlock, lock timeout)
	// phase is where the run stood at the writer's last step, for the
	// writer's error.
	phase atomic.Value
	// dead is closed when the writer stops, err says why.
	dead chan struct{}
	err  error
}

func newWriter(ec engineCase, db *sql.DB, d dialect, start map[int64]item) *writer {
	w := &writer{ec: ec, db: db, d: d, rng: rand.New(rand.NewPCG(1, 2)), want: map[int64]item{}, nextKey: -1, dead: make(chan struct{})}
	for id, it := range start {
		w.set(id, it)
	}
	return w
}

func (w *writer) set(id int64, it item) {
	if _, ok := w.want[id]; !ok {
		w.ids = append(w.ids, id)
	}
	w.want[id] = it
}

func (w *writer) remove(id int64) {
	delete(w.want, id)
	for i, k := range w.ids {
		if k == id {
			w.ids[i] = w.ids[len(w.ids)-1]
			w.ids = w.ids[:len(w.ids)-1]
			return
		}
	}
}

// step runs one random write. A statement the server rolled back (a
// deadlock with the copy, which an application must expect under any
// online schema change) changed nothing and is not counted.
func (w *writer) step(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.ids[w.rng.IntN(len(w.ids))]
	n := w.rng.Int64N(1_000_000)
	var err error
	switch w.rng.IntN(4) {
	case 0:
		var newID int64
		note := fmt.Sprintf("ins-%d", n)
		if newID, err = w.ec.insertReturningID(ctx, w.db, "items", n, note); err == nil {
			w.set(newID, item{n: n, note: note})
		}
	case 1:
		err = w.exec(ctx, "UPDATE items SET n = ?, note = ? WHERE id = ?", func() { w.set(id, item{n: n, note: "upd"}) }, n, "upd", id)
	case 2:
		err = w.exec(ctx, "DELETE FROM items WHERE id = ?", func() {
			w.remove(id)
			if id > 0 {
				w.freed = append(w.freed, id)
			}
		}, id)
	case 3:
		key, reuse := w.nextKey, len(w.freed) > 0 && w.rng.IntN(2) == 0
		if reuse {
			key = w.freed[len(w.freed)-1]
		}
		err = w.exec(ctx, "UPDATE items SET id = ? WHERE id = ?", func() {
			if reuse {
				w.freed = w.freed[:len(w.freed)-1]
			} else {
				w.nextKey--
			}
			it := w.want[id]
			w.remove(id)
			w.set(key, it)
		}, key, id)
	}
	switch {
	case err == nil:
		w.ops.Add(1)
		return nil
	case w.d.retryable(err):
		w.retries.Add(1)
		return nil
	default:
		return err
	}
}

// exec runs a statement that must change exactly one row and records its
// effect.
func (w *writer) exec(ctx context.Context, query string, effect func(), args ...any) error {
	res, err := w.db.ExecContext(ctx, w.ec.rebind(query), args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%s changed %d rows (%v)", query, n, err)
	}
	effect()
	return nil
}

// expected is the table the writer's statements should have left.
func (w *writer) expected() map[int64]item {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int64]item, len(w.want))
	for k, v := range w.want {
		out[k] = v
	}
	return out
}

// run writes until stop is closed or a statement fails.
func (w *writer) run(ctx context.Context, stop <-chan struct{}) {
	defer close(w.dead)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if w.err = w.step(ctx); w.err != nil {
			w.err = fmt.Errorf("during %v: %w", w.phase.Load(), w.err)
			return
		}
	}
}

// waitFor blocks until the writer has made ops statements take effect.
func (w *writer) waitFor(ctx context.Context, ops int64) error {
	for w.ops.Load() < ops {
		select {
		case <-w.dead:
			return fmt.Errorf("the writer stopped at %d statements: %v", w.ops.Load(), w.err)
		case <-ctx.Done():
			return fmt.Errorf("the writer is stuck at %d statements: %w", w.ops.Load(), ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

func TestRunLosesNoConcurrentWrite(t *testing.T) {
	for _, ec := range withDirect() {
		for _, lanes := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/lanes=%d", ec.name, lanes), func(t *testing.T) {
				testRunLosesNoConcurrentWrite(t, ec, lanes)
			})
		}
	}
}

// testRunLosesNoConcurrentWrite changes a table, copied in lanes, while
// a writer inserts, updates, deletes and moves keys; every write must be
// in the changed table.
func testRunLosesNoConcurrentWrite(t *testing.T, ec engineCase, lanes int) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, e := ec.fresh(t), ec.engine(t)
	ec.createItems(t, db, "items", 5000)
	d, err := dialectFor(e)
	g.Expect(err).NotTo(HaveOccurred())
	w := newWriter(ec, db, d, ec.items(t, db, "items"))

	// The writer runs freely, and the copy also waits after each
	// batch until it has made a few more writes, so that writes
	// land before, between and after the batches whatever the
	// machine's speed.
	stop := make(chan struct{})
	go w.run(ctx, stop)
	const perBatch = 5
	batches, duringCopy := 0, int64(0)
	var progressErr error
	opts := Options{
		BatchSize: 100,
		CopyLanes: lanes,
		Progress: func(p Progress) {
			w.phase.Store(fmt.Sprint(p.SyncStatus, p.RowsProcessed))
			if p.SyncStatus != StatusCopying || p.RowsProcessed == 0 || progressErr != nil {
				return
			}
			batches++
			start := w.ops.Load()
			progressErr = w.waitFor(ctx, start+perBatch)
			duringCopy += w.ops.Load() - start
		},
		Verify: ec.checksum,
	}
	c, err := FromAlter(e, "", "items", ec.toBigint, ec.addColumn)
	g.Expect(err).NotTo(HaveOccurred())

	res, err := Run(ctx, e, db, c, opts)
	g.Expect(progressErr).NotTo(HaveOccurred())
	g.Expect(err).NotTo(HaveOccurred())

	// Some writes after the swap, on the new table.
	g.Expect(w.waitFor(ctx, w.ops.Load()+50)).To(Succeed())
	close(stop)
	<-w.dead
	g.Expect(w.err).NotTo(HaveOccurred())

	g.Expect(batches).To(BeNumerically(">=", 50), "the copy ran in many batches")
	g.Expect(duringCopy).To(BeNumerically(">=", int64(batches*perBatch)))
	g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
	got, want := ec.items(t, db, "items"), w.expected()
	g.Expect(got).To(HaveLen(len(want)))
	g.Expect(got).To(Equal(want))
	g.Expect(ec.triggers(t, db)).To(BeEmpty())
	t.Logf("%d batches, %d writes during the copy, %d in all, %d rolled back by the server; lock held %v",
		batches, duringCopy, w.ops.Load(), w.retries.Load(), res.LockTime)
}

// crashAfter runs a change's steps up to and including the last one
// given, then drops the session as a crashed operator would: nothing is
// cleaned up.
func crashAfter(t *testing.T, e database.Engine, db *sql.DB, c Change, opts Options, steps func(r *runner) []func(context.Context) error) {
	t.Helper()
	ctx := context.Background()
	r, err := newRunner(ctx, e, db, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if err := r.preflight(ctx); err != nil {
		t.Fatal(err)
	}
	for _, step := range steps(r) {
		if err := step(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAbortCleansUpACrashedRun(t *testing.T) {
	for _, ec := range withDirect() {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e, c := ec.itemsToBigint(t, 1000)
			before := ec.items(t, db, "items")

			// Crashed mid-copy: shadow, triggers and half the rows.
			var stop context.CancelFunc
			crashAfter(t, e, db, c, Options{BatchSize: 100}, func(r *runner) []func(context.Context) error {
				return []func(context.Context) error{r.createShadow, r.installTriggers, func(ctx context.Context) error {
					ctx, stop = context.WithCancel(ctx)
					r.opts.Progress = func(p Progress) {
						if p.RowsProcessed >= 500 {
							stop()
						}
					}
					_ = r.copyRows(ctx)
					return nil
				}}
			})
			g.Expect(ec.triggers(t, db)).NotTo(BeEmpty())
			g.Expect(ec.tableExists(t, db, "_items_new")).To(BeTrue())
			logged := ec.logged()
			g.Expect(ec.tableExists(t, db, "_items_shadow_log")).To(Equal(logged))
			// MySQL's replay lists the entries it applies in a table of its own.
			keys := logged && ec.typ == database.KindMySQL
			g.Expect(ec.tableExists(t, db, "_items_shadow_keys")).To(Equal(keys))
			// The triggers still mirror writes, as they did before the crash.
			mustExec(t, db, ec.rebind("UPDATE items SET n = ? WHERE id = ?"), 1, 1)
			before[1] = item{n: 1, note: before[1].note}

			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
			g.Expect(ec.triggers(t, db)).To(BeEmpty())
			g.Expect(ec.tableExists(t, db, "_items_new")).To(BeFalse())
			g.Expect(ec.tableExists(t, db, "_items_shadow_log")).To(BeFalse())
			g.Expect(ec.tableExists(t, db, "_items_shadow_keys")).To(BeFalse())
			g.Expect(ec.columnType(t, db, "items", "n")).To(Equal(ec.integer))
			g.Expect(ec.items(t, db, "items")).To(Equal(before))
			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
		})
	}
}

func TestRunStartsOverAfterACrash(t *testing.T) {
	for _, ec := range withDirect() {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e, c := ec.itemsToBigint(t, 1000)
			crashAfter(t, e, db, c, Options{}, func(r *runner) []func(context.Context) error {
				return []func(context.Context) error{r.createShadow, r.installTriggers}
			})
			// Written while nobody copies: the leftover triggers put it in
			// the leftover shadow, which the next run must not trust.
			mustExec(t, db, ec.rebind("DELETE FROM items WHERE id = ?"), 5)
			before := ec.items(t, db, "items")

			_, err := Run(ctx, e, db, c, Options{BatchSize: 300})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
			g.Expect(ec.items(t, db, "items")).To(Equal(before))
			g.Expect(ec.triggers(t, db)).To(BeEmpty())
		})
	}
}

func TestAbortAfterACrashInTheSwap(t *testing.T) {
	for _, ec := range withDirect() {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e, c := ec.itemsToBigint(t, 200)
			before := ec.items(t, db, "items")
			// Swapped, but crashed before finishing: in MySQL the sync
			// triggers went along with the old table.
			crashAfter(t, e, db, c, Options{}, func(r *runner) []func(context.Context) error {
				return []func(context.Context) error{r.createShadow, r.installTriggers, r.copyRows, r.verify, r.swap}
			})

			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
			g.Expect(ec.triggers(t, db)).To(BeEmpty())
			g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
			g.Expect(ec.items(t, db, "items")).To(Equal(before))
			g.Expect(ec.tableComment(t, db, "items")).To(Equal("the items"))
			_, err := ec.insertReturningID(ctx, db, "items", 1, "after")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ec.tableExists(t, db, "_items_old")).To(BeTrue(), "the old table is never dropped by Abort")
		})
	}
}

// TestCopyDoesNotUndoAConcurrentDelete deletes a row in a transaction the
// application keeps open while a copy batch covering the row starts: the
// row, in the version the batch's snapshot still sees, must not come
// back once the delete commits. On MySQL the batch waits for the delete
// (its trigger would find nothing to delete in the shadow yet); on
// PostgreSQL the delete's log entry removes the row the batch copied.
func TestCopyDoesNotUndoAConcurrentDelete(t *testing.T) {
	for _, ec := range withDirect() {
		for _, lanes := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/lanes=%d", ec.name, lanes), func(t *testing.T) {
				testCopyDoesNotUndoAConcurrentDelete(t, ec, lanes)
			})
		}
	}
}

// testCopyDoesNotUndoAConcurrentDelete holds a delete of a row near the
// table's end open while the copy starts, in batches of ten rows, and the
// row must not come back. On MariaDB the batch with that row may not run
// until the delete commits (its locking read waits for the row). On
// PostgreSQL the copy waits for nothing of the application's: it copies
// the row, and the delete's log entry removes it when the log is
// replayed.
func testCopyDoesNotUndoAConcurrentDelete(t *testing.T, ec engineCase, lanes int) {
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := ec.itemsToBigint(t, 100)
	r, err := newRunner(ctx, e, db, c, Options{BatchSize: 10, CopyLanes: lanes})
	g.Expect(err).NotTo(HaveOccurred())
	defer r.close()
	g.Expect(r.preflight(ctx)).To(Succeed())
	g.Expect(r.createShadow(ctx)).To(Succeed())
	g.Expect(r.installTriggers(ctx)).To(Succeed())

	app, err := db.BeginTx(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = app.Rollback() }()
	_, err = app.ExecContext(ctx, ec.rebind("DELETE FROM items WHERE id = ?"), 95)
	g.Expect(err).NotTo(HaveOccurred())

	copied := make(chan error, 1)
	go func() { copied <- r.copyRows(ctx) }()
	if r.logged {
		g.Expect(<-copied).To(Succeed())
		g.Expect(queryString(t, db, "SELECT COUNT(*) FROM _items_new WHERE id = 95")).To(Equal("1"))
		g.Expect(app.Commit()).To(Succeed())
	} else {
		select {
		case err := <-copied:
			t.Fatalf("the batch ran while a delete of one of its rows was open (err %v)", err)
		case <-time.After(time.Second):
		}
		g.Expect(app.Commit()).To(Succeed())
		g.Expect(<-copied).To(Succeed())
	}
	g.Expect(r.buildIndexes(ctx)).To(Succeed())
	g.Expect(r.catchUp(ctx)).To(Succeed())

	g.Expect(queryString(t, db, "SELECT COUNT(*) FROM _items_new WHERE id = 95")).To(Equal("0"))
	g.Expect(r.verify(ctx)).To(Succeed())
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// TestRunFollowsATruncateDuringTheCopy empties the table a third of the
// way into the copy and writes three rows: the changed table holds those
// three and nothing the copy had moved before. On PostgreSQL the TRUNCATE
// is an entry of the log, which empties the shadow when replayed.
// (MySQL's TRUNCATE fires no trigger: the run's verification fails it.)
func TestRunFollowsATruncateDuringTheCopy(t *testing.T) {
	ec := engineCases[0]
	g := NewWithT(t)
	ctx := context.Background()
	db, e, c := ec.itemsToBigint(t, 3000)
	truncated := false
	opts := Options{BatchSize: 100, Progress: func(p Progress) {
		if p.SyncStatus != StatusCopying || p.RowsProcessed < 1000 || truncated {
			return
		}
		truncated = true
		mustExec(t, db, "TRUNCATE items")
		for i := range 3 {
			mustExec(t, db, "INSERT INTO items (n, note) VALUES ($1, 'after')", i)
		}
	}}
	_, err := Run(ctx, e, db, c, opts)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(truncated).To(BeTrue())
	g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
	after := ec.items(t, db, "items")
	g.Expect(after).To(HaveLen(3))
	for _, it := range after {
		g.Expect(it.note).To(Equal("after"))
	}
}

// TestSwapWaitsForALongQueryNotTheApplication holds the table in a long
// transaction of the application's from the moment the swap begins:
// each attempt at the swap's lock gives up soon, and the application's
// other writes go through between the attempts instead of queueing
// behind a swap that waits for the long transaction. An unbounded wait
// would hold the insert until the long transaction ended, which the
// test only does once the insert is done.
func TestSwapWaitsForALongQueryNotTheApplication(t *testing.T) {
	for _, ec := range withDirect() {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			db, e, c := ec.itemsToBigint(t, 200)

			var long *sql.Tx
			var longErr error
			defer func() {
				if long != nil {
					_ = long.Rollback()
				}
			}()
			retrying := make(chan struct{})
			opts := Options{
				BatchSize:          100,
				CutOverLockTimeout: 20 * time.Millisecond,
				CutOverAttempts:    1000,
				Progress: func(p Progress) {
					if p.SyncStatus != StatusSwapping {
						return
					}
					if long == nil {
						// The long query: it reads the table, and its
						// transaction keeps the table's lock until it ends.
						var n int
						if long, longErr = db.BeginTx(ctx, nil); longErr == nil {
							longErr = long.QueryRow("SELECT COUNT(*) FROM items").Scan(&n)
						}
					}
					if p.CutOverAttempts == 2 {
						close(retrying)
					}
				},
			}
			type outcome struct {
				res *Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := Run(ctx, e, db, c, opts)
				done <- outcome{res, err}
			}()

			select {
			case <-retrying:
			case o := <-done:
				t.Fatalf("the swap did not wait for the long transaction: %+v (%v)", o, longErr)
			}
			g.Expect(longErr).NotTo(HaveOccurred())
			// The application writes while the swap is being retried.
			id, err := ec.insertReturningID(ctx, db, "items", 7, "between attempts")
			g.Expect(err).NotTo(HaveOccurred(), "the application's insert waited for the swap")
			g.Expect(long.Commit()).To(Succeed())

			o := <-done
			g.Expect(o.err).NotTo(HaveOccurred())
			g.Expect(o.res.CutOverAttempts).To(BeNumerically(">=", 2))
			g.Expect(o.res.LongestLock).To(BeNumerically(">", 0))
			g.Expect(ec.columnType(t, db, "items", "n")).To(Equal("bigint"))
			g.Expect(ec.items(t, db, "items")).To(HaveKeyWithValue(id, item{n: 7, note: "between attempts"}))
		})
	}
}

// TestThrottlePausesTheCopy makes the lag exceed MaxLag for the copy's
// first few checks: the copy waits, shows why, and goes on once the lag
// falls. With the engine's own lag measure and a MaxLag it does not
// reach, the copy never waits.
func TestThrottlePausesTheCopy(t *testing.T) {
	for _, ec := range withDirect() {
		t.Run(ec.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			db, e, c := ec.itemsToBigint(t, 500)

			// Two lanes ask before each of their batches; Lag is asked
			// on Run's goroutine, one lane at a time.
			checks := 0
			var throttled []Progress
			res, err := Run(ctx, e, db, c, Options{
				BatchSize: 100,
				CopyLanes: 2,
				MaxLag:    time.Second,
				Lag: func(context.Context) (time.Duration, error) {
					if checks++; checks <= 3 {
						return 5 * time.Second, nil
					}
					return 0, nil
				},
				Progress: func(p Progress) {
					if p.SyncStatus == StatusThrottled {
						throttled = append(throttled, p)
					}
				},
			})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(throttled).To(HaveLen(3))
			g.Expect(throttled[0].ThrottleReason).To(Equal("lag 5s is over maxLag 1s"))
			g.Expect(throttled[2].Throttled).To(BeNumerically(">", 0))
			g.Expect(res.Throttled).To(BeNumerically(">=", throttled[2].Throttled))
			g.Expect(res.Rows).To(Equal(int64(500)))
			g.Expect(checks).To(BeNumerically(">", 5), "the lag is checked before every batch")

			// The engine's own measure, replication lag and a probe, on the
			// pool while the lanes copy on their sessions (the first on the
			// run's own).
			ec.createItems(t, db, "other", 3000)
			c, err = FromAlter(e, "", "other", ec.toBigint)
			g.Expect(err).NotTo(HaveOccurred())
			res, err = Run(ctx, e, db, c, Options{BatchSize: 100, CopyLanes: 2, MaxLag: time.Hour})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Throttled).To(BeZero())
			g.Expect(res.CopyLanes).To(Equal(2))
			g.Expect(res.Rows).To(Equal(int64(3000)))
		})
	}
}

// MySQL/MariaDB: adding a foreign key to the shadow (a copy of the live
// table's, or the change's own) asks for a metadata lock on the table it
// references, which an application transaction holds. The statement,
// committed on its own there, is attempted as the swap is: each attempt
// gives up at once, so the application's other writes to that table run
// meanwhile instead of queueing behind its wait (they would wait for the
// session's LockTimeout, 5 s, and give up after their own 2 s), and the
// key is added once the transaction ends.
func TestCreateShadowLetsTheApplicationWriteAReferencedTable(t *testing.T) {
	for _, tc := range []struct {
		name, foreignKey string
		clauses          []string
	}{
		{"copied", ", CONSTRAINT t_parent_fkey FOREIGN KEY (parent) REFERENCES parent (id)", []string{"MODIFY n bigint NOT NULL"}},
		{"the change's", "", []string{"MODIFY n bigint NOT NULL", "ADD CONSTRAINT t_parent_fkey FOREIGN KEY (parent) REFERENCES parent (id)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			ec := engineCases[1]
			db, e := ec.fresh(t), ec.engine(t)
			for _, stmt := range []string{
				"CREATE TABLE parent (id int PRIMARY KEY)",
				"INSERT INTO parent VALUES (1), (2)",
				"CREATE TABLE t (id int PRIMARY KEY, parent int NOT NULL, n int NOT NULL" + tc.foreignKey + ")",
				"INSERT INTO t VALUES (1, 1, 1), (2, 2, 2)",
			} {
				mustExec(t, db, stmt)
			}
			c, err := FromAlter(e, "", "t", tc.clauses...)
			g.Expect(err).NotTo(HaveOccurred())
			r := startRunner(t, e, db, c, Options{})
			g.Expect(r.preflight(ctx)).To(Succeed())
			holder, err := db.BeginTx(ctx, nil)
			g.Expect(err).NotTo(HaveOccurred())
			defer func() { _ = holder.Rollback() }()
			_, err = holder.ExecContext(ctx, "INSERT INTO parent VALUES (1000)")
			g.Expect(err).NotTo(HaveOccurred())
			created := make(chan error, 1)
			go func() { created <- r.createShadow(ctx) }()
			// The run has reached the foreign key (creating the table takes less).
			time.Sleep(300 * time.Millisecond)
			app, err := db.Conn(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer discard(app)
			_, err = app.ExecContext(ctx, "SET SESSION lock_wait_timeout = 2")
			g.Expect(err).NotTo(HaveOccurred())
			for id := 1001; id <= 1003; id++ {
				_, err := app.ExecContext(ctx, "INSERT INTO parent VALUES (?)", id)
				g.Expect(err).NotTo(HaveOccurred())
			}
			g.Expect(holder.Commit()).To(Succeed())
			g.Expect(<-created).To(Succeed())
			g.Expect(queryString(t, db, "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS "+
				"WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = '_t_new'")).To(Equal("1"))
			g.Expect(Abort(ctx, e, db, c)).To(Succeed())
		})
	}
}

// A run with LockTimeout under a second on MySQL/MariaDB: prepareSession
// gives the session lock_wait_timeout 1 (at least a second), and every
// cut-over gives that back, not the cut-over's own wait rounded down to
// 0 (NOWAIT), under which the index build, not retried, would fail at
// once while an application transaction that wrote the table (and,
// through its trigger, the shadow) is still open.
func TestCutOverGivesTheSessionItsLockWaitBack(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ec := engineCases[1]
	db, e, c := ec.itemsToBigint(t, 100)
	r := startRunner(t, e, db, c, Options{LockTimeout: 800 * time.Millisecond, CopyLanes: 1})
	var before int
	g.Expect(r.conn.QueryRowContext(ctx, "SELECT @@SESSION.lock_wait_timeout").Scan(&before)).To(Succeed())
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers, r.copyRows)
	var after int
	g.Expect(r.conn.QueryRowContext(ctx, "SELECT @@SESSION.lock_wait_timeout").Scan(&after)).To(Succeed())

	// The application: a transaction that wrote a row, committed 300 ms later.
	app, err := db.Conn(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer app.Close()
	tx, err := app.BeginTx(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = tx.ExecContext(ctx, "UPDATE items SET note = 'x' WHERE id = 1")
	g.Expect(err).NotTo(HaveOccurred())
	go func() { time.Sleep(300 * time.Millisecond); _ = tx.Commit() }()
	g.Expect(r.buildIndexes(ctx)).To(Succeed())
	g.Expect(after).To(Equal(before))
	g.Expect(Abort(ctx, e, db, c)).To(Succeed())
}

// A crashed run's triggers, and application transactions open on the
// table at every moment (three writers, overlapping transactions of 60
// ms): Abort's short attempts (NOWAIT on MariaDB) never find the table
// free, and its last attempt waits, as the application's statements do,
// rather than leave the triggers in place.
func TestAbortGetsThroughSteadyTraffic(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ec := engineCases[1]
	db, e, c := ec.itemsToBigint(t, 100)
	r := startRunner(t, e, db, c, Options{})
	mustSteps(t, r.preflight, r.createShadow, r.installTriggers)
	r.close() // the crash
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(w) * 20 * time.Millisecond)
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := db.Begin()
				if err != nil {
					return
				}
				_, _ = tx.Exec("UPDATE items SET note = 'w' WHERE id = ?", w+1)
				time.Sleep(60 * time.Millisecond)
				_ = tx.Commit()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err := Abort(actx, e, db, c)
	cancel()
	close(stop)
	wg.Wait()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ec.triggers(t, db)).To(BeEmpty())
}
