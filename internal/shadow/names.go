package shadow

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Suffixes of the names Run gives the tables beside the live one, as
// pt-online-schema-change names them.
const (
	shadowSuffix = "_new"
	backupSuffix = "_old"
)

// names are the tables of one change: the live table, its shadow and its
// backup, in one schema; limit is the engine's identifier limit, which
// every name derived from the table's stays within.
type names struct {
	schema, table, shadow, backup string
	limit                         int
}

// namesFor derives the shadow's and backup's names from the table's,
// within the engine's identifier limit, so a run after a crash finds what
// the crashed one left.
func namesFor(schema, table string, limit int) names {
	return names{
		schema: schema,
		table:  table,
		shadow: decorate(table, shadowSuffix, limit),
		backup: decorate(table, backupSuffix, limit),
		limit:  limit,
	}
}

// decorate returns "_" + name + suffix, or, when that exceeds limit bytes,
// a shortened name with a hash of the full one in it: still unique,
// still the same every time.
func decorate(name, suffix string, limit int) string {
	full := "_" + name + suffix
	if len(full) <= limit {
		return full
	}
	sum := sha256.Sum256([]byte(name))
	tag := "_" + hex.EncodeToString(sum[:4])
	keep := limit - len("_") - len(tag) - len(suffix)
	return "_" + truncate(name, keep) + tag + suffix
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// undecorate reverses decorate when it did not have to shorten: the
// original name of "_t_pkey_old" is "t_pkey".
func undecorate(name, suffix string) (string, bool) {
	if !strings.HasPrefix(name, "_") || !strings.HasSuffix(name, suffix) || len(name) <= len(suffix)+1 {
		return "", false
	}
	return name[1 : len(name)-len(suffix)], true
}

// role is what a table beside the live one is for, as its marker says.
type role string

const (
	roleShadow role = "shadow"
	roleBackup role = "backup"
)

// markerPrefix starts every comment by which kube-shift recognises the
// tables it made.
const markerPrefix = "kube-shift "

// mark is the comment of a shadow or backup of table: the marker on the
// first line, then the comment the table would otherwise have, so that the
// swap can give it back.
func mark(r role, table, comment string) string {
	m := markerPrefix + string(r) + " of " + table
	if comment != "" {
		m += "\n" + comment
	}
	return m
}

// unmark reads a comment written by mark: which role for which table, and
// the comment underneath. ok is false for any other comment.
func unmark(text string) (r role, table, comment string, ok bool) {
	first, rest, _ := strings.Cut(text, "\n")
	tail, found := strings.CutPrefix(first, markerPrefix)
	if !found {
		return "", "", "", false
	}
	kind, of, found := strings.Cut(tail, " of ")
	if !found || (role(kind) != roleShadow && role(kind) != roleBackup) {
		return "", "", "", false
	}
	return role(kind), of, rest, true
}

// isMarked reports whether comment marks a table as table's r.
func isMarked(comment string, r role, table string) bool {
	got, of, _, ok := unmark(comment)
	return ok && got == r && of == table
}

// userComment is the comment a table shows users: a marked comment without
// its marker line.
func userComment(comment string) string {
	if _, _, c, ok := unmark(comment); ok {
		return c
	}
	return comment
}
