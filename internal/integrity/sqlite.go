package integrity

import (
	"context"
	"errors"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// sqliteDialect has SQLite render each row's key text and row text and
// hashes them in Go: SQLite has no md5 function. A table without a declared primary key has only a rowid, which VACUUM
// may renumber, so it is counted only.
type sqliteDialect struct {
	database.Catalog
}

func (d sqliteDialect) measure(ctx context.Context, q database.Querier, spec measureSpec) (measurement, error) {
	var m measurement
	from := d.Qualify(spec.schema, spec.table)
	if spec.countOnly() {
		err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+from).Scan(&m.rows)
		return m, err
	}
	key := "''"
	if spec.percent < 100 {
		key = d.rowText(spec.key)
	}
	rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT %s, %s FROM %s", key, d.rowText(spec.columns), from))
	if err != nil {
		return m, err
	}
	defer func() { _ = rows.Close() }()
	var sum total
	var keyText, rowText string
	for rows.Next() {
		if err := rows.Scan(&keyText, &rowText); err != nil {
			return m, err
		}
		m.rows++
		if spec.percent == 100 || bucket(keyText) < spec.percent {
			m.sampled++
			sum.add(rowHash(rowText))
		}
	}
	m.checksum = sum.String()
	return m, errors.Join(rows.Err(), rows.Close())
}

// rowText renders cols as the row text: blobs by quote's hex literal,
// everything else as text, so an INTEGER column's values read the same
// whatever the declared type.
func (d sqliteDialect) rowText(cols []column) string {
	cells := make([]string, len(cols))
	for i, c := range cols {
		q := d.Quote(c.name)
		cells[i] = "CASE WHEN typeof(" + q + ") = 'blob' THEN quote(" + q + ") ELSE quote(CAST(" + q + " AS TEXT)) END"
	}
	return joinWith(cells, "||")
}
