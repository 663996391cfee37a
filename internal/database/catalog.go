package database

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Catalog is what an engine's catalogue says of names and tables: the
// facts shadow-table changes, blue-green copies and integrity checks all
// read. Each engine answers them once, here, so that no strategy keeps a
// copy of its own.
type Catalog interface {
	// IdentLimit is the longest identifier the engine keeps (a table,
	// database, trigger or constraint name), in bytes.
	IdentLimit() int
	// Quote quotes an identifier.
	Quote(ident string) string
	// Qualify quotes a schema-qualified name.
	Qualify(schema, name string) string
	// CurrentSchema names the schema that unqualified names resolve to in
	// q's session.
	CurrentSchema(ctx context.Context, q Querier) (string, error)
	// Tables lists the base tables of schema, by name, with their columns:
	// not views, not the partitions of a partitioned table (whose rows the
	// parent's include), not the engine's own tables.
	Tables(ctx context.Context, q Querier, schema string) ([]Table, error)
	// Columns lists the columns of a base table (partitions included), in
	// the table's order; none when schema has no base table of that name.
	Columns(ctx context.Context, q Querier, schema, table string) ([]Column, error)
	// TableSize is a table's size with its indexes, in bytes; 0 when the
	// engine does not say.
	TableSize(ctx context.Context, q Querier, schema, table string) (int64, error)
	// Untransactional lists what in schema may keep a row change that a
	// transaction's rollback does not take back, or write where that is
	// not known: on MySQL and MariaDB tables of any storage engine but
	// InnoDB (MyISAM, Aria, MEMORY, CSV, ...), sequences, views, triggers
	// and stored functions; nothing on engines whose row changes always
	// roll back.
	Untransactional(ctx context.Context, q Querier, schema string) ([]string, error)
	// Views returns the views of a schema. Atlas's open-source drivers do
	// not inspect views, so kube-shift does.
	Views(ctx context.Context, q Querier, schemaName string) ([]View, error)
}

// Table is a base table and its columns, in the table's order.
type Table struct {
	Name    string
	Columns []Column
}

// Column is a column of a table as the catalogue describes it.
type Column struct {
	Name string
	// Type is the column's type as the catalogue spells it.
	Type string
	// Generated columns are computed by the server: nothing may be
	// written to them.
	Generated bool
	// Key is the column's place in the primary key, from 1; 0 when it is
	// not part of it.
	Key int
}

// PrimaryKey lists the primary key's columns of cols in key order; none
// when there is no primary key.
func PrimaryKey(cols []Column) []string {
	key := slices.DeleteFunc(slices.Clone(cols), func(c Column) bool { return c.Key == 0 })
	slices.SortFunc(key, func(a, b Column) int { return cmp.Compare(a.Key, b.Key) })
	var names []string
	for _, c := range key {
		names = append(names, c.Name)
	}
	return names
}

// PortableIdentLimit is the longest identifier every server engine keeps:
// a name that fits it fits whichever server it is used on.
func PortableIdentLimit() int {
	limit := math.MaxInt
	for _, e := range byKind {
		if e.Server() {
			limit = min(limit, e.IdentLimit())
		}
	}
	return limit
}

// queryTables runs a query returning rows of (table, column, type,
// generated, place in the primary key or 0) and groups them by table, in
// the order the query gives them. A table's rows need not be adjacent: a
// case-insensitive collation may sort "A" and "a" together.
func queryTables(ctx context.Context, q Querier, query string, args ...any) ([]Table, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var tables []Table
	index := map[string]int{}
	for rows.Next() {
		var table string
		var c Column
		var key sql.NullInt64
		if err := rows.Scan(&table, &c.Name, &c.Type, &c.Generated, &key); err != nil {
			return nil, err
		}
		c.Key = int(key.Int64)
		i, ok := index[table]
		if !ok {
			i = len(tables)
			index[table] = i
			tables = append(tables, Table{Name: table})
		}
		tables[i].Columns = append(tables[i].Columns, c)
	}
	return tables, errors.Join(rows.Err(), rows.Close())
}

// queryColumns runs a query of queryTables's shape filtered to one table
// and returns its columns. The server compares the name: where it folds
// case, the table is whichever it takes for the name.
func queryColumns(ctx context.Context, q Querier, query string, args ...any) ([]Column, error) {
	tables, err := queryTables(ctx, q, query, args...)
	var cols []Column
	for _, t := range tables {
		cols = append(cols, t.Columns...)
	}
	return cols, err
}

// currentSchema runs a query naming the session's schema; a NULL means
// there is none, which none says.
func currentSchema(ctx context.Context, q Querier, query, none string) (string, error) {
	var s sql.NullString
	err := q.QueryRowContext(ctx, query).Scan(&s)
	if err == nil && !s.Valid {
		err = errors.New(none)
	}
	return s.String, err
}

// qualify joins a quoted schema and name.
func qualify(quote func(string) string, schema, name string) string {
	return quote(schema) + "." + quote(name)
}

// PostgreSQL

// pgColumns lists the columns of the ordinary and partitioned tables of
// schema $1 with their place in the primary key. indkey is an int2vector,
// whose subscripts start at 0; WITH ORDINALITY counts from 1 whatever they
// are.
const pgColumns = `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '',
		COALESCE((SELECT k.n FROM unnest(CAST(i.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n)
			WHERE k.attnum = a.attnum), 0)
	FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
	WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`

// IdentLimit is NAMEDATALEN-1: longer names are silently truncated.
func (postgresEngine) IdentLimit() int { return 63 }

func (postgresEngine) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

func (e postgresEngine) Qualify(schema, name string) string { return qualify(e.Quote, schema, name) }

func (postgresEngine) CurrentSchema(ctx context.Context, q Querier) (string, error) {
	return currentSchema(ctx, q, "SELECT current_schema()", "the search_path names no existing schema")
}

func (postgresEngine) Tables(ctx context.Context, q Querier, schema string) ([]Table, error) {
	return queryTables(ctx, q, pgColumns+` AND NOT c.relispartition ORDER BY c.relname, a.attnum`, schema)
}

func (postgresEngine) Columns(ctx context.Context, q Querier, schema, table string) ([]Column, error) {
	return queryColumns(ctx, q, pgColumns+` AND c.relname = $2 ORDER BY a.attnum`, schema, table)
}

func (e postgresEngine) TableSize(ctx context.Context, q Querier, schema, table string) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, "SELECT pg_total_relation_size($1::regclass)", e.Qualify(schema, table)).Scan(&n)
	return n, err
}

func (postgresEngine) Untransactional(context.Context, Querier, string) ([]string, error) {
	return nil, nil
}

// MySQL and MariaDB

// myColumns lists the columns of the base tables of schema ? with their
// place in the primary key, which MySQL always names PRIMARY.
// GENERATION_EXPRESSION is NULL in MariaDB and empty in MySQL for a column
// that is not generated.
const myColumns = `SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, COALESCE(c.GENERATION_EXPRESSION, '') <> '',
		COALESCE(k.ORDINAL_POSITION, 0)
	FROM information_schema.COLUMNS c
	JOIN information_schema.TABLES t
		ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE'
	LEFT JOIN information_schema.KEY_COLUMN_USAGE k
		ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
		AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'
	WHERE c.TABLE_SCHEMA = ?`

// IdentLimit is the longest database, table, trigger or constraint name
// (and lock name, which Lock's hashed names stay under).
func (mysqlEngine) IdentLimit() int { return 64 }

func (mysqlEngine) Quote(ident string) string {
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

func (e mysqlEngine) Qualify(schema, name string) string { return qualify(e.Quote, schema, name) }

func (mysqlEngine) CurrentSchema(ctx context.Context, q Querier) (string, error) {
	return currentSchema(ctx, q, "SELECT DATABASE()", "the connection has no database selected")
}

func (mysqlEngine) Tables(ctx context.Context, q Querier, schema string) ([]Table, error) {
	return queryTables(ctx, q, myColumns+` ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`, schema)
}

func (mysqlEngine) Columns(ctx context.Context, q Querier, schema, table string) ([]Column, error) {
	return queryColumns(ctx, q, myColumns+` AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`, schema, table)
}

// TableSize is the table's data and index length as InnoDB estimates it.
func (mysqlEngine) TableSize(ctx context.Context, q Querier, schema, table string) (int64, error) {
	var n sql.NullInt64
	err := q.QueryRowContext(ctx, `
		SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, table).Scan(&n)
	return n.Int64, err
}

func (mysqlEngine) Untransactional(ctx context.Context, q Querier, schema string) ([]string, error) {
	// Views (updatable ones may write another schema's tables), triggers
	// and stored functions (which may write anywhere) are counted too:
	// what they write is not known here.
	return QueryStrings(ctx, q, `
		SELECT CONCAT(LOWER(TABLE_TYPE), ' ', TABLE_NAME, ' (', COALESCE(ENGINE, 'no engine'), ')') FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND (TABLE_TYPE NOT IN ('BASE TABLE', 'SYSTEM VERSIONED') OR COALESCE(ENGINE, '') <> 'InnoDB')
		UNION ALL SELECT CONCAT('trigger ', TRIGGER_NAME) FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = ? OR EVENT_OBJECT_SCHEMA = ?
		UNION ALL SELECT CONCAT('function ', ROUTINE_NAME) FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION'
		ORDER BY 1`, schema, schema, schema, schema)
}

// SQLite

// sqliteColumns lists the columns of the tables of a schema, whose quoted
// name goes in front, with pragma_table_info (bound to the schema's
// name), whose pk column is the place in the primary key. It lists no
// generated column, so none is marked as one. SQLite's own tables and
// virtual tables (whose rows live in other tables) are left out.
const sqliteColumns = `SELECT m.name, p.name, p.type, 0, p.pk
	FROM %s.sqlite_master AS m, pragma_table_info(m.name, ?) AS p
	WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%%' ESCAPE '\'
		AND m.sql NOT LIKE 'CREATE VIRTUAL%%'`

// IdentLimit: SQLite keeps names of any length.
func (sqliteEngine) IdentLimit() int { return math.MaxInt }

func (sqliteEngine) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

func (e sqliteEngine) Qualify(schema, name string) string { return qualify(e.Quote, schema, name) }

// CurrentSchema is main, where SQLite creates what is not qualified.
func (sqliteEngine) CurrentSchema(context.Context, Querier) (string, error) { return "main", nil }

func (e sqliteEngine) Tables(ctx context.Context, q Querier, schema string) ([]Table, error) {
	return queryTables(ctx, q, fmt.Sprintf(sqliteColumns, e.Quote(schema))+` ORDER BY m.name, p.cid`, schema)
}

func (e sqliteEngine) Columns(ctx context.Context, q Querier, schema, table string) ([]Column, error) {
	return queryColumns(ctx, q, fmt.Sprintf(sqliteColumns, e.Quote(schema))+` AND m.name = ? ORDER BY p.cid`, schema, table)
}

// TableSize is 0: SQLite says a table's size only through the dbstat
// table, which not every build has.
func (sqliteEngine) TableSize(context.Context, Querier, string, string) (int64, error) { return 0, nil }

func (sqliteEngine) Untransactional(context.Context, Querier, string) ([]string, error) {
	return nil, nil
}
