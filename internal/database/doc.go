// Package database knows the database engines kube-shift migrates:
// PostgreSQL, MySQL/MariaDB and SQLite. Each engine sits behind the Engine
// interface and is found through a registry, by Kind or by URL scheme, so
// the planner never switches on the database type. The package knows nothing
// of Kubernetes: the controller converts a migration's database block to a
// Config (Kind and SSLMode take the API's strings as they are).
//
// An engine turns a Config and its Secret's data (or an Atlas-style URL)
// into a connection with correct escaping, opens Atlas's driver on any
// handle (a *sql.DB, a *sql.Conn holding a lock, a transaction), takes the
// engine's migration lock, creates scratch dev databases, and keeps the
// revision table kube_shift_revisions that records what was applied. Its
// Catalog answers what the strategies read of names and tables
// (identifier limit, quoting, current schema, tables, columns and primary
// keys, table size), once per engine.
package database
