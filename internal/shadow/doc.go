// Package shadow changes one table's definition without holding a long
// lock, the way pt-online-schema-change and gh-ost do: kube-shift's
// shadow-table strategy, for PostgreSQL and MySQL/MariaDB.
//
// Run builds the new definition in an empty shadow table (_<table>_new),
// installs triggers on the live table that mirror every insert, update and
// delete into the shadow, copies the existing rows in primary-key order in
// short batches, checks that both tables hold the same rows, and then swaps
// the two in one short lock: the live table becomes the backup
// (_<table>_old), the shadow takes its name. Only the swap blocks the
// application, and Result.LockTime says for how long.
//
// As pg_repack does, the triggers first only log the keys the
// application writes (in _<table>_shadow_log), so that the copy fills a
// shadow without its indexes and nothing the application does waits for
// it; after the copy and the index builds the log is replayed onto the
// shadow, and a brief lock that stops the application's writes turns the
// triggers into ones that write the shadow directly, until the swap. On
// PostgreSQL what is left of the log is applied under that lock; on
// MariaDB after it, locking the rows it applies. On MariaDB a shadow with
// a unique index besides its primary key, or a foreign key, is written by
// the triggers from the start instead (rows copied at different moments
// could break it until the log is applied), and so is every shadow on
// MySQL itself, whose triggers cannot be replaced in one statement.
//
// The copy is meant to run near the database's own ALTER TABLE
// (docs/performance.md has the figures): each batch is one INSERT ...
// SELECT over a key range, inside the server; batches are sized by time
// and paused while the lag passes Options.MaxLag, as gh-ost throttles;
// the shadow's secondary indexes (on PostgreSQL all of them) are left out
// during the copy and built once after it, sorted, without stopping the
// application. The locks the application queues behind (the triggers'
// installation, the switch, the swap) are
// asked for with a short bounded wait and retried with backoff, as gh-ost's
// cut-over is: a long query on the table delays the swap, not the
// application.
//
// Run refuses, with a *RefusalError, what it cannot do safely: a table
// without a primary key, a change of the key's columns, or of their type
// unless every value converts exactly (an integer widened, a length
// raised: the triggers find a row's copy by its key, and a rounded one
// would not be found), a table other tables' foreign keys point at (they
// would follow the renamed old table), names already used by something
// kube-shift did not create, and, per engine, objects that would stay with
// the old table (PostgreSQL views, rules, row-level security, triggers).
//
// What the run needs of its database user: in PostgreSQL, CREATE on the
// schema and ownership of the table (or membership in its owner's role:
// the shadow gets the same owner and grants); in MySQL, SELECT, INSERT,
// DELETE, CREATE, ALTER, DROP, TRIGGER and LOCK TABLES (the triggers are
// installed and switched under a brief LOCK TABLES, see
// mysqlDialect.installTriggers; they run with its rights, so the
// application needs none on the shadow or the log). Clients that
// prepare statements see what any type change does to them: PostgreSQL
// refuses a cached plan whose result type changed, once per statement.
//
// Every object Run creates carries a marker (a table comment, a function
// comment, the shadow's name in a trigger body), so that Abort, SwapBack
// and DropBackup, which are idempotent, touch nothing else: after a crash
// Abort removes what a run left before its swap, and a new Run starts over.
package shadow
