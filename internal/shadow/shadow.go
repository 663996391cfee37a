package shadow

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// Defaults of Options.
const (
	// DefaultBatchSize is the API's batchSize default and the first
	// batch's size when batches are sized by time.
	DefaultBatchSize = 1000
	// DefaultBatchTime is how long a copy batch aims to take when
	// batches are sized by time: long enough that a batch's round trips
	// and commit stay a small part of it, short enough that the
	// application, whose writes can wait for the running batch, hardly
	// notices. On MariaDB, when the table has an AUTO_INCREMENT column,
	// every write to it waits for the copy statement running then: the
	// bulk insert holds the shadow's AUTO-INC lock to its end (with
	// innodb_autoinc_lock_mode 1, the default), and the triggers' writes
	// queue behind it. On either engine a row updated in a batch's range
	// waits for the batch.
	DefaultBatchTime = 10 * time.Millisecond
	// DefaultLockTimeout bounds each wait for a lock that does not stop
	// the application (a row's, in a copy batch; building an index).
	DefaultLockTimeout = 5 * time.Second
	// DefaultCutOverLockTimeout bounds each wait for the locks that stop
	// the application (installing the triggers, the swap): while Run
	// waits for them the application's statements on the table queue
	// behind it, so Run gives up quickly and tries again later, as
	// gh-ost's cut-over does.
	DefaultCutOverLockTimeout = 50 * time.Millisecond
	// DefaultCutOverAttempts is how many times Run asks for those locks
	// before it gives up: with the backoff between attempts about a
	// minute and a half, in which a long query of the application's on
	// the table may finish.
	DefaultCutOverAttempts = 50
	// DefaultCopyLanes is how many batches of a table's rows the copy
	// moves at once: two, for the two cores the benchmarks run on (see
	// docs/performance.md); more only help a server with more cores to
	// spare.
	DefaultCopyLanes = 2
	// MaxCopyLanes bounds Options.CopyLanes: each lane is a session of
	// the database's.
	MaxCopyLanes = 8
)

// lockAttempts is how many times Run retries a copy batch or a clean-up
// that hit a deadlock or a lock timeout.
const lockAttempts = 5

// cleanupTimeout bounds the clean-up after a failed run, which gets a
// fresh context because the run's own may be what failed.
const cleanupTimeout = 30 * time.Second

// Change is one table's new definition.
type Change struct {
	// Schema holds the table: a PostgreSQL schema, a MySQL database.
	// Empty means the connection's current one.
	Schema string
	// Table is the table to change.
	Table string
	// CreateShadow returns the statements that create the table's new
	// definition under the name shadow (quoted and schema-qualified,
	// ready to paste into SQL): a full CREATE TABLE, typically, with
	// index and constraint names that do not clash with the live table's
	// (in PostgreSQL they are schema-wide; the swap gives the shadow's
	// indexes the live ones' names where the two match).
	CreateShadow func(shadow string) []string
	// KeepForeignKeys copies the live table's own foreign keys onto the
	// shadow after CreateShadow and before Alter: a CREATE TABLE ... LIKE
	// copy has none. In MySQL the copies are named as pt-online-schema-
	// change names them (a leading underscore added, or removed), since
	// constraint names are schema-wide there and cannot be renamed.
	KeepForeignKeys bool
	// Alter are clauses applied to the shadow after it is created, each
	// as ALTER TABLE <shadow> <clause>.
	Alter []string
}

// Options tune a run.
type Options struct {
	// BatchSize is the number of rows each copy transaction moves. With
	// BatchTime set it is only the first batch's size. BatchSize and
	// BatchTime both 0 mean batches sized by DefaultBatchTime, starting
	// at DefaultBatchSize.
	BatchSize int
	// BatchTime, when set, sizes the copy's batches by time: each batch
	// is sized from the rows per second the last one achieved, so that
	// its copy statement and commit, what the application may wait for,
	// take about BatchTime whatever the rows' width and the server's
	// load.
	BatchTime time.Duration
	// CopyLanes is how many batches the copy moves at once, in lanes
	// that each take the key range's next batch when their last is done,
	// each on a database session of its own (more than MaxCopyLanes
	// means MaxCopyLanes). 0 means
	// DefaultCopyLanes for a table of at least 100,000 rows, one lane
	// for a smaller one. The copy runs in fewer when the table has fewer
	// rows, or when a lane's session cannot be had within two seconds
	// (db's connections all in use): it never waits for a connection
	// beyond the run's own.
	CopyLanes int
	// PreserveBackup keeps the old table, renamed to the backup name,
	// after the swap; otherwise it is dropped.
	PreserveBackup bool
	// LockTimeout bounds each wait for a lock the application does not
	// queue behind (a row's, in a copy batch; an index build's); 0 means
	// DefaultLockTimeout. A wait that times out is retried a few times
	// before the run fails.
	LockTimeout time.Duration
	// CutOverLockTimeout bounds each wait for a lock the application
	// queues behind (installing the triggers, the swap), and, on
	// PostgreSQL, the switch's replay under its lock (at least
	// minSwitchBudget); 0 means DefaultCutOverLockTimeout. MySQL counts
	// these waits in whole seconds: below one second Run does not wait at
	// all (NOWAIT).
	CutOverLockTimeout time.Duration
	// CutOverAttempts is how many times Run asks for such a lock, with a
	// growing pause between attempts, before the run fails; 0 means
	// DefaultCutOverAttempts.
	CutOverAttempts int
	// MaxLag, when set, pauses the copy before a batch while Lag says
	// the database is further behind than this, as gh-ost's throttling
	// does: the copy gives way to the application and to replicas.
	MaxLag time.Duration
	// Lag measures how far behind the database is: the longer of the
	// replication lag the engine reports and the time a one-row read of
	// the table takes on a session of the pool, when nil. Only asked
	// when MaxLag is set.
	Lag func(ctx context.Context) (time.Duration, error)
	// Progress, when set, is told where the run stands: at each phase and
	// after each copy batch. It runs on Run's goroutine.
	Progress func(Progress)
	// Verify, when set, checks the copy beyond the row count (a checksum,
	// say) before the swap. It runs in a read-only transaction whose
	// snapshot sees both tables at the same moment: the triggers keep
	// them equal in every committed state. table and shadow are quoted
	// and schema-qualified, columns quoted: the columns both share.
	Verify func(ctx context.Context, q database.Querier, table, shadow string, columns []string) error
}

// SyncStatus is where a run stands; the API's ShadowTableInfo.SyncStatus.
type SyncStatus string

const (
	StatusCreating SyncStatus = "creating"
	StatusCopying  SyncStatus = "copying"
	// StatusThrottled: the copy waits for the lag to fall under MaxLag.
	StatusThrottled SyncStatus = "throttled"
	// StatusIndexing: the copy is done; the shadow's secondary indexes,
	// left out during the copy, are being built.
	StatusIndexing SyncStatus = "indexing"
	// StatusReplaying: on PostgreSQL, the application's writes during the
	// copy, logged by the triggers, are being applied to the shadow.
	StatusReplaying SyncStatus = "replaying"
	StatusVerifying SyncStatus = "verifying"
	StatusSwapping  SyncStatus = "swapping"
	StatusDone      SyncStatus = "done"
)

// Progress is a run's position, shaped like the API's ShadowTableInfo.
type Progress struct {
	Shadow        string
	SyncStatus    SyncStatus
	RowsProcessed int64
	// TotalRows is the live table's row count when the copy started; rows
	// the application adds meanwhile reach the shadow through the
	// triggers, not the copy.
	TotalRows int64
	LastSync  time.Time
	// BatchSize is the number of rows the next copy batch moves.
	BatchSize int
	// Throttled is how long the copy has waited for the lag so far, and
	// ThrottleReason why it waits, while SyncStatus is StatusThrottled.
	Throttled      time.Duration
	ThrottleReason string
	// CutOverAttempts counts the attempts at the swap's lock so far;
	// LongestLock is the longest time the application queued behind
	// one of Run's locks so far.
	CutOverAttempts int
	LongestLock     time.Duration
}

// Result is what a finished run did.
type Result struct {
	// Schema and Table name the changed table.
	Schema, Table string
	// Shadow is the name the new definition was built under.
	Shadow string
	// Backup names the old table when it was kept, empty when dropped.
	Backup string
	// Rows is the number of rows the copy moved.
	Rows int64
	// CopyTime is how long the copy took, and CopyLanes in how many
	// lanes it ran.
	CopyTime  time.Duration
	CopyLanes int
	// LockTime is how long the swap held the lock that stops the
	// application's reads and writes of the table, from asking for it to
	// releasing it.
	LockTime time.Duration
	// LongestLock is the longest any attempt at a lock the application
	// queues behind took, from asking for it to releasing it: the swap's,
	// the triggers' installation, a failed attempt's wait; LongestLockStep
	// says which ("the swap", "installing the triggers").
	LongestLock     time.Duration
	LongestLockStep string
	// CutOverAttempts is how many attempts the swap took; more than one
	// when the application held the table when Run asked.
	CutOverAttempts int
	// Throttled is how long the copy waited for the lag to fall.
	Throttled time.Duration
	// IndexTime is how long building the secondary indexes left out
	// during the copy took.
	IndexTime time.Duration
	// BackupSize is the kept backup's size in bytes, where the engine
	// tells; 0 otherwise.
	BackupSize int64
}

// Run changes c.Table to the definition c creates, copying its rows
// through a shadow table; see the package documentation. On failure
// before the swap it removes what it created (triggers first, so the
// application's writes stop paying for them) and the live table is as it
// was. An error after the swap comes with the Result: the change is done.
func Run(ctx context.Context, e database.Engine, db *sql.DB, c Change, opts Options) (*Result, error) {
	r, err := newRunner(ctx, e, db, c, opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.preflight(ctx); err != nil {
		return nil, err
	}
	steps := []func(context.Context) error{r.createShadow, r.installTriggers, r.copyRows, r.buildIndexes, r.catchUp, r.verify}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, errors.Join(err, r.cleanUp())
		}
	}
	if err := r.swap(ctx); err != nil {
		return nil, errors.Join(err, r.cleanUp())
	}
	return r.res, r.finish(ctx)
}

// runner carries one run's state from step to step.
type runner struct {
	e    database.Engine
	d    dialect
	db   *sql.DB
	conn *sql.Conn
	c    Change
	opts Options
	n    names
	// pk is the live table's primary key; columns are the columns the
	// live table and the shadow share, the ones the copy moves.
	pk, columns []string
	// created is set once the run creates the shadow: its clean-up may
	// drop the shadow even if it never got its marker.
	created bool
	// deferred are the shadow's secondary indexes, dropped before the
	// copy and built after it: one sorted build is cheaper than
	// maintaining them row by row.
	deferred []deferredIndex
	// logged: the triggers log the keys the application writes until the
	// switch (dialect.logsWrites), settled once the shadow is built.
	logged bool
	// clausesAt is when the change's clauses began on the shadow.
	clausesAt time.Time
	// spec is the swap done, for finish.
	spec     swapSpec
	progress Progress
	res      *Result
}

// newRunner opens the dedicated session a run works on and fills in the
// defaults.
func newRunner(ctx context.Context, e database.Engine, db *sql.DB, c Change, opts Options) (*runner, error) {
	d, err := dialectFor(e)
	if err != nil {
		return nil, err
	}
	if c.CreateShadow == nil {
		return nil, errors.New("shadow-table change: CreateShadow is required")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
		if opts.BatchTime <= 0 {
			opts.BatchTime = DefaultBatchTime
		}
	}
	opts.CopyLanes = min(max(opts.CopyLanes, 0), MaxCopyLanes)
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.CutOverLockTimeout <= 0 {
		opts.CutOverLockTimeout = DefaultCutOverLockTimeout
	}
	if opts.CutOverAttempts <= 0 {
		opts.CutOverAttempts = DefaultCutOverAttempts
	}
	conn, err := session(ctx, d, db, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	n, err := resolveNames(ctx, d, conn, c)
	if err != nil {
		discard(conn)
		return nil, err
	}
	return &runner{
		e: e, d: d, db: db, conn: conn, c: c, opts: opts, n: n,
		progress: Progress{Shadow: n.shadow},
		res:      &Result{Schema: n.schema, Table: n.table, Shadow: n.shadow},
	}, nil
}

func (r *runner) close() { discard(r.conn) }

// session takes a connection of its own from db and prepares it: the
// settings (strict SQL mode, lock timeouts) must hold for every statement
// of the run and must not leak back into db's pool (see discard).
func session(ctx context.Context, d dialect, db *sql.DB, lockTimeout time.Duration) (*sql.Conn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("shadow-table change: taking a connection: %w", err)
	}
	if err := d.prepareSession(ctx, conn, lockTimeout); err != nil {
		discard(conn)
		return nil, fmt.Errorf("shadow-table change: preparing the session: %w", err)
	}
	return conn, nil
}

// discard closes conn's session instead of returning it to the pool,
// where its settings would surprise the next user.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// resolveNames fills in the schema and derives the names of the run.
func resolveNames(ctx context.Context, d dialect, q database.Querier, c Change) (names, error) {
	if c.Table == "" {
		return names{}, errors.New("shadow-table change: Table is required")
	}
	schema := c.Schema
	if schema == "" {
		var err error
		if schema, err = d.CurrentSchema(ctx, q); err != nil {
			return names{}, fmt.Errorf("shadow-table change: reading the current schema: %w", err)
		}
	}
	return namesFor(schema, c.Table, d.IdentLimit()), nil
}

// qualified is the quoted, schema-qualified name of a table of the run.
func (r *runner) qualified(name string) string {
	return r.e.Qualify(r.n.schema, name)
}

// report tells opts.Progress where the run stands.
func (r *runner) report(status SyncStatus) {
	r.progress.SyncStatus = status
	r.progress.LastSync = time.Now()
	if r.opts.Progress != nil {
		r.opts.Progress(r.progress)
	}
}

// cleanUp removes what a failed run created, with a context and a session
// of its own: a cancelled statement may have broken the run's, which it
// closes first, so that the clean-up's needs no more connections than
// the run had (the operator's connection limit may allow no more).
func (r *runner) cleanUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	discard(r.conn)
	conn, err := session(ctx, r.d, r.db, r.opts.LockTimeout)
	if err == nil {
		err = abort(ctx, r.d, conn, r.n, abortBounds(r.lockBounds()), r.created)
		discard(conn)
	}
	if err != nil {
		left := "the shadow table " + r.n.shadow
		if r.logged {
			for _, t := range r.d.logTables(r.n) {
				left += ", " + t.name
			}
			left += ","
		}
		return fmt.Errorf("cleaning up after the failed run: %s and the triggers that fill it from %s may be left behind, "+
			"until the next run starts over (or Abort removes them): %w", left, r.n.table, err)
	}
	return nil
}
