package integrity

import (
	"context"
	"fmt"
	"sort"
	"strings"

	atlasmysql "ariga.io/atlas/sql/mysql"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/sqlite"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// dialect is what one engine needs to provide besides its catalogue's
// tables, columns and primary keys: how it counts and checksums a table.
type dialect interface {
	// measure counts the rows of one table and, when spec asks, sums the
	// hashes of its sampled rows.
	measure(ctx context.Context, q database.Querier, spec measureSpec) (measurement, error)
}

// dialects builds each engine's dialect from its catalogue, by the
// engine's Atlas dialect name.
var dialects = map[string]func(c database.Catalog) dialect{
	postgres.DriverName:   func(c database.Catalog) dialect { return serverDialect{postgresSQL{}, c} },
	atlasmysql.DriverName: func(c database.Catalog) dialect { return serverDialect{mysqlSQL{}, c} },
	sqlite.DriverName:     func(c database.Catalog) dialect { return sqliteDialect{c} },
}

// Supports reports whether data integrity checks have a dialect for e.
func Supports(e database.Engine) bool {
	_, err := dialectFor(e)
	return err == nil
}

// dialectFor returns e's dialect.
func dialectFor(e database.Engine) (dialect, error) {
	newDialect, ok := dialects[e.Name()]
	if !ok {
		return nil, fmt.Errorf("data integrity checks do not support the %s engine", e.Name())
	}
	return newDialect(e), nil
}

// column is a column and its catalogue type; MySQL renders binary types
// differently from text.
type column struct {
	name, typ string
}

// tableLayout is a table's columns, sorted by name, and its primary key,
// in key order.
type tableLayout struct {
	columns []column
	key     []column
}

// measureSpec says what to measure in one table.
type measureSpec struct {
	schema, table string
	// columns are sorted by name; they make up the row text.
	columns []column
	// key is what rows are sampled by; empty means count only.
	key []column
	// percent is 1..100.
	percent  int
	checksum bool
}

// countOnly reports whether the spec asks for the row count alone.
func (s measureSpec) countOnly() bool { return !s.checksum || len(s.key) == 0 }

// measurement is what measuring one table finds.
type measurement struct {
	rows, sampled int64
	// checksum is the decimal sum of the sampled rows' hashes; empty when
	// only rows were counted.
	checksum string
}

// readLayouts reads the layout of every base table of schema from the
// engine's catalogue, in one query.
func readLayouts(ctx context.Context, q database.Querier, c database.Catalog, schema string) (map[string]*tableLayout, error) {
	tables, err := c.Tables(ctx, q, schema)
	if err != nil {
		return nil, fmt.Errorf("reading the tables of schema %s: %w", schema, err)
	}
	layouts := make(map[string]*tableLayout, len(tables))
	for _, t := range tables {
		l := &tableLayout{}
		typeOf := map[string]string{}
		for _, col := range t.Columns {
			l.columns = append(l.columns, column{name: col.Name, typ: col.Type})
			typeOf[col.Name] = col.Type
		}
		for _, name := range database.PrimaryKey(t.Columns) {
			l.key = append(l.key, column{name: name, typ: typeOf[name]})
		}
		sortColumns(l.columns)
		layouts[t.Name] = l
	}
	return layouts, nil
}

// sortColumns sorts by name: the row text must not depend on the
// physical column order.
func sortColumns(cols []column) {
	sort.Slice(cols, func(i, j int) bool { return cols[i].name < cols[j].name })
}

// sqlExprs are an engine's SQL spellings of the definitions in the
// package documentation, for engines that can hash in the server.
type sqlExprs interface {
	// cell renders a column's value as quoted text; never NULL.
	cell(quoted string, c column) string
	// join joins cells with commas into a row text.
	join(cells []string) string
	// bucket maps a key text to 0..99 by a hash.
	bucket(text string) string
	// rowHash maps a row text to a 64-bit hash.
	rowHash(text string) string
	// total renders sum (an aggregate) as text, 0 over no rows.
	total(sum string) string
}

// serverDialect counts and checksums a table in one query on the server.
type serverDialect struct {
	sqlExprs
	database.Catalog
}

func (d serverDialect) measure(ctx context.Context, q database.Querier, spec measureSpec) (measurement, error) {
	var m measurement
	from := d.Qualify(spec.schema, spec.table)
	if spec.countOnly() {
		err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+from).Scan(&m.rows)
		return m, err
	}
	err := q.QueryRowContext(ctx, d.checksumQuery(from, spec)).Scan(&m.rows, &m.sampled, &m.checksum)
	return m, err
}

// checksumQuery counts every row and sums the hashes of the sampled ones
// in a single pass over the table. Rows outside the sample get a NULL
// hash, which COUNT and SUM skip, and their row text is never built.
func (d serverDialect) checksumQuery(from string, spec measureSpec) string {
	h := d.rowHash(d.rowText(spec.columns))
	if spec.percent < 100 {
		h = fmt.Sprintf("CASE WHEN %s < %d THEN %s END", d.bucket(d.rowText(spec.key)), spec.percent, h)
	}
	return fmt.Sprintf("SELECT COUNT(*), COUNT(h), %s FROM (SELECT %s AS h FROM %s) AS sampled",
		d.total("SUM(h)"), h, from)
}

// rowText is the row text of cols.
func (d serverDialect) rowText(cols []column) string {
	cells := make([]string, len(cols))
	for i, c := range cols {
		cells[i] = d.cell(d.Quote(c.name), c)
	}
	return d.join(cells)
}

// joinWith joins cells with a concatenation operator around a comma.
func joinWith(cells []string, op string) string {
	return strings.Join(cells, " "+op+" ',' "+op+" ")
}
