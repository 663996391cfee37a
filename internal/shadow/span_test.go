package shadow

import (
	"math"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"
)

func TestSpanOf(t *testing.T) {
	g := NewWithT(t)
	g.Expect(spanOf("1", "1000", 1000)).To(Equal(&keySpan{1, 1000}))
	g.Expect(spanOf("1", "2000", 1000)).To(Equal(&keySpan{1, 2000}), "half the keys have rows")
	g.Expect(spanOf("1", "2001", 1000)).To(Equal(&keySpan{1, 2001}), "2001 keys: 1000 in whole")
	g.Expect(spanOf("1", "2002", 1000)).To(BeNil(), "sparser than two keys a row")
	g.Expect(spanOf("-5", "5", 11)).To(Equal(&keySpan{-5, 5}))
	min, max := strconv.FormatInt(math.MinInt64, 10), strconv.FormatInt(math.MaxInt64, 10)
	g.Expect(spanOf(min, max, math.MaxInt64)).To(BeNil(), "2^64 keys")
	g.Expect(spanOf(min, min, 1)).To(Equal(&keySpan{math.MinInt64, math.MinInt64}))
	g.Expect(spanOf("1", "18446744073709551615", 10)).To(BeNil(), "an unsigned BIGINT past the signed range")
	g.Expect(spanOf("", "", 0)).To(BeNil(), "no row: MIN and MAX are NULL")
	g.Expect(spanOf("1.5", "3", 2)).To(BeNil())
}

// TestKeySpanTake: batches of size keys follow each other without a gap
// or an overlap, the last cut at max, and none after it, at the ends of
// the 64-bit range too.
func TestKeySpanTake(t *testing.T) {
	for _, s := range []keySpan{{1, 10}, {math.MaxInt64 - 9, math.MaxInt64}, {math.MinInt64, math.MinInt64 + 9}, {5, 5}} {
		t.Run(strconv.FormatInt(s.min, 10), func(t *testing.T) {
			g := NewWithT(t)
			var last []any
			var keys []int64
			for range 20 {
				bound, n := s.take(last, 3)
				if n == 0 {
					break
				}
				g.Expect(n).To(BeNumerically("<=", 3))
				to := bound[0].(int64)
				for i := n - 1; i >= 0; i-- {
					keys = append(keys, to-i)
				}
				last = bound
			}
			want := []int64{}
			for k := s.min; ; k++ {
				want = append(want, k)
				if k == s.max {
					break
				}
			}
			g.Expect(keys).To(Equal(want))
			_, n := s.take(last, 3)
			g.Expect(n).To(BeZero(), "nothing after max")
		})
	}
}

func TestIntegerType(t *testing.T) {
	g := NewWithT(t)
	for _, typ := range []string{"integer", "bigint", "smallint", "int(11)", "bigint(20) unsigned", "int", "mediumint(8) unsigned zerofill"} {
		g.Expect(integerType(typ)).To(BeTrue(), typ)
	}
	for _, typ := range []string{"numeric", "numeric(20,0)", "text", "uuid", "varchar(10) COLLATE utf8mb4_bin", "decimal(20,0)", "character varying"} {
		g.Expect(integerType(typ)).To(BeFalse(), typ)
	}
}
