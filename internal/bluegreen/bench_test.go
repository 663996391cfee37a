package bluegreen_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
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
