// Package database knows the database engines kube-shift migrates:
// PostgreSQL, MySQL/MariaDB and SQLite. Each engine sits behind the Engine
// interface and is found through a registry, by DatabaseType or by URL
// scheme, so the planner never switches on the database type.
//
// An engine turns a DatabaseConfig and its Secret (or an Atlas-style URL)
// into a connection with correct escaping, opens Atlas's driver on any
// handle (a *sql.DB, a *sql.Conn holding a lock, a transaction), takes the
// engine's migration lock, creates scratch dev databases, and keeps the
// revision table kube_shift_revisions that records what was applied.
package database
