package integrity

import (
	"context"
	"strconv"
	"testing"

	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// benchRows is the size of the benchmark's table.
const benchRows = 100_000

// BenchmarkCapture measures one Capture of a 100,000-row PostgreSQL table,
// with the checksum over 10% and over all of the rows.
func BenchmarkCapture(b *testing.B) {
	f := open(b, dbtest.NewPostgresDatabase(b))
	f.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12, 2), placed timestamptz)`,
		`INSERT INTO orders SELECT g, 'customer-' || (g % 997), g * 1.25, timestamptz '2024-01-01' + g * interval '1 minute'
		 FROM generate_series(1, `+strconv.Itoa(benchRows)+`) AS g`,
		`ANALYZE orders`)
	for _, percent := range []int{10, 100} {
		opts := Options{SamplePercentage: percent, Checksum: true}
		b.Run(strconv.Itoa(percent)+"%", func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				s, err := Capture(ctx, f.e, f.db, f.schema, []string{"orders"}, opts)
				if err != nil {
					b.Fatal(err)
				}
				if s.Tables[0].Rows != benchRows {
					b.Fatalf("captured %d rows, want %d", s.Tables[0].Rows, benchRows)
				}
			}
		})
	}
}
