package dbtest

import (
	"database/sql"
	"testing"

	// The SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"
)

// SQLiteTables lists the tables of a SQLite file, read directly, so a test
// checks what a migration did to the file without going through kube-shift.
func SQLiteTables(tb testing.TB, path string) []string {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatalf("opening %s: %v", path, err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		tb.Fatalf("listing the tables of %s: %v", path, err)
	}
	defer func() { _ = rows.Close() }()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			tb.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return names
}
