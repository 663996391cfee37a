package integrity

import "fmt"

// postgresSQL spells the definitions in PostgreSQL. hashtextextended is
// the 64-bit hash PostgreSQL's hash partitioning uses: five times faster
// than md5 here, and as deterministic (PostgreSQL 11 and later).
type postgresSQL struct{}

func (postgresSQL) cell(quoted string, _ column) string {
	return "quote_nullable(CAST(" + quoted + " AS text))"
}

// join uses || rather than concat_ws, which is limited to 100 arguments.
func (postgresSQL) join(cells []string) string { return joinWith(cells, "||") }

// bucket folds the signed hash into 0..99 evenly (abs would halve 0's share).
func (postgresSQL) bucket(text string) string {
	return fmt.Sprintf("(hashtextextended(%s, 0) %% 100 + 100) %% 100", text)
}

func (postgresSQL) rowHash(text string) string {
	return fmt.Sprintf("hashtextextended(%s, 0)", text)
}

// total: SUM over bigint is numeric, which cannot overflow.
func (postgresSQL) total(sum string) string { return "CAST(COALESCE(" + sum + ", 0) AS text)" }

// layoutQuery lists ordinary and partitioned tables, not their partitions
// (a partitioned table's rows already include them), with each column's
// place in the primary key. indkey is an int2vector, whose subscripts
// start at 0; WITH ORDINALITY counts from 1 whatever they are.
func (postgresSQL) layoutQuery(schema string) (string, []any) {
	return `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
		COALESCE((SELECT k.n FROM unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n)
			WHERE k.attnum = a.attnum), 0)
	FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
	WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition`, []any{schema}
}
