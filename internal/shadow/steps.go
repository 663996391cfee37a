package shadow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// preflight refuses, before anything changes, a table the run cannot
// change safely, and clears what an earlier, crashed run of the same
// change left.
func (r *runner) preflight(ctx context.Context) error {
	table := r.qualified(r.n.table)
	live, err := describe(ctx, r.d, r.conn, r.n.schema, r.n.table)
	switch {
	case err != nil:
		return fmt.Errorf("inspecting %s: %w", table, err)
	case live == nil || !live.isTable:
		return refuse(table, ErrNoTable)
	case len(live.pk) == 0:
		return refuse(table, ErrNoPrimaryKey)
	}
	r.pk = live.pk
	checks := []struct {
		reason error
		list   func(context.Context, database.Querier, names) ([]string, error)
	}{
		{ErrReferenced, r.d.referencedBy},
		{ErrUnsupported, r.d.obstacles},
		{ErrNameInUse, r.namesInUse},
	}
	for _, c := range checks {
		found, err := c.list(ctx, r.conn, r.n)
		if err != nil {
			return fmt.Errorf("inspecting %s: %w", table, err)
		}
		if len(found) > 0 {
			return refuse(table, c.reason, found...)
		}
	}
	// A shadow of ours is what a crashed run left: start over.
	if err := abort(ctx, r.d, r.conn, r.n, abortBounds(r.lockBounds()), false); err != nil {
		return fmt.Errorf("removing what an earlier run left: %w", err)
	}
	return nil
}

// namesInUse lists the names the run needs that hold something it may not
// replace: anything but a shadow of this table's, and any backup (one an
// earlier run kept is the user's until DropBackup or SwapBack).
func (r *runner) namesInUse(ctx context.Context, q database.Querier, n names) ([]string, error) {
	var used []string
	shadow, err := describe(ctx, r.d, q, n.schema, n.shadow)
	if err != nil {
		return nil, err
	}
	if shadow != nil && !shadow.markedAs(roleShadow, n.table) {
		used = append(used, n.shadow+" is not a shadow table of kube-shift's")
	}
	backup, err := describe(ctx, r.d, q, n.schema, n.backup)
	switch {
	case err != nil:
		return nil, err
	case backup.markedAs(roleBackup, n.table):
		used = append(used, n.backup+" is the backup an earlier run kept: drop it (DropBackup) or swap it back (SwapBack) first")
	case backup != nil:
		used = append(used, n.backup+" is not a backup table of kube-shift's")
	}
	others, err := r.d.foreignNames(ctx, q, n)
	return append(used, others...), err
}

// createShadow creates the shadow with the new definition, marks it as
// kube-shift's and gives it the live table's access rights. Where DDL is
// transactional it all commits at once; elsewhere a failure drops what
// was created (the name was free when the run began).
func (r *runner) createShadow(ctx context.Context) error {
	r.report(StatusCreating)
	r.created = true
	create := func(q database.Querier, clock *lockClock) error {
		if err := r.buildShadow(ctx, q, clock); err != nil {
			return fmt.Errorf("creating the shadow table %s: %w", r.n.shadow, err)
		}
		if err := r.readColumns(ctx, q); err != nil {
			return err
		}
		deferred, err := r.d.deferIndexes(ctx, q, r.n)
		if err != nil {
			return fmt.Errorf("creating the shadow table %s: %w", r.n.shadow, err)
		}
		r.deferred = deferred
		if r.logged, err = r.d.logsWrites(ctx, q, r.n); err != nil {
			return fmt.Errorf("inspecting the shadow table %s: %w", r.n.shadow, err)
		}
		if len(r.deferredAt(afterSwitch)) > 0 {
			clock.lockedSince(r.clausesAt)
		}
		return nil
	}
	if !r.e.TransactionalDDL() {
		return create(r.conn, &lockClock{})
	}
	// One transaction, attempted as the swap is: adding (and, for the
	// copy, dropping) the shadow's foreign keys locks the tables they
	// reference, which the application queues behind, from the first key
	// on (see buildShadow); without one nothing of the application's is
	// locked. A failed attempt counts whole.
	_, err := r.cutOver(ctx, "the shadow's foreign keys", nil, func(clock *lockClock) error {
		start := time.Now()
		err := inTx(ctx, r.conn, nil, func(tx *sql.Tx) error { return create(tx, clock) })
		if err != nil {
			clock.lockedSince(start)
		}
		return err
	})
	return err
}

// buildShadow runs the change's statements and marks the result. clock
// times, from the first, the copies of the live table's foreign keys,
// which lock the tables they reference (see copyForeignKeys); clausesAt
// is when the change's clauses began, for createShadow to time them too
// when the shadow has a foreign key after them (adding one locks the
// table it references).
func (r *runner) buildShadow(ctx context.Context, q database.Querier, clock *lockClock) error {
	shadow := r.qualified(r.n.shadow)
	if err := execAll(ctx, q, r.c.CreateShadow(shadow)); err != nil {
		return err
	}
	if err := r.d.inheritTablespace(ctx, q, r.n); err != nil {
		return err
	}
	// Marked at once, so that a crash from here on leaves a table Abort
	// knows; marked again at the end, in case Alter set a comment.
	if err := r.markShadow(ctx, q); err != nil {
		return err
	}
	if r.c.KeepForeignKeys {
		if err := r.copyForeignKeys(ctx, q, clock); err != nil {
			return err
		}
	}
	r.clausesAt = time.Now()
	for _, clause := range r.c.Alter {
		if err := r.alterShadow(ctx, q, clause); err != nil {
			return fmt.Errorf("ALTER TABLE %s %s: %w", r.n.shadow, clause, err)
		}
	}
	if err := r.markShadow(ctx, q); err != nil {
		return err
	}
	return r.d.inheritAccess(ctx, q, r.n)
}

// copyForeignKeys adds the live table's foreign keys to the shadow. Where
// DDL is transactional that is part of createShadow's transaction, which
// cutOver attempts whole; clock times it from here. Elsewhere the
// statement commits on its own, and is attempted as the swap is: a
// referenced table the application holds makes the copy wait, not the
// application.
func (r *runner) copyForeignKeys(ctx context.Context, q database.Querier, clock *lockClock) error {
	stmts, err := r.d.foreignKeyCopies(ctx, q, r.n)
	if err != nil || len(stmts) == 0 {
		return err
	}
	if r.e.TransactionalDDL() {
		clock.locking()
		err = execAll(ctx, q, stmts)
	} else {
		_, err = r.cutOver(ctx, "the shadow's foreign keys", nil, func(clock *lockClock) error {
			clock.locking()
			return execAll(ctx, q, stmts)
		})
	}
	if err != nil {
		return fmt.Errorf("adding the foreign keys of %s to %s: %w", r.n.table, r.n.shadow, err)
	}
	return nil
}

// alterShadow runs one of the change's clauses on the shadow. Where DDL
// is not transactional, a clause that may add a foreign key (it says
// REFERENCES, which every foreign key's syntax has) commits on its own
// and locks the table it references, which the application queues
// behind: it is attempted as the swap is, as the copies of the live
// table's keys are. Any other clause locks nothing but the shadow, the
// run's own.
func (r *runner) alterShadow(ctx context.Context, q database.Querier, clause string) error {
	stmt := "ALTER TABLE " + r.qualified(r.n.shadow) + " " + clause
	if r.e.TransactionalDDL() || !strings.Contains(strings.ToUpper(clause), "REFERENCES") {
		_, err := q.ExecContext(ctx, stmt)
		return err
	}
	_, err := r.cutOver(ctx, "a foreign key of the shadow", nil, func(clock *lockClock) error {
		clock.locking()
		_, err := q.ExecContext(ctx, stmt)
		return err
	})
	return err
}

// markShadow puts the shadow marker in front of the shadow's comment,
// unless it is there.
func (r *runner) markShadow(ctx context.Context, q database.Querier) error {
	info, err := describe(ctx, r.d, q, r.n.schema, r.n.shadow)
	if err != nil {
		return err
	}
	if info == nil || !info.isTable {
		return fmt.Errorf("the statements did not create a table named %s", r.n.shadow)
	}
	if isMarked(info.comment, roleShadow, r.n.table) {
		return nil
	}
	return r.d.setComment(ctx, q, r.n.schema, r.n.shadow, mark(roleShadow, r.n.table, info.comment))
}

// readColumns settles which columns the copy and the triggers move (those
// both tables have, except the shadow's generated ones) and checks that
// rows can be matched by the same key in both.
func (r *runner) readColumns(ctx context.Context, q database.Querier) error {
	live, err := describe(ctx, r.d, q, r.n.schema, r.n.table)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", r.n.table, err)
	}
	shadow, err := describe(ctx, r.d, q, r.n.schema, r.n.shadow)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", r.n.shadow, err)
	}
	if !slices.Equal(live.pk, shadow.pk) {
		return refuse(r.qualified(r.n.table), ErrPrimaryKeyChanged,
			fmt.Sprintf("the table's is (%s), the new definition's (%s)", quoteList(r.e.Quote, live.pk), quoteList(r.e.Quote, shadow.pk)))
	}
	changes, err := keyTypeChanges(ctx, r.d, q, r.n, live.pk)
	if err != nil {
		return fmt.Errorf("reading the key's types: %w", err)
	}
	if len(changes) > 0 {
		return refuse(r.qualified(r.n.table), ErrPrimaryKeyChanged, fmt.Sprintf(
			"the key's type changes (%s) in a way that may not keep every value: the triggers could miss a row the application changes or deletes; change it with the transactional strategy",
			strings.Join(changes, ", ")))
	}
	writable := map[string]bool{}
	for _, c := range shadow.columns {
		writable[c.Name] = !c.Generated
	}
	r.columns = nil
	for _, c := range live.columns {
		if writable[c.Name] {
			r.columns = append(r.columns, c.Name)
		}
	}
	return nil
}

// installTriggers starts mirroring the application's writes into the
// shadow. It comes before the copy: a row written from now on reaches the
// shadow through a trigger, a row written before through the copy.
// The triggers' installation takes a lock the application queues behind,
// so it is attempted as the swap is (see cutOver).
func (r *runner) installTriggers(ctx context.Context) error {
	_, err := r.cutOver(ctx, "installing the triggers", nil, func(clock *lockClock) error {
		return r.d.installTriggers(ctx, r.conn, r.n, r.pk, r.columns, r.logged, clock.locking)
	})
	if err != nil {
		return fmt.Errorf("installing the sync triggers on %s: %w", r.n.table, err)
	}
	return nil
}

// copyRows copies the live rows in primary-key order, in lanes: up to
// opts.CopyLanes sessions, each taking the next key range from a shared
// cursor, so that the server works on each at once (a process or a thread
// per session; the engine's own ALTER TABLE uses one). Each batch is one
// short transaction, an INSERT ... SELECT over its key range: the rows
// never leave the server. Batches are sized by time
// when Options ask for it, and held back while the lag is over MaxLag.
// Progress is reported, and the lag measured, on Run's goroutine.
func (r *runner) copyRows(ctx context.Context) error {
	if err := r.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+r.qualified(r.n.table)).Scan(&r.progress.TotalRows); err != nil {
		return fmt.Errorf("counting the rows of %s: %w", r.n.table, err)
	}
	r.progress.BatchSize = r.opts.BatchSize
	r.report(StatusCopying)
	start := time.Now()
	span, err := r.keySpan(ctx)
	if err != nil {
		return err
	}
	lanes := r.lanes(ctx)
	defer func() {
		for _, l := range lanes[1:] {
			discard(l.conn)
		}
	}()
	r.res.CopyLanes = len(lanes)
	g := newLaneGroup(ctx, len(lanes))
	defer g.stopThrottle()
	for _, l := range lanes {
		go g.run(func() error { return r.copyLane(ctx, l, g, span) })
	}
	for running := len(lanes); running > 0; {
		select {
		case ev := <-g.events:
			if ev.gate != nil {
				ev.gate <- r.throttle(g.throttleCtx)
				continue
			}
			r.progress.RowsProcessed += ev.rows
			r.progress.BatchSize = ev.next
			if !g.halted.Load() {
				r.report(StatusCopying) // not once the copy is failing
			}
		case <-g.ended:
			running--
		}
	}
	if g.failure != nil {
		return fmt.Errorf("copying %s into %s: %w", r.n.table, r.n.shadow, g.failure)
	}
	r.res.Rows = r.progress.RowsProcessed
	r.res.CopyTime = time.Since(start)
	return nil
}

// maxLanes is the most lanes the copy may run in: the triggers, installed
// before the copy counts the rows, make room for as many.
func (r *runner) maxLanes() int {
	if r.opts.CopyLanes == 0 {
		return DefaultCopyLanes
	}
	return r.opts.CopyLanes
}

// minLaneRows is the fewest rows a table has for its copy to run in more
// than one lane: below, finding where the lanes part costs more than a
// second lane gains.
const minLaneRows = 100_000

// laneSessionWait bounds the wait for a lane's session: where every
// connection the database allows is in use (a connection limit the
// operator shares among the migrations on a target), the copy runs in
// fewer lanes rather than wait.
const laneSessionWait = 2 * time.Second

// lane is one of the copy's workers, copying batch after batch on
// session conn.
type lane struct {
	index int
	conn  *sql.Conn
}

// laneEvent is what a lane tells copyRows: a batch copied (rows, and the
// next batch's size), or, with gate set, that it waits to be told
// whether the lag lets its next batch go.
type laneEvent struct {
	rows int64
	next int
	gate chan error
}

// laneGroup is what the lanes of one copy share with copyRows.
type laneGroup struct {
	events chan laneEvent
	ended  chan struct{}
	// halted is set when a lane fails: the others stop after the batch
	// they are running. Cancelled in the middle of a statement instead,
	// a lane would leave the server running it, holding its locks, while
	// the clean-up drops the triggers.
	halted atomic.Bool
	// throttleCtx is cancelled then too: a throttled copy learns of the
	// failure without waiting for the lag to fall.
	throttleCtx  context.Context
	stopThrottle context.CancelFunc
	once         sync.Once
	// failure is the first lane's error; read once every lane has ended.
	failure error
	// cursor is the key the last batch any lane took ends at (nil before
	// the first), exhausted once a lane found no rows after it: each lane
	// takes the next batch from it, so that the lanes end together
	// whatever their batches cost, and the batches never overlap.
	cursor struct {
		sync.Mutex
		last      []any
		exhausted bool
	}
}

func newLaneGroup(ctx context.Context, lanes int) *laneGroup {
	g := &laneGroup{events: make(chan laneEvent), ended: make(chan struct{}, lanes)}
	g.throttleCtx, g.stopThrottle = context.WithCancel(ctx)
	return g
}

// run runs one lane's copy and says when it has ended. A panic fails the
// copy like an error: the lanes run on goroutines of their own, where it
// would end the process.
func (g *laneGroup) run(copyLane func() error) {
	defer func() { g.ended <- struct{}{} }()
	defer func() {
		if p := recover(); p != nil {
			g.fail(fmt.Errorf("a copy lane panicked: %v", p))
		}
	}()
	if err := copyLane(); err != nil {
		g.fail(err)
	}
}

// fail records the copy's failure, the first only (the others' follow
// from it), and halts the other lanes.
func (g *laneGroup) fail(err error) {
	g.once.Do(func() {
		g.failure = err
		g.halted.Store(true)
		g.stopThrottle()
	})
}

// lanes are the copy's lanes: the first works on the run's session,
// each other on a session of its own (the caller discards them). Unless
// Options set the count, a table smaller than minLaneRows is copied in
// one lane; never more lanes than rows.
func (r *runner) lanes(ctx context.Context) []lane {
	count := int64(r.maxLanes())
	if r.opts.CopyLanes == 0 && r.progress.TotalRows < minLaneRows {
		count = 1
	}
	count = min(count, max(r.progress.TotalRows, 1))
	lanes := []lane{{conn: r.conn}}
	for i := 1; i < int(count); i++ {
		conn, err := r.laneSession(ctx)
		if err != nil {
			break // no connection to spare: fewer lanes
		}
		lanes = append(lanes, lane{index: i, conn: conn})
	}
	return lanes
}

// laneSession is a session for a lane, or an error when none comes
// within laneSessionWait.
func (r *runner) laneSession(ctx context.Context) (*sql.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, laneSessionWait)
	defer cancel()
	return session(ctx, r.d, r.db, r.opts.LockTimeout)
}

// copyLane copies batch after batch, each the next one g's cursor has,
// telling copyRows of each and, with MaxLag set, asking it before each;
// it stops early, without an error, when another lane has failed.
func (r *runner) copyLane(ctx context.Context, l lane, g *laneGroup, span *keySpan) error {
	send := func(ev laneEvent) error {
		select {
		case g.events <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	sizer := batchSizer{rows: r.opts.BatchSize, target: r.opts.BatchTime}
	for !g.halted.Load() {
		if r.opts.MaxLag > 0 {
			gate := make(chan error, 1)
			if err := send(laneEvent{gate: gate}); err != nil {
				return err
			}
			if err := <-gate; err != nil {
				return err
			}
		}
		last, bound, rows, err := r.takeBatch(ctx, l.conn, g, span, sizer.size())
		if err != nil {
			return fmt.Errorf("finding the next batch: %w", cancelled(ctx, err))
		}
		if rows == 0 {
			return nil
		}
		copied, held, err := r.copyBatch(ctx, l, last, bound, false)
		if r.d.duplicate(err) {
			// A trigger wrote a row of the range after the batch listed
			// them: this time the batch checks every row.
			copied, held, err = r.copyBatch(ctx, l, last, bound, true)
		}
		if err != nil {
			return cancelled(ctx, err)
		}
		// A span's batch is sized in keys, and holds the rows it copied.
		sizer.observe(rows, held)
		if span != nil {
			rows = copied
		}
		if err := send(laneEvent{rows: rows, next: sizer.size()}); err != nil {
			return err
		}
	}
	return nil
}

// cancelled is ctx's error in place of err once ctx is done: the MySQL
// driver may report a statement the cancellation cut short as a bad
// connection, which would hide why the copy stopped.
func cancelled(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// takeBatch takes the next batch of up to size rows from g's cursor,
// finding its bound on conn, or, with span set, up to size keys: the rows
// after last up to bound; 0 rows (keys) when the copy is done.
func (r *runner) takeBatch(ctx context.Context, conn *sql.Conn, g *laneGroup, span *keySpan, size int) (last, bound []any, rows int64, err error) {
	c := &g.cursor
	c.Lock()
	defer c.Unlock()
	if c.exhausted {
		return nil, nil, 0, nil
	}
	if span != nil {
		bound, rows = span.take(c.last, size)
	} else {
		bound, rows, err = r.nextBound(ctx, conn, c.last, size)
	}
	if err != nil || rows == 0 {
		c.exhausted = err == nil
		return nil, nil, 0, err
	}
	last, c.last = c.last, bound
	return last, bound, rows, nil
}

// maxMirrored is the most rows the triggers wrote in a batch's range that
// the batch skips by listing their keys; with more it checks every row
// it copies for one (see dialect.copyRows), which costs on every row.
const maxMirrored = 64

// copyBatch copies the live rows after last up to bound in one
// transaction. Rows of the range the triggers already wrote (the
// application changed them ahead of the copy) are newer than the live
// table's as the batch reads it; the batch lists them first and leaves
// them out, unless keepExisting or there are more than maxMirrored.
//
// It returns the rows its statement wrote (the server's count; where
// keepExisting has it skip rows, fewer than the range holds) and how long
// the batch held what the application may wait for:
// from its copy statement to its commit (the rows' locks; on MariaDB the
// shadow's AUTO-INC lock, to the statement's end). Batches are sized by
// that time, not by the round trips before it, which hold nothing and,
// on a busy server, would shrink the batches until round trips were all
// they did.
func (r *runner) copyBatch(ctx context.Context, l lane, last, bound []any, keepExisting bool) (int64, time.Duration, error) {
	where, args := r.d.keyRange(r.pk, last, bound)
	// READ COMMITTED: MySQL's default REPEATABLE READ would have the
	// locking read lock the gaps between the rows too, where the
	// triggers' inserts then deadlock with it; the batch needs the rows
	// it reads locked, nothing more. PostgreSQL's default already.
	opts := &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	var copyStart time.Time
	var copied int64
	err := withRetries(ctx, r.d, func() error {
		return inTx(ctx, l.conn, opts, func(tx *sql.Tx) error {
			if err := r.d.beginBatch(ctx, tx, r.n, l.index, r.opts.LockTimeout); err != nil {
				return err
			}
			copyWhere, copyArgs, keep := where, args, keepExisting
			if !keep && !r.logged {
				mirrored, err := r.mirrored(ctx, tx, where, args)
				if err != nil {
					return err
				}
				if keep = len(mirrored) > maxMirrored; !keep && len(mirrored) > 0 {
					notIn, notInArgs := r.d.keyNotIn(r.pk, mirrored, len(args)+1)
					copyWhere, copyArgs = where+" AND "+notIn, append(slices.Clone(args), notInArgs...)
				}
			}
			copyStart = time.Now()
			res, err := tx.ExecContext(ctx, r.d.copyRows(r.n, r.pk, r.columns, copyWhere, r.logged, keep), copyArgs...)
			if err != nil {
				return err
			}
			copied, err = res.RowsAffected()
			return err
		})
	})
	return copied, time.Since(copyStart), err
}

// mirrored lists the keys of the shadow's rows matching where, up to one
// more than maxMirrored: the rows the triggers wrote in a batch's range.
func (r *runner) mirrored(ctx context.Context, tx *sql.Tx, where string, args []any) ([][]any, error) {
	pk := quoteList(r.e.Quote, r.pk)
	rows, err := tx.QueryContext(ctx, "SELECT "+pk+" FROM "+r.qualified(r.n.shadow)+" WHERE "+where+
		" ORDER BY "+pk+" LIMIT "+strconv.Itoa(maxMirrored+1), args...)
	if err != nil {
		return nil, fmt.Errorf("listing the rows the triggers wrote: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var keys [][]any
	for rows.Next() {
		key := make([]any, len(r.pk))
		dest := make([]any, len(key))
		for i := range key {
			dest[i] = &key[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, rows.Err()
}

// buildIndexes builds the indexes deferIndexes left out of the copy. The
// triggers keep writing to the shadow meanwhile, or, where they log the
// application's writes (dialect.logsWrites), the shadow is still the
// run's alone.
func (r *runner) buildIndexes(ctx context.Context) error {
	if len(r.deferred) == 0 {
		return nil
	}
	r.report(StatusIndexing)
	start := time.Now()
	err := r.d.buildIndexes(ctx, r.conn, r.n, r.deferredAt(afterCopy))
	if restoreErr := r.d.prepareSession(context.WithoutCancel(ctx), r.conn, r.opts.LockTimeout); restoreErr != nil {
		err = errors.Join(err, fmt.Errorf("restoring the session's lock waits: %w", restoreErr))
	}
	if err != nil {
		return fmt.Errorf("building the indexes of %s: %w", r.n.shadow, err)
	}
	r.res.IndexTime += time.Since(start)
	return nil
}

// deferredAt are the deferred indexes built at stage.
func (r *runner) deferredAt(stage buildStage) []deferredIndex {
	var out []deferredIndex
	for _, idx := range r.deferred {
		if idx.stage == stage {
			out = append(out, idx)
		}
	}
	return out
}

// replayTail: once a replay applies fewer entries, the rest is applied
// under the lock that switches the triggers.
const replayTail = 100

// minSwitchBudget is the least time the switch may hold its lock to apply
// the rest of the log, however short the cut-over's lock wait.
const minSwitchBudget = 10 * time.Millisecond

// replayStall: after this many replays in a row none smaller than the
// smallest before them, the replays have gone as far as the
// application's writes let them, and the switch applies the rest under
// its lock (about one replay's worth), instead of replaying for as long
// as the application writes that fast.
const replayStall = 3

// replayRounds decides when the replays before the switch are done.
type replayRounds struct {
	smallest, stalled int
}

// done takes the number of entries a replay applied and says whether to
// switch now.
func (p *replayRounds) done(applied int) bool {
	if applied < replayTail {
		return true
	}
	if p.smallest == 0 || applied < p.smallest {
		p.smallest, p.stalled = applied, 0
		return false
	}
	p.stalled++
	return p.stalled >= replayStall
}

// catchUp applies, where the triggers log the application's writes
// (dialect.logsWrites), what they logged during the copy and the index
// builds. The first replay leaves the shadow as the live table was at one
// moment, on which the unique and exclusion indexes are built; replays
// follow until little is left or they stop shrinking, then the rest and the switch to triggers
// that write the shadow, under a lock that stops the application's
// writes, attempted as the swap is (see cutOver), with replays before
// each attempt; then the foreign keys, under a short lock too (adding one
// locks the shadow, which the application's writes now reach, and the
// referenced table), validated after.
func (r *runner) catchUp(ctx context.Context) error {
	if !r.logged {
		return nil
	}
	r.report(StatusReplaying)
	if _, err := r.replay(ctx); err != nil {
		return err
	}
	if unique := r.deferredAt(afterReplay); len(unique) > 0 {
		start := time.Now()
		if err := r.d.buildIndexes(ctx, r.conn, r.n, unique); err != nil {
			return fmt.Errorf("building the indexes of %s: %w", r.n.shadow, err)
		}
		r.res.IndexTime += time.Since(start)
	}
	replays := func() error {
		var rounds replayRounds
		for {
			applied, err := r.replay(ctx)
			if err != nil || rounds.done(applied) {
				return err
			}
		}
	}
	// An optimisation: a log left large makes the switch fail its budget.
	if err := r.d.compactLog(ctx, r.conn, r.n); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	steps, err := r.d.prepareSwitch(ctx, r.conn, r.n, r.pk, r.columns, max(r.opts.CutOverLockTimeout, minSwitchBudget))
	if err != nil {
		return fmt.Errorf("preparing the triggers on %s to write %s: %w", r.n.table, r.n.shadow, err)
	}
	// Where DDL is not transactional (MySQL) the switch applies none of
	// the log, drainLog does after it, and is made in steps, after each of
	// which the application's writes may reach the shadow directly: a
	// replay that locks nothing could then undo one with an older read.
	// The replays come before the first step's first attempt only there.
	prepare := replays
	if !r.e.TransactionalDDL() {
		if err := replays(); err != nil {
			return err
		}
		prepare = nil
	}
	rr := &sql.TxOptions{Isolation: sql.LevelRepeatableRead}
	for _, step := range steps {
		_, err = r.cutOver(ctx, "switching the triggers to write the shadow", prepare, func(clock *lockClock) error {
			return inTx(ctx, r.conn, rr, func(tx *sql.Tx) error {
				return step(ctx, tx, clock.locking)
			})
		})
		if err != nil {
			return fmt.Errorf("switching the triggers on %s to write %s: %w", r.n.table, r.n.shadow, err)
		}
	}
	if err := r.d.drainLog(ctx, r.conn, r.n, r.pk, r.columns); err != nil {
		return fmt.Errorf("applying the writes to %s logged before the triggers wrote %s: %w", r.n.table, r.n.shadow, err)
	}
	// Left in place, the log goes with the triggers in the swap.
	_ = withRetries(ctx, r.d, func() error { return r.d.dropLog(ctx, r.conn, r.n) })
	keys := r.deferredAt(afterSwitch)
	if len(keys) == 0 {
		return nil
	}
	_, err = r.cutOver(ctx, "the foreign keys after the switch", nil, func(clock *lockClock) error {
		return inTx(ctx, r.conn, nil, func(tx *sql.Tx) error {
			clock.locking()
			for _, fk := range keys {
				if err := execAll(ctx, tx, fk.create); err != nil {
					return err
				}
			}
			return nil
		})
	})
	for _, fk := range keys {
		if err == nil {
			err = execAll(ctx, r.conn, fk.then)
		}
	}
	if err != nil {
		return fmt.Errorf("adding the foreign keys of %s: %w", r.n.shadow, err)
	}
	return nil
}

// replay applies what the log holds (see dialect.replay).
func (r *runner) replay(ctx context.Context) (int, error) {
	applied, err := r.d.replay(ctx, r.conn, r.n, r.pk, r.columns)
	if err != nil {
		return 0, fmt.Errorf("applying the writes to %s logged during the copy: %w", r.n.table, err)
	}
	return applied, nil
}

// nextBound finds the key of the last row of the next batch (after last)
// and how many rows the batch has; 0 rows when the copy is done. Rows the application adds beyond the table's end later reach the
// shadow through the triggers. The size-th row's key is read with OFFSET,
// an index scan that stops there: selecting the batch's keys and sorting
// them to find the last, as gh-ost does, took a quarter of a small
// batch's time on MariaDB. Only the table's last batch, with fewer rows,
// is counted.
func (r *runner) nextBound(ctx context.Context, conn *sql.Conn, last []any, size int) ([]any, int64, error) {
	where, args := r.d.keyRange(r.pk, last, nil)
	pk := quoteList(r.e.Quote, r.pk)
	from := " FROM " + r.qualified(r.n.table) + " WHERE " + where
	bound := make([]any, len(r.pk))
	dest := make([]any, len(r.pk), len(r.pk)+1)
	for i := range bound {
		dest[i] = &bound[i]
	}
	err := conn.QueryRowContext(ctx, "SELECT "+pk+from+" ORDER BY "+pk+" LIMIT 1 OFFSET "+strconv.Itoa(size-1), args...).
		Scan(dest...)
	if !errors.Is(err, sql.ErrNoRows) {
		return bound, int64(size), err
	}
	desc := make([]string, len(r.pk))
	for i, c := range r.pk {
		desc[i] = r.e.Quote(c) + " DESC"
	}
	var rows int64
	err = conn.QueryRowContext(ctx, "SELECT "+pk+", COUNT(*) OVER ()"+from+" ORDER BY "+strings.Join(desc, ", ")+" LIMIT 1", args...).
		Scan(append(dest, &rows)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	return bound, rows, err
}

// verify checks, in one snapshot of both tables, that the shadow holds as
// many rows as the live table, then runs opts.Verify in the same snapshot.
func (r *runner) verify(ctx context.Context) error {
	r.report(StatusVerifying)
	table, shadow := r.qualified(r.n.table), r.qualified(r.n.shadow)
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	return inTx(ctx, r.conn, opts, func(tx *sql.Tx) error {
		var live, copied int64
		if err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM "+table+"), (SELECT COUNT(*) FROM "+shadow+")").
			Scan(&live, &copied); err != nil {
			return fmt.Errorf("verifying the shadow of %s: %w", r.n.table, err)
		}
		if live != copied {
			return &VerifyError{Table: table, Live: live, Shadow: copied}
		}
		if r.opts.Verify == nil {
			return nil
		}
		cols := make([]string, len(r.columns))
		for i, c := range r.columns {
			cols[i] = r.e.Quote(c)
		}
		if err := r.opts.Verify(ctx, tx, table, shadow, cols); err != nil {
			return fmt.Errorf("verifying the shadow of %s: %w", r.n.table, err)
		}
		return nil
	})
}

// swap puts the shadow in the live table's place under one short lock,
// attempted as cutOver says: while the application holds the table (a
// long query, a long transaction) the swap waits, not the application.
func (r *runner) swap(ctx context.Context) error {
	r.report(StatusSwapping)
	spec, err := r.swapSpec(ctx)
	if err != nil {
		return err
	}
	attempts, err := r.cutOver(ctx, "the swap", nil, func(clock *lockClock) error {
		clock.locking()
		held, err := r.d.swap(ctx, r.conn, spec)
		r.res.LockTime = held
		r.progress.CutOverAttempts++
		if err != nil {
			// Status shows the swap waiting for the application.
			r.report(StatusSwapping)
		}
		return err
	})
	r.res.CutOverAttempts = attempts
	if err != nil {
		return fmt.Errorf("swapping %s and %s: %w", r.n.table, r.n.shadow, err)
	}
	r.spec = spec
	return nil
}

// swapSpec describes the run's swap: the shadow comes in, the live table
// goes aside as the backup.
func (r *runner) swapSpec(ctx context.Context) (swapSpec, error) {
	live, err := describe(ctx, r.d, r.conn, r.n.schema, r.n.table)
	if err != nil {
		return swapSpec{}, err
	}
	shadow, err := describe(ctx, r.d, r.conn, r.n.schema, r.n.shadow)
	if err != nil {
		return swapSpec{}, err
	}
	return swapSpec{
		n:    r.n,
		live: r.n.table, incoming: r.n.shadow, aside: r.n.backup, asideRole: roleBackup,
		liveComment: userComment(live.comment), incomingComment: userComment(shadow.comment),
	}, nil
}

// finish completes a swapped run: what the engine does outside the swap's
// lock, then the backup kept (and measured) or dropped. An error here
// leaves the change in place.
func (r *runner) finish(ctx context.Context) error {
	if err := r.d.settle(ctx, r.conn, r.spec); err != nil {
		return fmt.Errorf("%s was changed, but finishing the swap failed: %w", r.n.table, err)
	}
	if r.opts.PreserveBackup {
		r.res.Backup = r.n.backup
		size, err := r.d.TableSize(ctx, r.conn, r.n.schema, r.n.backup)
		if err != nil {
			return fmt.Errorf("%s was changed, but measuring the backup %s failed: %w", r.n.table, r.n.backup, err)
		}
		r.res.BackupSize = size
	} else if _, err := r.conn.ExecContext(ctx, "DROP TABLE "+r.qualified(r.n.backup)); err != nil {
		return fmt.Errorf("%s was changed, but dropping the old table %s failed: %w", r.n.table, r.n.backup, err)
	}
	r.report(StatusDone)
	return nil
}
