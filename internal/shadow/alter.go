package shadow

import (
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// FromAlter is the Change that applies ALTER TABLE clauses to table
// through a shadow: the shadow starts as a copy of the live table's
// definition (PostgreSQL: CREATE TABLE ... (LIKE ... INCLUDING ALL);
// MySQL: CREATE TABLE ... LIKE ...) with its comment, gets its foreign keys, which such a
// copy lacks, and then each clause as ALTER TABLE <shadow> <clause>.
// schema may be empty: the connection's current schema.
func FromAlter(e database.Engine, schema, table string, clauses ...string) (Change, error) {
	d, err := dialectFor(e)
	if err != nil {
		return Change{}, err
	}
	live := e.Quote(table)
	if schema != "" {
		live = d.Qualify(schema, table)
	}
	return Change{
		Schema:          schema,
		Table:           table,
		CreateShadow:    func(shadow string) []string { return d.copyTable(shadow, live) },
		KeepForeignKeys: true,
		Alter:           clauses,
	}, nil
}
