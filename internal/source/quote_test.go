package source

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestQuotes(t *testing.T) {
	const secret = "INSERT INTO api_keys (name, key) VALUES ('billing', 'sk_live_7f3a9c');"
	tests := []struct {
		message string
		want    bool
	}{
		{"statement 1 (INSERT INTO api_keys (name, key) VALUES ('billing', 'sk_li...): no such table", true},
		{`near "'sk_live_7f3a9c')": syntax error`, false}, // 17 bytes of it: under the window
		{"duplicate key value ('billing', 'sk_live_7f3a9c') violates", true},
		{"INSERT INTO api_keys\n   (name, key)\tVALUES", true}, // whitespace folded
		{"script \"seed\", statement 1: invalid SQL", false},
		{"", false},
		{strings.Repeat("x", 1000), false},
	}
	for _, tt := range tests {
		NewWithT(t).Expect(Quotes(tt.message, secret)).To(Equal(tt.want), tt.message)
	}

	g := NewWithT(t)
	g.Expect(Quotes("ran DROP TABLE t then", "DROP TABLE t;")).To(BeTrue(), "a statement shorter than the window, whole")
	g.Expect(Quotes("DROP TABLE", "DROP TABLE t;")).To(BeFalse())
	g.Expect(Quotes("anything", "  ;")).To(BeFalse(), "nothing to quote")
}
