package sqlstatic

import (
	"regexp"
	"slices"
	"strings"
)

// writesTo finds the tables a data statement writes.
var writesTo = regexp.MustCompile("(?i)\\b(?:UPDATE|INSERT\\s+(?:IGNORE\\s+)?INTO|REPLACE\\s+INTO|DELETE\\s+FROM|TRUNCATE(?:\\s+TABLE)?|MERGE\\s+INTO)\\s+([`\"\\w.]+)")

// WrittenTables names the tables the SQL writes rows of (UPDATE, INSERT,
// REPLACE, DELETE, TRUNCATE, MERGE), unquoted and without a schema, each
// once. It reads the text, not a parse: a table named only inside a
// string literal counts too, which errs on the side of "written".
func WrittenTables(sql string) []string {
	var out []string
	for _, m := range writesTo.FindAllStringSubmatch(sql, -1) {
		name := BareName(m[1])
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// BareName is an identifier as written in SQL (quoted with " or `,
// perhaps qualified by a schema) as its bare name: "shop"."Orders" is
// Orders.
func BareName(ident string) string {
	ident = strings.TrimSpace(ident)
	if i := strings.LastIndexByte(ident, '.'); i >= 0 {
		ident = ident[i+1:]
	}
	return strings.Trim(strings.TrimSpace(ident), "`\"")
}
