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
		name := m[1]
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		name = strings.Trim(name, "`\"")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
