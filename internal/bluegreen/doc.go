// Package bluegreen does the database work of kube-shift's blue-green
// strategy for PostgreSQL and MySQL/MariaDB: it makes a green database, a
// faithful copy of the live (blue) one on the same server, so that the
// reconciler can apply the approved plan to green, validate it, and switch
// the applications over by rewriting their Secret. Kubernetes is not this
// package's business.
//
// Clone reads blue under one snapshot (a repeatable-read, read-only
// transaction), so green is a copy of blue as it was at one instant,
// Result.SnapshotAt. Writes to blue after that instant are not in green:
// the strategy is for databases whose writers can pause, or be switched
// over, while green is built and migrated.
//
// The schema goes through Atlas: blue is inspected with the engine's Atlas
// driver and green's tables are created from that inspection, first bare
// (columns, defaults, primary key, checks), then filled, then given their
// indexes and, last, their foreign keys, so rows go in without checks or
// index maintenance that the finished copy would make redundant. What
// Atlas's open-source drivers do not carry, the dialects of this package do:
// views, PostgreSQL extensions and sequences (with their current values), a
// PostgreSQL database's encoding and locale, a MySQL database's character
// set. What neither can copy faithfully (triggers, functions, policies,
// partitioned tables...) makes Clone refuse with an *UnsupportedError
// before it creates anything.
//
// Rows cross through kube-shift in batches: PostgreSQL has no cross-database
// queries, and MySQL's INSERT ... SELECT does not read from the snapshot (it
// takes locking reads, which see the latest rows), so on both engines a
// snapshot connection to blue streams the rows and a second connection
// writes them into green.
//
// A marker table, MarkerTable, written into green as Clone's last step,
// tells a finished green from one a crash or a cancellation left half made:
// Complete reports it, Exists finds any green, and Drop (idempotent) removes
// one, so a reconciler that restarts can resume or clean up.
package bluegreen
