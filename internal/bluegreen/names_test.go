package bluegreen

import (
	"context"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	. "github.com/onsi/gomega"
)

func TestGreenName(t *testing.T) {
	long := strings.Repeat("inventory", 8) // 72 bytes
	tests := []struct {
		name, blue, suffix, want string
	}{
		{"short", "shop", "a1b2", "shop_green_a1b2"},
		{"suffix cleaned", "shop", "My-UID.5", "shop_green_my_uid_5"},
		{"no suffix", "shop", "", "shop_green"},
		// Cut to 63 bytes, with the first 8 hex digits of the SHA-256 of
		// what was cut.
		{"long blue", long, "a1b2", long[:43] + "_d14705e2_green_a1b2"},
		{"long suffix", "shop", "0123456789abcdef0123", "shop_green_0123456_1bd8fd47"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got := GreenName(tt.blue, tt.suffix)
			g.Expect(got).To(Equal(tt.want))
			g.Expect(len(got)).To(BeNumerically("<=", nameLimit))
		})
	}
}

func TestGreenNameKeepsLongNamesApart(t *testing.T) {
	g := NewWithT(t)
	a := strings.Repeat("x", 80) + "a"
	b := strings.Repeat("x", 80) + "b"
	g.Expect(GreenName(a, "s")).NotTo(Equal(GreenName(b, "s")))
	g.Expect(GreenName(a, strings.Repeat("s", 30)+"1")).NotTo(Equal(GreenName(a, strings.Repeat("s", 30)+"2")))
	g.Expect(GreenName(strings.Repeat("データ", 20), "s")).To(Satisfy(utf8.ValidString))
}

func FuzzGreenName(f *testing.F) {
	f.Add("shop", "abc")
	f.Add(strings.Repeat("データ", 20), "UID-1234-5678")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, blue, suffix string) {
		got := GreenName(blue, suffix)
		if len(got) > nameLimit {
			t.Fatalf("GreenName(%q, %q) = %q: %d bytes", blue, suffix, got, len(got))
		}
		if got != GreenName(blue, suffix) {
			t.Fatalf("GreenName(%q, %q) is not stable", blue, suffix)
		}
		if utf8.ValidString(blue) && !utf8.ValidString(got) {
			t.Fatalf("GreenName(%q, %q) = %q splits a character", blue, suffix, got)
		}
		if !strings.Contains(got, "_green") {
			t.Fatalf("GreenName(%q, %q) = %q does not say green", blue, suffix, got)
		}
		clean := cleanSuffix(suffix)
		if simple := blue + greenInfix + clean; clean != "" && len(simple) <= nameLimit && len(clean) <= suffixLimit && got != simple {
			t.Fatalf("GreenName(%q, %q) = %q, want %q", blue, suffix, got, simple)
		}
	})
}

func TestPgCreateDatabase(t *testing.T) {
	tests := []struct {
		name string
		loc  pgLocale
		want string
	}{
		{"libc", pgLocale{Collate: "en_US.UTF-8", Ctype: "en_US.UTF-8", Provider: "c"},
			`CREATE DATABASE "g" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'`},
		{"icu before 17", pgLocale{Collate: "C", Ctype: "C", Provider: "i", ICULocale: "de-DE"},
			`CREATE DATABASE "g" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'de-DE'`},
		{"icu 17 with rules", pgLocale{Collate: "C", Ctype: "C", Provider: "i", Locale: "und", ICURules: "&a < b"},
			`CREATE DATABASE "g" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'und' ICU_RULES '&a < b'`},
		{"builtin", pgLocale{Collate: "C", Ctype: "C", Provider: "b", Locale: "C.UTF-8"},
			`CREATE DATABASE "g" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'`},
		{"quotes", pgLocale{Collate: "it's", Provider: "c"},
			`CREATE DATABASE "g" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'it''s'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			NewWithT(t).Expect(pgCreateDatabase(`"g"`, "UTF8", tt.loc)).To(Equal(tt.want))
		})
	}
}

func TestRowStream(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("v", 100) + "\n"
	s := newRowStream(context.Background(), iotest.HalfReader(strings.NewReader("a\tb\n"+long+"c\n")), 2)
	var told []int64
	go func() {
		for n := range s.batches {
			told = append(told, n)
			s.resume <- struct{}{}
		}
	}()
	out, err := io.ReadAll(s)
	close(s.batches)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(out)).To(Equal("a\tb\n"+long+"c\n"), "the text passes unchanged")
	g.Expect(s.rows).To(BeEquivalentTo(3))
	g.Expect(told).To(Equal([]int64{2}), "a stop after each batch of 2 rows")
	g.Expect(s.open).To(BeFalse())

	s = newRowStream(context.Background(), strings.NewReader("a\tb\npartial"), 10)
	_, err = io.ReadAll(s)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.rows).To(BeEquivalentTo(1))
	g.Expect(s.open).To(BeTrue(), "a stream that ends inside a row")
}
