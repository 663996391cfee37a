package shadow

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// benchRows is the size of the table every way of changing it changes:
// 1,000,000, or BENCH_ROWS (make bench's quick mode).
var benchRows = func() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

// benchTraceEnv names a directory where BenchmarkShadowUnderWriter
// writes each writer's statements, when set: writer-ENGINE-WAY.csv, a
// row per statement (seconds since the writer started, milliseconds it
// took), WAY being shadow or alter, for make bench's plot.
const benchTraceEnv = "BENCH_WRITER_TRACE"

// benchWriteRate is the steady rate of the application's writes during
// BenchmarkShadowUnderWriter: half inserts, half updates of random rows.
const benchWriteRate = 200

// benchEngine is what the benchmarks need of an engine besides engineCase.
type benchEngine struct {
	engineCase
	// seed are the statements creating what load needs, once for a
	// benchmark's database (on PostgreSQL table bench_source, benchRows
	// rows without an index); load are those (re)creating table bench
	// with benchRows rows, its primary key and a secondary index built
	// after the rows, and fresh statistics.
	seed, load []string
	// plainCopy are the statements creating table other as bench is,
	// without its secondary index; copyBatch copies bench's rows with
	// keys after the first argument up to the second into it; addIndex
	// builds the index, as the run does (see copyPlainly).
	plainCopy           []string
	copyBatch, addIndex string
}

var benchEngines = []benchEngine{
	{
		engineCase: engineCases[0],
		seed: []string{
			"CREATE TABLE bench_source (id integer NOT NULL, n integer NOT NULL, payload text NOT NULL)",
			"INSERT INTO bench_source SELECT g, g % 100000, md5(g::text) FROM generate_series(1, " + strconv.Itoa(benchRows) + ") g",
		},
		load: []string{
			"DROP TABLE IF EXISTS bench",
			"CREATE TABLE bench (id serial, n integer NOT NULL, payload text NOT NULL)",
			"INSERT INTO bench SELECT id, n, payload FROM bench_source",
			"ALTER TABLE bench ADD PRIMARY KEY (id)",
			"SELECT setval(pg_get_serial_sequence('bench', 'id'), " + strconv.Itoa(benchRows) + ")",
			"CREATE INDEX bench_n_idx ON bench (n)",
			"VACUUM ANALYZE bench",
		},
		plainCopy: []string{"DROP TABLE IF EXISTS other", "CREATE TABLE other (id integer PRIMARY KEY, n integer NOT NULL, payload text NOT NULL)"},
		copyBatch: "INSERT INTO other SELECT id, n, payload FROM bench WHERE id > $1 AND id <= $2",
		addIndex:  "CREATE INDEX other_n_idx ON other (n)",
	},
	{
		engineCase: engineCases[1],
		// Made anew each time: copied from a table of its own, it took
		// as long (InnoDB's inserts are the cost, not the rows' making).
		load: []string{
			"DROP TABLE IF EXISTS bench",
			"CREATE TABLE bench (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, n int NOT NULL, payload varchar(64) NOT NULL)",
			// seq_1_to_N is MariaDB's Sequence engine.
			"INSERT INTO bench SELECT seq, seq % 100000, md5(seq) FROM seq_1_to_" + strconv.Itoa(benchRows),
			"ALTER TABLE bench ADD KEY bench_n_idx (n)",
			"ANALYZE TABLE bench",
		},
		plainCopy: []string{"DROP TABLE IF EXISTS other", "CREATE TABLE other (id int NOT NULL PRIMARY KEY, n int NOT NULL, payload varchar(64) NOT NULL)"},
		copyBatch: "INSERT INTO other SELECT id, n, payload FROM bench WHERE id > ? AND id <= ?",
		addIndex:  "ALTER TABLE other ADD INDEX other_n_idx (n), ALGORITHM=INPLACE, LOCK=NONE",
	},
}

// BenchmarkShadowVsAlter changes a column of a 1,000,000-row table from
// integer to bigint, which makes both engines rewrite the table, with a
// plain ALTER TABLE and through a shadow table, one after the other on
// the same freshly loaded data in each iteration, so that the ratio
// compares runs on the same machine under the same load. No one else
// writes. It reports both times, their ratio, and the longest time each
// blocked the application: the whole statement for ALTER TABLE, which
// blocks writes throughout; for the shadow table its longest lock. Run it
// (hack/bench-shadow.sh prints a table) with
//
//	go test ./internal/shadow -run '^$' -bench ShadowVsAlter -benchtime=1x -timeout 30m
func BenchmarkShadowVsAlter(b *testing.B) {
	for _, be := range benchEngines {
		b.Run(be.name, func(b *testing.B) {
			e := be.engine(b)
			db := be.seeded(b)
			ctx := context.Background()
			var alter, shadow, lock time.Duration
			var res *Result
			for range b.N {
				b.StopTimer()
				be.loadBench(b, db)
				b.StartTimer()
				start := time.Now()
				if _, err := db.ExecContext(ctx, "ALTER TABLE bench "+be.toBigint); err != nil {
					b.Fatal(err)
				}
				alter += time.Since(start)

				b.StopTimer()
				be.loadBench(b, db)
				b.StartTimer()
				start = time.Now()
				res, _ = be.runShadow(b, e, db)
				shadow += time.Since(start)
				lock = max(lock, res.LongestLock)
			}
			n := float64(b.N)
			b.ReportMetric(ms(alter)/n, "alter-ms")
			b.ReportMetric(ms(shadow)/n, "shadow-ms")
			b.ReportMetric(float64(shadow)/float64(alter), "ratio")
			b.ReportMetric(ms(lock), "max-lock-ms")
			b.Logf("last shadow run: copy %v, indexes %v, swap lock %v in %d attempt(s), longest lock %v (%s)",
				res.CopyTime.Round(time.Millisecond), res.IndexTime.Round(time.Millisecond), res.LockTime.Round(time.Microsecond), res.CutOverAttempts,
				res.LongestLock.Round(time.Microsecond), res.LongestLockStep)
		})
	}
}

// BenchmarkShadowUnderWriter makes the same change of the same table
// while the application writes at a steady benchWriteRate (inserts, and
// updates of random rows), through a shadow table and then with a plain
// ALTER TABLE. Every row the writer inserted and every value it set must
// be in the changed table (the benchmark fails otherwise). It reports the
// rows written and kept, the writer's longest statement under each (its
// worst stall, a statement the server rolled back in a deadlock and its
// retry counted as one) and the 99th percentile of its statements, the
// statements retried, the shadow run's longest
// lock and its cut-over attempts; and, as baselines, the writer's worst
// stall when it writes as long as during the shadow run, on the same
// fresh table, with nothing else running, and while another table of the
// same rows is copied and indexed with no trigger (copyPlainly): what the
// server's own work, not the run's locks, makes the writer wait.
//
//	go test ./internal/shadow -run '^$' -bench ShadowUnderWriter -benchtime=1x -timeout 30m
func BenchmarkShadowUnderWriter(b *testing.B) {
	for _, be := range benchEngines {
		b.Run(be.name, func(b *testing.B) {
			e := be.engine(b)
			db := be.seeded(b)
			var shadow, lock, shadowStall, idleStall, copyStall, alterStall, shadowP99, idleP99 time.Duration
			var written, kept, attempts, retries int
			for range b.N {
				b.StopTimer()
				be.loadBench(b, db)
				w := startBenchWriter(b, be, db)
				b.StartTimer()
				start := time.Now()
				res, marks := be.runShadow(b, e, db)
				shadow += time.Since(start)
				b.StopTimer()
				// A second of writes to the new table, after the swap.
				time.Sleep(time.Second)
				wrote := time.Since(w.started)
				w.stop(b)
				w.trace(b, be.name, "shadow")
				b.Logf("%s; longest lock %v (%s)", w.worstStalls(marks), res.LongestLock.Round(time.Microsecond), res.LongestLockStep)
				inserted, present := w.check(b)
				written, kept = written+inserted, kept+present
				shadowStall = max(shadowStall, w.stall)
				shadowP99 = max(shadowP99, w.percentile(99))
				retries += w.retries
				lock = max(lock, res.LongestLock)
				attempts = max(attempts, res.CutOverAttempts)

				// The same writer for as long on the same fresh table with
				// nothing else running: the stalls the server and the
				// machine cause on their own.
				be.loadBench(b, db)
				w = startBenchWriter(b, be, db)
				time.Sleep(wrote)
				w.stop(b)
				w.check(b)
				idleStall = max(idleStall, w.stall)
				idleP99 = max(idleP99, w.percentile(99))

				// The same writer, on the same table (the last writer's rows
				// in it, so unchecked), while another table of its rows is
				// copied and indexed, with no trigger: the stalls the server
				// causes itself under such a load.
				w = startBenchWriter(b, be, db)
				be.copyPlainly(b, db)
				w.stop(b)
				copyStall = max(copyStall, w.stall)

				be.loadBench(b, db)
				w = startBenchWriter(b, be, db)
				if _, err := db.Exec("ALTER TABLE bench " + be.toBigint); err != nil {
					b.Fatal(err)
				}
				time.Sleep(time.Second)
				w.stop(b)
				w.trace(b, be.name, "alter")
				w.check(b)
				alterStall = max(alterStall, w.stall)
				b.StartTimer()
			}
			b.ReportMetric(ms(shadow)/float64(b.N), "shadow-ms")
			b.ReportMetric(float64(written), "rows-written")
			b.ReportMetric(float64(kept), "rows-kept")
			b.ReportMetric(ms(shadowStall), "writer-max-stall-ms")
			b.ReportMetric(ms(alterStall), "alter-writer-max-stall-ms")
			b.ReportMetric(ms(idleStall), "idle-writer-max-stall-ms")
			b.ReportMetric(ms(shadowP99), "writer-p99-ms")
			b.ReportMetric(ms(idleP99), "idle-writer-p99-ms")
			b.ReportMetric(ms(copyStall), "copy-writer-max-stall-ms")
			b.ReportMetric(ms(lock), "max-lock-ms")
			b.ReportMetric(float64(attempts), "cut-over-attempts")
			b.ReportMetric(float64(retries), "writer-retries")
		})
	}
}

// runShadow changes bench through a shadow table with Run's defaults.
func (be benchEngine) runShadow(b *testing.B, e database.Engine, db *sql.DB) (*Result, []phaseMark) {
	b.Helper()
	c, err := FromAlter(e, "", "bench", be.toBigint)
	if err != nil {
		b.Fatal(err)
	}
	var marks []phaseMark
	res, err := Run(context.Background(), e, db, c, Options{Progress: func(p Progress) {
		if len(marks) == 0 || marks[len(marks)-1].status != p.SyncStatus {
			marks = append(marks, phaseMark{p.SyncStatus, time.Now()})
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	return res, marks
}

// phaseMark is when a run entered a phase.
type phaseMark struct {
	status SyncStatus
	at     time.Time
}

// worstStalls says when the run's phases began and the writer's three
// longest statements began, each with the phase it began in, all in
// seconds since the writer started: where the stalls come from.
func (w *benchWriter) worstStalls(marks []phaseMark) string {
	var b strings.Builder
	b.WriteString("phases:")
	for _, m := range marks {
		fmt.Fprintf(&b, " %s %.3fs", m.status, m.at.Sub(w.started).Seconds())
	}
	b.WriteString("; worst stalls:")
	took := slices.Clone(w.took)
	slices.SortFunc(took, func(x, y [2]time.Duration) int { return cmp.Compare(y[1], x[1]) })
	for _, t := range took[:min(3, len(took))] {
		began := w.started.Add(t[0] - t[1])
		phase := SyncStatus("before the run")
		for _, m := range marks {
			if !m.at.After(began) {
				phase = m.status
			}
		}
		fmt.Fprintf(&b, " %.1fms at %.3fs (%s)", ms(t[1]), (t[0] - t[1]).Seconds(), phase)
	}
	return b.String()
}

// copyPlainly copies bench into a new table other in batches of 20,000
// rows on one session, then builds its secondary index, as a plain copy
// would (no trigger, nothing logged), and drops it.
func (be benchEngine) copyPlainly(b *testing.B, db *sql.DB) {
	b.Helper()
	be.exec(b, db, be.plainCopy...)
	const batch = 20_000
	for after := 0; after < benchRows; after += batch {
		if _, err := db.Exec(be.copyBatch, after, after+batch); err != nil {
			b.Fatal(err)
		}
	}
	be.exec(b, db, be.addIndex, "DROP TABLE other")
}

// exec runs stmts.
func (be benchEngine) exec(b *testing.B, db *sql.DB, stmts ...string) {
	b.Helper()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
}

// seeded is a fresh database with what the engine's seed makes, and the
// benchmark's timer reset. On PostgreSQL the rows are made once, and each
// load copies them, in a third of the time making them took (md5 and
// the key's upkeep): make bench loads the table 15 times an engine.
func (be benchEngine) seeded(b *testing.B) *sql.DB {
	b.Helper()
	db := be.fresh(b)
	be.exec(b, db, be.seed...)
	b.ResetTimer()
	return db
}

// loadBench (re)creates table bench, the same for every way of changing
// it.
func (be benchEngine) loadBench(b *testing.B, db *sql.DB) {
	b.Helper()
	be.exec(b, db, be.load...)
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchWriter is the application while the table changes: one statement
// every 1/benchWriteRate seconds, alternately an insert of a new row and
// an update of a random existing one, on a session of its own.
type benchWriter struct {
	be   benchEngine
	db   *sql.DB
	quit chan struct{}
	done chan struct{}

	inserted int
	// retries counts statements the server rolled back (deadlocks).
	retries int
	// updated is the payload each updated row must have, the last set.
	updated map[int64]string
	// session is the application's database session.
	session *sql.Conn
	// stall is the longest one statement took.
	stall time.Duration
	// started is when the writer started; took is each statement's end
	// since then and its duration.
	started time.Time
	took    [][2]time.Duration
	err     error
}

func startBenchWriter(b *testing.B, be benchEngine, db *sql.DB) *benchWriter {
	b.Helper()
	w := &benchWriter{be: be, db: db, quit: make(chan struct{}), done: make(chan struct{}), updated: map[int64]string{}}
	d, err := dialectFor(be.engine(b))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// The application's session is open before the change starts, as an
	// application's pool holds its sessions: one opened mid-change, while
	// the change holds the pool's others, would count the connection's
	// set-up as a stall of the writer's.
	ctx := context.Background()
	if w.session, err = db.Conn(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := w.session.ExecContext(ctx, "SELECT 1"); err != nil {
		b.Fatal(err)
	}
	w.started = time.Now()
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Second / benchWriteRate)
		defer tick.Stop()
		var start time.Time
		retrying := false
		for i := 0; ; i++ {
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
			if !retrying {
				start = time.Now()
			}
			var err error
			if i%2 == 0 {
				_, err = w.session.ExecContext(ctx, be.rebind("INSERT INTO bench (n, payload) VALUES (-1, ?)"), "writer-"+strconv.Itoa(w.inserted))
				if err == nil {
					w.inserted++
				}
			} else {
				id := rng.Int64N(int64(benchRows)) + 1
				payload := "update-" + strconv.Itoa(i)
				if _, err = w.session.ExecContext(ctx, be.rebind("UPDATE bench SET payload = ? WHERE id = ?"), payload, id); err == nil {
					w.updated[id] = payload
				}
			}
			if err != nil && d.retryable(err) {
				// As an application must under any online schema change
				// on InnoDB, it tries again; the stall counts both tries.
				w.retries++
				retrying = true
				i--
				continue
			}
			retrying = false
			if err != nil {
				w.err = fmt.Errorf("statement %d: %w", i, err)
				return
			}
			w.stall = max(w.stall, time.Since(start))
			w.took = append(w.took, [2]time.Duration{time.Since(w.started), time.Since(start)})
		}
	}()
	return w
}

// percentile is the time p percent of the writer's statements took at
// most.
func (w *benchWriter) percentile(p int) time.Duration {
	if len(w.took) == 0 {
		return 0
	}
	took := make([]time.Duration, len(w.took))
	for i, t := range w.took {
		took[i] = t[1]
	}
	slices.Sort(took)
	return took[min(len(took)-1, len(took)*p/100)]
}

// stop ends the writer; it fails the benchmark if a statement failed.
func (w *benchWriter) stop(b *testing.B) {
	b.Helper()
	close(w.quit)
	<-w.done
	_ = w.session.Close()
	if w.err != nil {
		b.Fatalf("the writer failed after %d inserts: %v", w.inserted, w.err)
	}
}

// trace writes the writer's statements to the BENCH_WRITER_TRACE
// directory, if set, as writer-ENGINE-WAY.csv.
func (w *benchWriter) trace(b *testing.B, engine, way string) {
	b.Helper()
	dir := os.Getenv(benchTraceEnv)
	if dir == "" {
		return
	}
	var out strings.Builder
	out.WriteString("seconds,latency_ms\n")
	for _, t := range w.took {
		fmt.Fprintf(&out, "%.3f,%.3f\n", t[0].Seconds(), ms(t[1]))
	}
	if err := os.WriteFile(filepath.Join(dir, "writer-"+engine+"-"+way+".csv"), []byte(out.String()), 0o600); err != nil {
		b.Fatal(err)
	}
}

// check fails the benchmark unless every row the writer inserted and
// every value it set is in the changed table; it returns the rows
// inserted and those found.
func (w *benchWriter) check(b *testing.B) (inserted, present int) {
	b.Helper()
	if err := w.db.QueryRow("SELECT count(*) FROM bench WHERE n = -1 AND payload LIKE 'writer-%'").Scan(&present); err != nil {
		b.Fatal(err)
	}
	if present != w.inserted {
		b.Fatalf("the writer inserted %d rows during the change; the changed table has %d of them", w.inserted, present)
	}
	for id, want := range w.updated {
		var got string
		if err := w.db.QueryRow(w.be.rebind("SELECT payload FROM bench WHERE id = ?"), id).Scan(&got); err != nil {
			b.Fatalf("row %d, updated during the change: %v", id, err)
		}
		if got != want {
			b.Fatalf("row %d was updated to %q during the change; the changed table has %q", id, want, got)
		}
	}
	return w.inserted, present
}
