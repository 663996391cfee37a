package database

import (
	"context"
	"database/sql"
	"strings"

	"ariga.io/atlas/sql/schema"
)

// Atlas's SQLite inspection reads each table (and each index) with
// queries that write its name into a string literal as it is, as
// fmt.Sprintf(query, name) with the query's literal '%s'. A name that
// holds a quote ends the literal and goes on as SQL: a table could be
// inspected with another's columns, or with another table's values read
// into its schema (an attacker's review read a secret in as an index's
// SQL), on the dev database and on a target. And one of those queries,
// a table's indexes,
//
//	SELECT `il`.`name`, `il`.`unique`, `il`.`origin`, `il`.`partial`, `m`.`sql`
//	FROM pragma_index_list('%s') AS il JOIN sqlite_master AS m ON il.name = m.name
//
// is planned with sqlite_master as the outer loop, running the pragma
// again, parsed anew, for every row of the schema: an inspection grew
// with the square of the number of tables (90% of planning a 1,000-table
// SQLite schema, 20 ms a table, against 4 ms a table at 200).
//
// atlasNamed lists those queries as the text around the name's literal,
// quotes included, and what is asked instead, given the name's literal
// written properly (sqliteString); with no ask, the same query with that
// literal.
var atlasNamed = []struct {
	head, tail string
	ask        func(literal string) string
}{
	{
		head: "SELECT `il`.`name`, `il`.`unique`, `il`.`origin`, `il`.`partial`, `m`.`sql` FROM pragma_index_list('",
		tail: "') AS il JOIN sqlite_master AS m ON il.name = m.name",
		// The same join, in sqlite_master's order (the outer loop's),
		// with sqlite_master's rows first kept to the names the pragma
		// gives, computed once: one pass over sqlite_master, and the
		// pragma again for the table's indexes alone. The rows are
		// Atlas's, whatever sqlite_master holds (a trigger of an index's
		// name, a tbl_name edited through writable_schema).
		ask: func(t string) string {
			return "SELECT `il`.`name`, `il`.`unique`, `il`.`origin`, `il`.`partial`, `m`.`sql`" +
				" FROM sqlite_master AS m CROSS JOIN pragma_index_list(" + t + ") AS il ON il.name = m.name" +
				" WHERE m.name IN (SELECT name FROM pragma_index_list(" + t + "))" +
				" ORDER BY m.rowid"
		},
	},
	{
		head: "SELECT `name`, `type`, (not `notnull`) AS `nullable`, `dflt_value`, (`pk` <> 0) AS `pk`, `hidden` FROM pragma_table_xinfo('",
		tail: "') ORDER BY `cid`",
	},
	{
		head: "SELECT name, desc FROM pragma_index_xinfo('",
		tail: "') WHERE key = 1 ORDER BY seqno",
	},
	{
		head: "SELECT `id`, `from`, `to`, `table`, `on_update`, `on_delete` FROM pragma_foreign_key_list('",
		tail: "') ORDER BY id, seq",
	},
}

// sqliteString is s as an SQLite string literal.
func sqliteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// sqliteInspector is the querier Atlas's SQLite driver runs on: q, with
// each of Atlas's queries in atlasNamed asked with the name quoted (and
// the index query as its ask says). A name is what lies between a
// query's head and tail: Atlas wrote it there whole.
type sqliteInspector struct{ schema.ExecQuerier }

func (q sqliteInspector) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if len(args) == 0 {
		for _, named := range atlasNamed {
			name, ok := strings.CutPrefix(query, named.head)
			if !ok {
				continue
			}
			if name, ok = strings.CutSuffix(name, named.tail); !ok {
				continue
			}
			literal := sqliteString(name)
			if named.ask != nil {
				query = named.ask(literal)
			} else {
				query = strings.TrimSuffix(named.head, "'") + literal + strings.TrimPrefix(named.tail, "'")
			}
			break
		}
	}
	return q.ExecQuerier.QueryContext(ctx, query, args...)
}
