package shadow

import (
	"strings"
	"testing"
	"unicode/utf8"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func TestDecorate(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	cases := []struct {
		name, table, suffix string
		limit               int
		want                string
	}{
		{"short", "items", "_new", 63, "_items_new"},
		{"exactly at the limit", strings.Repeat("a", 58), "_new", 63, "_" + strings.Repeat("a", 58) + "_new"},
		{"suffix-free", "fk", "", 64, "_fk"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(decorate(tc.table, tc.suffix, tc.limit)).To(Equal(tc.want))
		})
	}

	t.Run("too long: shortened, hashed, deterministic, distinct", func(t *testing.T) {
		g := NewWithT(t)
		a := decorate(long63, "_new", 63)
		g.Expect(a).To(HaveLen(63))
		g.Expect(a).To(HavePrefix("_aaaa"))
		g.Expect(a).To(HaveSuffix("_new"))
		g.Expect(decorate(long63, "_new", 63)).To(Equal(a))
		g.Expect(decorate(long63[:62]+"b", "_new", 63)).NotTo(Equal(a))
		g.Expect(decorate(long63, "_old", 63)).NotTo(Equal(a))
	})

	t.Run("never splits a character", func(t *testing.T) {
		g := NewWithT(t)
		name := decorate(strings.Repeat("é", 40), "_new", 63)
		g.Expect(len(name)).To(BeNumerically("<=", 63))
		g.Expect(utf8.ValidString(name)).To(BeTrue())
	})
}

func TestUndecorate(t *testing.T) {
	g := NewWithT(t)
	got, ok := undecorate("_items_pkey_old", "_old")
	g.Expect(ok).To(BeTrue())
	g.Expect(got).To(Equal("items_pkey"))
	for _, name := range []string{"items_pkey_old", "_items_pkey_new", "__old", "_old"} {
		_, ok := undecorate(name, "_old")
		g.Expect(ok).To(BeFalse(), name)
	}
}

func TestNamesFor(t *testing.T) {
	g := NewWithT(t)
	pg, err := database.For(database.KindPostgreSQL)
	g.Expect(err).NotTo(HaveOccurred())
	my, err := database.For(database.KindMySQL)
	g.Expect(err).NotTo(HaveOccurred())
	n := namesFor("public", "items", pg.IdentLimit())
	g.Expect(n).To(Equal(names{schema: "public", table: "items", shadow: "_items_new", backup: "_items_old", limit: 63}))
	limit := my.IdentLimit()
	long := namesFor("db", strings.Repeat("x", limit), limit)
	g.Expect(len(long.shadow)).To(BeNumerically("<=", limit))
	g.Expect(len(long.backup)).To(BeNumerically("<=", limit))
	g.Expect(long.shadow).NotTo(Equal(long.backup))
	g.Expect(syncTriggers(long)).To(HaveLen(3))
	for _, trig := range syncTriggers(long) {
		g.Expect(len(trig)).To(BeNumerically("<=", limit))
	}
}

func TestMarkers(t *testing.T) {
	cases := []struct {
		name    string
		comment string
		r       role
		table   string
		ok      bool
		user    string
	}{
		{"shadow without comment", mark(roleShadow, "items", ""), roleShadow, "items", true, ""},
		{"backup keeps a multi-line comment", mark(roleBackup, "items", "the items\nsecond line"), roleBackup, "items", true, "the items\nsecond line"},
		{"a user's comment", "the items", "", "", false, "the items"},
		{"a look-alike of another role", "kube-shift copy of items", "", "", false, "kube-shift copy of items"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r, table, _, ok := unmark(tc.comment)
			g.Expect(ok).To(Equal(tc.ok))
			g.Expect(r).To(Equal(tc.r))
			g.Expect(table).To(Equal(tc.table))
			g.Expect(userComment(tc.comment)).To(Equal(tc.user))
		})
	}
	g := NewWithT(t)
	g.Expect(isMarked(mark(roleShadow, "items", ""), roleShadow, "items")).To(BeTrue())
	g.Expect(isMarked(mark(roleShadow, "items", ""), roleBackup, "items")).To(BeFalse())
	g.Expect(isMarked(mark(roleShadow, "items", ""), roleShadow, "orders")).To(BeFalse())
}

func FuzzMarkRoundTrip(f *testing.F) {
	f.Add("items", "the items")
	f.Add("a of b", "kube-shift shadow of x\ny")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, table, comment string) {
		if strings.Contains(table, "\n") {
			return // the marker is one line: such a name is never marked
		}
		for _, r := range []role{roleShadow, roleBackup} {
			got, of, rest, ok := unmark(mark(r, table, comment))
			if !ok || got != r || of != table || rest != comment {
				t.Fatalf("mark(%q, %q, %q) reads back as (%q, %q, %q, %t)", r, table, comment, got, of, rest, ok)
			}
		}
	})
}
