package database

import (
	"context"
	"database/sql"
	"strings"

	"ariga.io/atlas/sql/schema"
)

// Atlas's SQLite inspection asks for each table's indexes with this
// query, the table's name written into it where the %s is:
//
//	SELECT `il`.`name`, `il`.`unique`, `il`.`origin`, `il`.`partial`, `m`.`sql`
//	FROM pragma_index_list('%s') AS il JOIN sqlite_master AS m ON il.name = m.name
//
// SQLite plans sqlite_master as its outer loop and runs the pragma again,
// parsed anew, for every row of the schema: a table's indexes cost as
// much as the whole schema, and an inspection grows with the square of
// the number of tables (90% of planning a 1,000-table SQLite schema,
// 20 ms a table, against 4 ms a table at 200).
const (
	atlasIndexesHead = "SELECT `il`.`name`, `il`.`unique`, `il`.`origin`, `il`.`partial`, `m`.`sql` FROM pragma_index_list('"
	atlasIndexesTail = "') AS il JOIN sqlite_master AS m ON il.name = m.name"
)

// indexesQuery gives the rows Atlas's index query gives, in its order
// (sqlite_master's), from one pass over sqlite_master that keeps only the
// table's own indexes, and the pragma run for those alone. An index's
// tbl_name is its table's name exactly as the table's own row has it,
// which is where Atlas read the name; an index's name is unique in the
// schema, so the join by name finds the same row. The name is quoted
// here, where Atlas's query writes it as it is.
func indexesQuery(table string) string {
	name := "'" + strings.ReplaceAll(table, "'", "''") + "'"
	return "SELECT `il`.`name`, `il`.`unique`, `il`.`origin`, `il`.`partial`, `m`.`sql`" +
		" FROM sqlite_master AS m CROSS JOIN pragma_index_list(" + name + ") AS il ON il.name = m.name" +
		" WHERE m.type = 'index' AND m.tbl_name = " + name +
		" ORDER BY m.rowid"
}

// sqliteInspector is the querier Atlas's SQLite driver runs on: q, with
// Atlas's index query (and that alone) asked as indexesQuery.
type sqliteInspector struct{ schema.ExecQuerier }

func (q sqliteInspector) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if table, ok := strings.CutPrefix(query, atlasIndexesHead); ok && len(args) == 0 {
		if table, ok := strings.CutSuffix(table, atlasIndexesTail); ok {
			query = indexesQuery(table)
		}
	}
	return q.ExecQuerier.QueryContext(ctx, query, args...)
}
