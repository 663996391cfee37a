package shadow

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// dialect is one engine's way of doing each step: its triggers, its swap,
// and the catalogue queries only Run needs; names, columns and keys come
// from the engine's catalogue. Run's steps are the same for every engine.
type dialect interface {
	database.Catalog

	// prepareSession sets what the run's session relies on, and bounds
	// its waits for locks by lockTimeout.
	prepareSession(ctx context.Context, conn *sql.Conn, lockTimeout time.Duration) error
	// setLockWait bounds the session's waits for table locks by wait,
	// rounded as the engine counts (MySQL: down, to whole seconds; under
	// one, not at all).
	setLockWait(ctx context.Context, q database.Querier, wait time.Duration) error
	// restoreLockWait gives the session back the waits prepareSession
	// set for lockTimeout, after setLockWait.
	restoreLockWait(ctx context.Context, q database.Querier, lockTimeout time.Duration) error
	// relation reads whether a relation of schema is a table, and its
	// comment; nil when there is none.
	relation(ctx context.Context, q database.Querier, schema, name string) (*tableInfo, error)
	// referencedBy lists the foreign keys that point at the table,
	// including its own.
	referencedBy(ctx context.Context, q database.Querier, n names) ([]string, error)
	// obstacles lists what the table has that would not follow the swap
	// or that the copy cannot preserve.
	obstacles(ctx context.Context, q database.Querier, n names) ([]string, error)
	// foreignNames lists the names Run needs besides the tables' (its
	// triggers', its function's) that objects it did not create hold.
	foreignNames(ctx context.Context, q database.Querier, n names) ([]string, error)

	// copyTable are the statements creating table shadow with the
	// definition of table live (columns, defaults, constraints, indexes,
	// comment; not foreign keys), both quoted and qualified.
	copyTable(shadow, live string) []string
	// setComment sets a table's comment.
	setComment(ctx context.Context, q database.Querier, schema, name, comment string) error
	// inheritTablespace puts the new shadow where the live table is.
	inheritTablespace(ctx context.Context, q database.Querier, n names) error
	// inheritAccess gives the shadow what the engine keys by the table
	// rather than by its name (PostgreSQL's owner and grants).
	inheritAccess(ctx context.Context, q database.Querier, n names) error
	// foreignKeyCopies are the statements that add the live table's
	// foreign keys to the shadow, read in q. Each locks the tables the
	// keys reference, which the application queues behind; where DDL is
	// not transactional they are one statement, which may be attempted
	// again.
	foreignKeyCopies(ctx context.Context, q database.Querier, n names) ([]string, error)
	// deferIndexes drops the shadow's secondary indexes that the copy
	// need not maintain row by row (none that backs a constraint or that
	// a foreign key needs) and returns how to build them again.
	deferIndexes(ctx context.Context, q database.Querier, n names) ([]deferredIndex, error)
	// buildIndexes builds the deferred indexes on the shadow without
	// stopping the triggers' writes to it.
	buildIndexes(ctx context.Context, conn *sql.Conn, n names, idx []deferredIndex) error

	// logsWrites reports whether this run's triggers log the keys the
	// application writes during the copy instead of writing the shadow,
	// the shadow, just built, being the copy's alone (every index
	// deferred, no batch making the application wait): after the copy
	// and the index builds, replay applies the log to the shadow until
	// little is left, and the switch (prepareSwitch) makes the triggers
	// write the shadow from then on, drainLog applying what is left.
	// Where it is false the triggers write the shadow from the start.
	logsWrites(ctx context.Context, q database.Querier, n names) (bool, error)
	// keyTypes reads the full type of each column of pk in table, as
	// keepsKey compares them (see keyTypeChanges).
	keyTypes(ctx context.Context, q database.Querier, schema, table string, pk []string) ([]string, error)
	// keepsKey reports whether every value of a key column of type from
	// is the same value as type to.
	keepsKey(from, to string) bool
	// installTriggers makes every later write to the live table reach
	// the shadow too, for the columns both share: at once, or, when
	// logged (see logsWrites), through a log of the keys written until
	// the switch (prepareSwitch). locking is called before the first
	// statement that asks for a lock the application queues behind.
	installTriggers(ctx context.Context, conn *sql.Conn, n names, pk, columns []string, logged bool, locking func()) error
	// replay applies the log entries it sees, in transactions of its own
	// on conn, retried on a deadlock, and returns how many it applied: on
	// PostgreSQL all it sees in one REPEATABLE READ snapshot (up to a
	// TRUNCATE's), which leaves the shadow as the live table was in that
	// snapshot; on MySQL those up to the last written when it starts.
	replay(ctx context.Context, conn *sql.Conn, n names, pk, columns []string) (int, error)
	// prepareSwitch reads in q, before any lock, what the switch needs,
	// and returns its steps, each attempted on its own as the swap is:
	// together they turn the triggers into ones that write the shadow,
	// each in tx (REPEATABLE READ) under a lock on the live table bounded
	// by the session's lock wait, calling locking before the statement
	// that asks for it. On PostgreSQL one step, which applies the whole
	// log under that lock first, within budget, giving up
	// (errOverLockBudget) when the application writes faster; on MySQL
	// one per statement, drainLog applying the log after them. dropLog
	// drops the log then.
	prepareSwitch(ctx context.Context, q database.Querier, n names, pk, columns []string, budget time.Duration) ([]func(ctx context.Context, tx *sql.Tx, locking func()) error, error)
	drainLog(ctx context.Context, conn *sql.Conn, n names, pk, columns []string) error
	dropLog(ctx context.Context, q database.Querier, n names) error
	// logTables are the tables of n's log, where the triggers log keys.
	logTables(n names) []logTableName
	// compactLog gives the space of the log's applied entries back, so
	// that the switch, under its lock, reads no more of the log than is
	// left in it.
	compactLog(ctx context.Context, q database.Querier, n names) error
	// dropTriggers removes the triggers (and function, and log) Run
	// installed for n, wherever the swap left them. Idempotent.
	dropTriggers(ctx context.Context, q database.Querier, n names) error

	// keyRange is a predicate on the primary key, after < key <= upTo
	// (either bound nil: open), and its arguments.
	keyRange(pk []string, after, upTo []any) (string, []any)
	// beginBatch starts a copy batch's transaction in lane (counted from
	// 0), before its copyRows statement; it may wait, within
	// lockTimeout, for what the batch must not run concurrently with.
	beginBatch(ctx context.Context, tx *sql.Tx, n names, lane int, lockTimeout time.Duration) error
	// copyRows is the statement copying the live table's rows matching
	// where into the shadow; logged says the triggers log the
	// application's writes (see logsWrites). With keepExisting it leaves a row the
	// triggers wrote first as it is, checking every row for one (ON
	// CONFLICT DO NOTHING, ON DUPLICATE KEY UPDATE); without, such a row
	// makes it fail (see duplicate), and where must exclude them. A
	// delete that runs while the copy reads must not be undone by it:
	// the statement locks the rows it reads, or beginBatch excludes such
	// deletes, unless logged: the delete's entry removes the row then.
	copyRows(n names, pk, columns []string, where string, logged, keepExisting bool) string
	// keyNotIn is a predicate excluding keys, and its arguments;
	// placeholders are numbered from firstArg where the engine numbers
	// them.
	keyNotIn(pk []string, keys [][]any, firstArg int) (string, []any)
	// duplicate reports a unique key violation.
	duplicate(err error) bool

	// swap exchanges the tables in s under one short lock and returns how
	// long the lock was held.
	swap(ctx context.Context, conn *sql.Conn, s swapSpec) (time.Duration, error)
	// settle finishes a swap outside its lock: whatever the engine could
	// not do inside it, and housekeeping on the new table.
	settle(ctx context.Context, q database.Querier, s swapSpec) error
	// retryable reports a deadlock or lock timeout: the statement may
	// succeed when tried again.
	retryable(err error) bool
	// replicationLag is how far the server's replicas are behind it, as
	// far as the server can tell; 0 without replicas.
	replicationLag(ctx context.Context, q database.Querier) (time.Duration, error)
}

// logTableName is a table of a run's log and the comment that marks it as
// kube-shift's.
type logTableName struct {
	name, marker string
}

func (t logTableName) ours(info *tableInfo) bool { return info.isTable && info.comment == t.marker }

// deferredIndex is an index of the shadow left out during the copy.
type deferredIndex struct {
	name string
	// create are the statements building it again.
	create []string
	// then are statements that follow create outside its lock (a foreign
	// key's validation).
	then []string
	// stage is when it is built.
	stage buildStage
}

// buildStage is when a deferred index (or constraint) is built.
type buildStage int

const (
	// afterCopy: once the copy is done.
	afterCopy buildStage = iota
	// afterReplay: an index that holds the rows to a constraint (unique,
	// exclusion), where the triggers log the application's writes: once
	// a replay has left the shadow with the rows of one moment, not rows
	// copied in batches of different moments.
	afterReplay
	// afterSwitch: a foreign key, where the triggers log the
	// application's writes: once the shadow follows them, so that it
	// never refuses the application's delete of a parent whose child the
	// shadow still holds; added under a short lock (create), then
	// validated (then).
	afterSwitch
)

// tableInfo is what Run reads of a relation.
type tableInfo struct {
	// isTable is false for a view, an index, a sequence... of that name.
	isTable bool
	comment string
	// pk lists the primary key's columns in key order.
	pk      []string
	columns []database.Column
}

// describe reads a relation of schema by name, with the columns and
// primary key of a table; nil when there is none.
func describe(ctx context.Context, d dialect, q database.Querier, schema, name string) (*tableInfo, error) {
	info, err := d.relation(ctx, q, schema, name)
	if info == nil || err != nil || !info.isTable {
		return info, err
	}
	if info.columns, err = d.Columns(ctx, q, schema, name); err != nil {
		return nil, err
	}
	info.pk = database.PrimaryKey(info.columns)
	return info, nil
}

// markedAs reports whether t is a table marked as table's r.
func (t *tableInfo) markedAs(r role, table string) bool {
	return t != nil && t.isTable && isMarked(t.comment, r, table)
}

// swapSpec says which tables a swap exchanges: incoming takes live's
// name, live moves to aside and becomes table's asideRole (its backup in
// a run, its shadow when swapping back).
type swapSpec struct {
	n               names
	live, incoming  string
	aside           string
	asideRole       role
	liveComment     string
	incomingComment string
}

// asideSuffix is what the aside table's index and sequence names are
// decorated with: the suffix of its role's table name.
func (s swapSpec) asideSuffix() string {
	if s.asideRole == roleShadow {
		return shadowSuffix
	}
	return backupSuffix
}

// incomingSuffix is the suffix the incoming table's names were decorated
// with when it was set aside: the other role's.
func (s swapSpec) incomingSuffix() string {
	if s.asideRole == roleShadow {
		return backupSuffix
	}
	return shadowSuffix
}

// dialects maps an engine's name to its dialect.
var dialects = map[string]func(e database.Engine) dialect{}

// Supports reports whether shadow-table changes have a dialect for e.
func Supports(e database.Engine) bool {
	_, err := dialectFor(e)
	return err == nil
}

// dialectFor returns e's dialect.
func dialectFor(e database.Engine) (dialect, error) {
	if newDialect, ok := dialects[e.Name()]; ok {
		return newDialect(e), nil
	}
	return nil, fmt.Errorf("shadow-table changes are not supported on %s", e.Name())
}

// withRetries runs try until it succeeds, fails with an error that is not
// retryable, or has had lockAttempts tries.
func withRetries(ctx context.Context, d dialect, try func() error) error {
	var err error
	for attempt := 1; attempt <= lockAttempts; attempt++ {
		if err = try(); err == nil || !d.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", lockAttempts, err)
}

// inTx runs f in a transaction on conn, committing when it succeeds.
func inTx(ctx context.Context, conn *sql.Conn, opts *sql.TxOptions, f func(tx *sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// execAll runs statements in order, stopping at the first failure.
func execAll(ctx context.Context, q database.Querier, stmts []string) error {
	for _, stmt := range stmts {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", firstLine(stmt), err)
		}
	}
	return nil
}

// firstLine shortens a statement for an error message.
func firstLine(stmt string) string {
	line, _, cut := strings.Cut(strings.TrimSpace(stmt), "\n")
	if cut || len(line) > 120 {
		line = truncate(line, 120) + "..."
	}
	return line
}

// quoteList quotes names and joins them with commas.
func quoteList(quote func(string) string, names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quote(n)
	}
	return strings.Join(quoted, ", ")
}

// keyNotIn is "(a, b) NOT IN ((p1, p2), ...)", or "a NOT IN (p1, ...)"
// for a key of one column, with placeholder(i) the i-th placeholder from
// 0, and its arguments.
func keyNotIn(quote func(string) string, pk []string, keys [][]any, placeholder func(int) string) (string, []any) {
	var args []any
	tuples := make([]string, len(keys))
	for i, key := range keys {
		ph := make([]string, len(key))
		for j, v := range key {
			ph[j] = placeholder(len(args))
			args = append(args, v)
		}
		tuples[i] = strings.Join(ph, ", ")
		if len(pk) > 1 {
			tuples[i] = "(" + tuples[i] + ")"
		}
	}
	cols := quoteList(quote, pk)
	if len(pk) > 1 {
		cols = "(" + cols + ")"
	}
	return cols + " NOT IN (" + strings.Join(tuples, ", ") + ")", args
}
