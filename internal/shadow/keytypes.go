package shadow

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// A change of a key column's type is taken only when it keeps every value
// as it is. The triggers find a live row's copy in the shadow by its key,
// compared across the two types: where the conversion rounds or cuts
// (numeric to integer, a narrower decimal), the copy holds another value
// than the one a later update or delete names, the trigger finds nothing,
// and the row the application changed or deleted is kept as it was.

// keyTypeChanges lists, for each column of pk whose type differs between
// live and shadow in a way that may not keep every value, what it was and
// what it becomes; none when every key value converts exactly.
func keyTypeChanges(ctx context.Context, d dialect, q database.Querier, n names, pk []string) ([]string, error) {
	from, err := d.keyTypes(ctx, q, n.schema, n.table, pk)
	if err != nil {
		return nil, err
	}
	to, err := d.keyTypes(ctx, q, n.schema, n.shadow, pk)
	if err != nil {
		return nil, err
	}
	var changes []string
	for i, c := range pk {
		if !d.keepsKey(from[i], to[i]) {
			changes = append(changes, fmt.Sprintf("%s from %s to %s", d.Quote(c), from[i], to[i]))
		}
	}
	return changes, nil
}

// keyColumnTypes runs query, which reads (column name, type) of the
// columns of a table, and returns the types of pk in its order.
func keyColumnTypes(ctx context.Context, q database.Querier, pk []string, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close() //nolint:errcheck // rows.Err is checked
	types := make([]string, len(pk))
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		if i := slices.Index(pk, name); i >= 0 {
			types[i] = typ
		}
	}
	return types, rows.Err()
}

// keyTypes reads the full type (modifiers included) of each column of pk.
func (d postgresDialect) keyTypes(ctx context.Context, q database.Querier, schema, table string, pk []string) ([]string, error) {
	return keyColumnTypes(ctx, q, pk, `
		SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
		FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`, d.Qualify(schema, table))
}

// pgIntegerRank orders PostgreSQL's integer types by width.
var pgIntegerRank = map[string]int{"smallint": 1, "integer": 2, "bigint": 3}

var pgLengthType = regexp.MustCompile(`^(character varying|numeric|bit varying)(?:\((\d+)(?:,(\d+))?\))?$`)

// keepsKey reports whether every value of type from is the same value of
// type to: the same type, an integer widened, a length or precision
// raised (or lifted), a varchar made text.
func (postgresDialect) keepsKey(from, to string) bool {
	if from == to {
		return true
	}
	if f, t := pgIntegerRank[from], pgIntegerRank[to]; f > 0 && t > 0 {
		return f <= t
	}
	if (from == "text" && to == "character varying") || (strings.HasPrefix(from, "character varying") && to == "text") {
		return true
	}
	f, t := pgLengthType.FindStringSubmatch(from), pgLengthType.FindStringSubmatch(to)
	if f == nil || t == nil || f[1] != t[1] {
		return false
	}
	switch {
	case t[2] == "":
		return true // no limit: every value of the limited type fits
	case f[2] == "":
		return false
	}
	// numeric(p,s) to numeric(p2,s2): the same scale, at least the digits
	// before the point; a length (s empty) only grows.
	fp, _ := strconv.Atoi(f[2])
	tp, _ := strconv.Atoi(t[2])
	fs, _ := strconv.Atoi(f[3])
	ts, _ := strconv.Atoi(t[3])
	return fs == ts && tp >= fp
}

// keyTypes reads the full type of each column of pk, with its collation.
func (d mysqlDialect) keyTypes(ctx context.Context, q database.Querier, schema, table string, pk []string) ([]string, error) {
	return keyColumnTypes(ctx, q, pk, `
		SELECT COLUMN_NAME, CONCAT(COLUMN_TYPE, COALESCE(CONCAT(' COLLATE ', COLLATION_NAME), ''))
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table)
}

// myIntegerRank orders MySQL's integer types by width.
var myIntegerRank = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 5}

var myIntegerType = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|bigint)(?:\(\d+\))?( unsigned)?( zerofill)?$`)

var myString = regexp.MustCompile(`^(char|varchar|varbinary)\((\d+)\)(?: COLLATE \S+)?$`)

// keepsKey reports whether every value of type from is the same value of
// type to: the same type, an integer widened (unsigned to signed only to
// a wider one; a display width does not matter), a string's length
// raised. A string's collation may change: the copy keeps its characters
// (a character set that cannot hold one fails the copy, in strict mode),
// and a key equals itself under any collation.
func (mysqlDialect) keepsKey(from, to string) bool {
	if from == to {
		return true
	}
	if f, t := myIntegerType.FindStringSubmatch(from), myIntegerType.FindStringSubmatch(to); f != nil && t != nil {
		fr, tr := myIntegerRank[f[1]], myIntegerRank[t[1]]
		switch fUnsigned, tUnsigned := f[2] != "", t[2] != ""; {
		case fUnsigned == tUnsigned:
			return fr <= tr
		case fUnsigned:
			return fr < tr
		default:
			return false // a negative value has no unsigned one
		}
	}
	f, t := myString.FindStringSubmatch(from), myString.FindStringSubmatch(to)
	if f == nil || t == nil || f[1] != t[1] {
		return false
	}
	fl, _ := strconv.Atoi(f[2])
	tl, _ := strconv.Atoi(t[2])
	return tl >= fl
}
