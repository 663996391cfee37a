package bluegreen_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// BenchmarkClone clones a database of one 50,000-row table and reports
// the copy's rate.
func BenchmarkClone(b *testing.B) {
	const rows = 50000
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			blue := newTestDB(b, e)
			blue.exec(b, "CREATE TABLE events (id bigint NOT NULL PRIMARY KEY, kind varchar(20) NOT NULL, payload text, amount decimal(12,2))")
			var data [][]any
			for i := range rows {
				data = append(data, []any{i, fmt.Sprintf("kind-%d", i%10), fmt.Sprintf("payload %d with some text in it", i), fmt.Sprintf("%d.%02d", i%1000, i%100)})
			}
			blue.insertRows(b, "events", []string{"id", "kind", "payload", "amount"}, data)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				green := bluegreen.GreenName(strings.TrimPrefix(blue.target.URL.Path, "/"), fmt.Sprint(i))
				if _, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := bluegreen.Drop(ctx, blue.target, green); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkCloneVsDump copies a database of one table of BENCH_ROWS rows
// (1,000,000 by default) into a new database on the same server twice:
// with bluegreen.Clone, and with the database's own tools, `pg_dump |
// psql` or `mysqldump --single-transaction | mysql` into a database
// created for it. It reports both times (the new database's creation
// included) and their ratio (goal <= 1.0).
func BenchmarkCloneVsDump(b *testing.B) {
	rows := dbtest.EnvSize(b, "BENCH_ROWS", 1000000, 1)
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			blue := newTestDB(b, e)
			blue.exec(b, "CREATE TABLE events (id bigint NOT NULL PRIMARY KEY, kind varchar(20) NOT NULL, payload text, amount decimal(12,2))")
			blue.generate(b, rows)
			blueName := strings.TrimPrefix(blue.target.URL.Path, "/")
			var ours, dump time.Duration
			for i := 0; b.Loop(); i++ {
				green := bluegreen.GreenName(blueName, fmt.Sprint(i))
				start := time.Now()
				if _, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{}); err != nil {
					b.Fatal(err)
				}
				ours += time.Since(start)
				dbtest.ExpectRows(b, blue.greenOf(b, green).db, "events", rows)
				if err := bluegreen.Drop(ctx, blue.target, green); err != nil {
					b.Fatal(err)
				}

				copied := bluegreen.GreenName(blueName, fmt.Sprintf("dump%d", i))
				start = time.Now()
				blue.exec(b, "CREATE DATABASE "+copied)
				dumpInto(ctx, b, blue.url, blue.greenOf(b, copied).url)
				dump += time.Since(start)
				dbtest.ExpectRows(b, blue.greenOf(b, copied).db, "events", rows)
				if err := bluegreen.Drop(ctx, blue.target, copied); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(ours.Milliseconds())/n, "ours-ms/op")
			b.ReportMetric(float64(dump.Milliseconds())/n, "dump-ms/op")
			b.ReportMetric(float64(ours)/float64(dump), "ratio")
			b.ReportMetric(float64(rows)*n/ours.Seconds(), "rows/s")
		})
	}
}

// generate fills events with n rows made by the server, from a cross join
// of digits both engines can run.
func (d *testDB) generate(b *testing.B, n int) {
	b.Helper()
	d.exec(b, "CREATE TABLE digits (d int NOT NULL)")
	d.exec(b, "INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)")
	num := "d0.d"
	from := "digits d0"
	for i, scale := 1, 10; scale < n; i, scale = i+1, scale*10 {
		num += fmt.Sprintf(" + %d * d%d.d", scale, i)
		from += fmt.Sprintf(" CROSS JOIN digits d%d", i)
	}
	// CONCAT and CAST read the same on both engines.
	d.exec(b, fmt.Sprintf(`INSERT INTO events (id, kind, payload, amount)
SELECT n, CONCAT('kind-', n %% 10), CONCAT('payload ', n, ' with some text in it'), CAST(n %% 100000 AS decimal(12,2)) / 100
FROM (SELECT %s AS n FROM %s) g WHERE n < %d`, num, from, n))
	d.exec(b, "DROP TABLE digits")
	dbtest.ExpectRows(b, d.db, "events", n)
}

// dumpInto copies the database of from into that of to with the engine's
// dump piped into its client.
func dumpInto(ctx context.Context, b *testing.B, from, to string) {
	b.Helper()
	dump := dbtest.DumpCommand(ctx, b, from)
	load := dbtest.ClientCommand(ctx, b, to)
	pipe, err := dump.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	load.Stdin = pipe
	var dumpErr, loadErr strings.Builder
	dump.Stderr, load.Stderr = &dumpErr, &loadErr
	if err := load.Start(); err != nil {
		b.Fatal(err)
	}
	if err := dump.Run(); err != nil {
		b.Fatalf("%s: %v: %s", dump.Path, err, dumpErr.String())
	}
	if err := load.Wait(); err != nil {
		b.Fatalf("%s: %v: %s", load.Path, err, loadErr.String())
	}
}
