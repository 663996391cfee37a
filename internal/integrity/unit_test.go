package integrity

import (
	"math"
	"testing"

	. "github.com/onsi/gomega"
)

func TestMismatchMessages(t *testing.T) {
	for _, tc := range []struct {
		m    Mismatch
		want string
	}{
		{Mismatch{Kind: TableMissing, Table: "t"}, "table t: missing"},
		{Mismatch{Kind: TableMissing, Table: "t", Copy: "t_new"}, "table t (copy t_new): missing"},
		{Mismatch{Kind: RowCount, Table: "t", Copy: "t", Before: 5, After: 0}, "table t: rows 5 → 0"},
		{Mismatch{Kind: Checksum, Table: "t", Before: 7, After: 7}, "table t: checksum differs over 7 sampled rows"},
		{Mismatch{Kind: Checksum, Table: "t", Before: 7, After: 6}, "table t: checksum differs (sampled rows 7 → 6)"},
		{Mismatch{Kind: ColumnsDiffer, Table: "t", Missing: []string{"a", "b"}}, "table t: columns a, b missing, checksum not compared"},
		{
			Mismatch{Kind: ColumnsDiffer, Table: "t", Missing: []string{"a"}, Extra: []string{"c"}},
			"table t: column a missing, extra column c, checksum not compared",
		},
		{
			Mismatch{Kind: KeyDiffers, Table: "t", Missing: []string{"id"}, Extra: []string{"id", "region"}},
			"table t: primary key (id) → (id, region), checksum not compared",
		},
	} {
		t.Run(tc.want, func(t *testing.T) {
			NewWithT(t).Expect(tc.m.String()).To(Equal(tc.want))
		})
	}
}

func TestMismatchError(t *testing.T) {
	g := NewWithT(t)
	g.Expect(mismatchError(recheckName, nil)).To(Succeed())
	err := mismatchError(recheckName, []Mismatch{{Kind: TableMissing, Table: "t"}})
	g.Expect(err).To(MatchError(ErrMismatch))
	g.Expect(err).To(MatchError("data integrity check failed, 1 mismatch: table t: missing"))
}

func TestTotalCarries(t *testing.T) {
	g := NewWithT(t)
	var sum total
	sum.add(math.MaxUint64)
	sum.add(1)
	g.Expect(sum.String()).To(Equal("18446744073709551616"))
	g.Expect(total{}.String()).To(Equal("0"))
}

func TestHashDefinitions(t *testing.T) {
	g := NewWithT(t)
	// CRC-32 of "abc" is 0x352441c2; md5("abc") starts 900150983cd24fb,
	// which is 648541476951500027.
	g.Expect(bucket("abc")).To(Equal(0x352441c2 % 100))
	g.Expect(rowHash("abc")).To(Equal(uint64(648541476951500027)))
}

func TestStateTable(t *testing.T) {
	g := NewWithT(t)
	var s State
	for _, n := range []string{"b", "c", "a"} {
		s.add(Table{Name: n})
	}
	g.Expect(s.Tables).To(HaveLen(3))
	g.Expect(s.Tables[0].Name).To(Equal("a"))
	g.Expect(s.Table("c")).NotTo(BeNil())
	g.Expect(s.Table("c").Name).To(Equal("c"))
	g.Expect(s.Table("d")).To(BeNil())
}
