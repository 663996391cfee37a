package shadow

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestBatchSizerAimsAtItsTarget(t *testing.T) {
	cases := []struct {
		name   string
		sizer  batchSizer
		rows   int64
		took   time.Duration
		expect int
	}{
		{"fixed size stays", batchSizer{rows: 700}, 700, time.Millisecond, 700},
		{"on target stays", batchSizer{rows: 1000, target: 50 * time.Millisecond}, 1000, 50 * time.Millisecond, 1000},
		{"fast grows toward the target", batchSizer{rows: 1000, target: 50 * time.Millisecond}, 1000, 40 * time.Millisecond, 1250},
		{"growth is at most double", batchSizer{rows: 1000, target: 50 * time.Millisecond}, 1000, time.Millisecond, 2000},
		{"slow shrinks at once to the rate", batchSizer{rows: 1000, target: 50 * time.Millisecond}, 1000, 200 * time.Millisecond, 250},
		{"never below the minimum", batchSizer{rows: 150, target: 50 * time.Millisecond}, 150, time.Second, minBatch},
		{"never above the maximum", batchSizer{rows: maxBatch, target: 50 * time.Millisecond}, maxBatch, time.Millisecond, maxBatch},
		{"the table's last batch says nothing", batchSizer{rows: 1000, target: 50 * time.Millisecond}, 10, time.Microsecond, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			s := tc.sizer
			s.observe(tc.rows, tc.took)
			g.Expect(s.size()).To(Equal(tc.expect))
		})
	}
}
