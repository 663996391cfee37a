package shadow

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// benchRows is the size of the table both ways change.
const benchRows = 1_000_000

// BenchmarkShadowVsAlter changes a column of a 1,000,000-row PostgreSQL
// table from integer to bigint, which makes PostgreSQL rewrite the table:
// through a shadow table, and with a plain ALTER TABLE. It reports the
// total time and the longest time the application's reads and writes of
// the table were blocked: the whole statement for ALTER TABLE (it holds
// ACCESS EXCLUSIVE throughout), the swap for the shadow table. While the
// shadow table copies, a writer inserts rows as fast as it can; every one
// must be in the changed table (the benchmark fails otherwise), and the
// longest any of its inserts waited is reported. Run it with
//
//	go test ./internal/shadow -run '^$' -bench ShadowVsAlter -benchtime=1x
func BenchmarkShadowVsAlter(b *testing.B) {
	e, err := database.For(database.KindPostgreSQL)
	if err != nil {
		b.Fatal(err)
	}
	db := dbtest.OpenPostgres(b, dbtest.NewPostgresDatabase(b))
	ctx := context.Background()

	for _, batch := range []int{DefaultBatchSize, 10_000} {
		b.Run("shadow/batch="+strconv.Itoa(batch), func(b *testing.B) {
			var total, lock, writerStall time.Duration
			for range b.N {
				b.StopTimer()
				loadBenchTable(b, db)
				c, err := FromAlter(e, "", "bench", "ALTER COLUMN n TYPE bigint")
				if err != nil {
					b.Fatal(err)
				}
				w := startBenchWriter(b, db)
				b.StartTimer()
				start := time.Now()
				res, err := Run(ctx, e, db, c, Options{BatchSize: batch})
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				lock = max(lock, res.LockTime)
				b.StopTimer()
				written, stalled := w.stop(b)
				w.check(b, written)
				writerStall = max(writerStall, stalled)
				b.StartTimer()
			}
			report(b, total, lock)
			b.ReportMetric(float64(writerStall.Microseconds())/1000, "writer-max-stall-ms")
		})
	}
	b.Run("alter", func(b *testing.B) {
		var total, lock time.Duration
		for range b.N {
			b.StopTimer()
			loadBenchTable(b, db)
			b.StartTimer()
			start := time.Now()
			if _, err := db.ExecContext(ctx, "ALTER TABLE bench ALTER COLUMN n TYPE bigint"); err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			total += took
			lock = max(lock, took)
		}
		report(b, total, lock)
	})
}

// loadBenchTable (re)creates table bench with benchRows rows, an index
// and fresh statistics, the same for both ways.
func loadBenchTable(b *testing.B, db *sql.DB) {
	b.Helper()
	for _, stmt := range []string{
		"DROP TABLE IF EXISTS bench",
		"CREATE TABLE bench (id serial PRIMARY KEY, n integer NOT NULL, payload text NOT NULL)",
		"INSERT INTO bench (n, payload) SELECT g % 100000, md5(g::text) FROM generate_series(1, " + strconv.Itoa(benchRows) + ") g",
		"CREATE INDEX bench_n_idx ON bench (n)",
		"VACUUM ANALYZE bench",
	} {
		if _, err := db.Exec(stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
}

// report puts the mean total time and the longest lock in the benchmark's
// output.
func report(b *testing.B, total, lock time.Duration) {
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "total-ms/op")
	b.ReportMetric(float64(lock.Microseconds())/1000, "max-lock-ms")
}

// benchWriter inserts rows into bench until stopped, as an application
// would while the table changes.
type benchWriter struct {
	db   *sql.DB
	quit chan struct{}
	done chan struct{}
	n    int
	// stall is the longest one insert took.
	stall time.Duration
	err   error
}

func startBenchWriter(b *testing.B, db *sql.DB) *benchWriter {
	b.Helper()
	w := &benchWriter{db: db, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.quit:
				return
			default:
			}
			start := time.Now()
			if _, err := db.Exec("INSERT INTO bench (n, payload) VALUES (-1, $1)", "writer-"+strconv.Itoa(w.n)); err != nil {
				w.err = err
				return
			}
			w.stall = max(w.stall, time.Since(start))
			w.n++
		}
	}()
	return w
}

// stop ends the writer and says how many rows it wrote and its longest
// insert.
func (w *benchWriter) stop(b *testing.B) (int, time.Duration) {
	b.Helper()
	close(w.quit)
	<-w.done
	if w.err != nil {
		b.Fatalf("the writer failed after %d rows: %v", w.n, w.err)
	}
	return w.n, w.stall
}

// check fails the benchmark unless every row the writer wrote is in the
// changed table.
func (w *benchWriter) check(b *testing.B, written int) {
	b.Helper()
	var n int
	if err := w.db.QueryRow("SELECT count(*) FROM bench WHERE n = -1 AND payload LIKE 'writer-%'").Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != written {
		b.Fatalf("the writer wrote %d rows during the change; the changed table has %d of them", written, n)
	}
	b.Logf("a concurrent writer wrote %d rows during the change: all %d are in the changed table", written, n)
}
