package shadow

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// Abort undoes a run that did not swap (rollback before the swap): it
// drops the sync triggers and the shadow table, if they are kube-shift's,
// and leaves the live table as it is. Use it after a crash; a run that
// fails cleans up after itself. Idempotent: with nothing to remove it
// does nothing.
func Abort(ctx context.Context, e database.Engine, db *sql.DB, c Change) error {
	d, conn, n, err := open(ctx, e, db, c)
	if err != nil {
		return err
	}
	defer discard(conn)
	return abort(ctx, d, conn, n, abortBounds(defaultBounds), false)
}

// abortAttempts is how many short attempts abort makes at the triggers'
// lock (about 2.5 s of pauses) before its last, longer one: well within
// a failed run's clean-up time.
const abortAttempts = 8

// abortBounds are b with abort's number of attempts.
func abortBounds(b lockBounds) lockBounds {
	b.attempts = min(b.attempts, abortAttempts)
	return b
}

// abort drops the sync triggers first, so the application's writes stop
// paying for them, then the shadow: when it carries the shadow marker, or
// when this very run created it (created). Dropping a trigger locks the
// live table against the application's reads and writes, so it is
// attempted as cutOver takes its locks, within b; when the application
// never leaves the table free that long, once more with the session's
// own wait (b.restore), which the application queues behind: triggers
// left in place would cost it more.
func abort(ctx context.Context, d dialect, q database.Querier, n names, b lockBounds, created bool) error {
	drop := func() error { return d.dropTriggers(ctx, q, n) }
	_, err := attemptLocks(ctx, d, q, b, nil, drop)
	if err != nil && d.retryable(err) && ctx.Err() == nil {
		err = drop()
	}
	if err != nil {
		return fmt.Errorf("dropping the sync triggers on %s: %w", n.table, err)
	}
	// A swap that crashed before it settled (MySQL renames first) leaves
	// the table in place with the shadow's marker in its comment.
	live, err := describe(ctx, d, q, n.schema, n.table)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", n.table, err)
	}
	if live.markedAs(roleShadow, n.table) {
		if err := d.setComment(ctx, q, n.schema, n.table, userComment(live.comment)); err != nil {
			return fmt.Errorf("restoring the comment of %s: %w", n.table, err)
		}
	}
	shadow, err := describe(ctx, d, q, n.schema, n.shadow)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", n.shadow, err)
	}
	ours := shadow.markedAs(roleShadow, n.table) || (created && shadow != nil && shadow.isTable)
	if !ours {
		return nil
	}
	if _, err := q.ExecContext(ctx, "DROP TABLE "+d.Qualify(n.schema, n.shadow)); err != nil {
		return fmt.Errorf("dropping the shadow table %s: %w", n.shadow, err)
	}
	return nil
}

// SwapBack undoes a run that swapped and kept its backup (rollback after
// the swap): the backup takes the table's name again, with its indexes'
// and sequences' names, and the changed table moves to the shadow's name,
// where Abort (or the next Run of the table) drops it. Rows the
// application wrote after the swap are in that table only. Idempotent: when the backup is gone and the changed
// table already sits at the shadow's name it does nothing; with no backup
// at all it returns a *RefusalError for ErrNoBackup.
func SwapBack(ctx context.Context, e database.Engine, db *sql.DB, c Change) error {
	d, conn, n, err := open(ctx, e, db, c)
	if err != nil {
		return err
	}
	defer discard(conn)
	table := d.Qualify(n.schema, n.table)
	backup, err := describe(ctx, d, conn, n.schema, n.backup)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", n.backup, err)
	}
	shadow, err := describe(ctx, d, conn, n.schema, n.shadow)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", n.shadow, err)
	}
	ownShadow := shadow.markedAs(roleShadow, n.table)
	switch {
	case backup == nil && ownShadow:
		return nil
	case !backup.markedAs(roleBackup, n.table):
		return refuse(table, ErrNoBackup, n.backup+" is not a backup kube-shift kept")
	case shadow != nil && !ownShadow:
		return refuse(table, ErrNameInUse, n.shadow+" is not a shadow table of kube-shift's")
	}
	if err := abort(ctx, d, conn, n, abortBounds(defaultBounds), false); err != nil {
		return err
	}
	live, err := describe(ctx, d, conn, n.schema, n.table)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", table, err)
	}
	if live == nil || !live.isTable {
		return refuse(table, ErrNoTable)
	}
	spec := swapSpec{
		n:    n,
		live: n.table, incoming: n.backup, aside: n.shadow, asideRole: roleShadow,
		liveComment: userComment(live.comment), incomingComment: userComment(backup.comment),
	}
	err = withRetries(ctx, d, func() error {
		_, err := d.swap(ctx, conn, spec)
		return err
	})
	if err != nil {
		return fmt.Errorf("swapping %s back: %w", table, err)
	}
	return d.settle(ctx, conn, spec)
}

// DropBackup drops the backup a run kept, once it is no longer needed.
// Idempotent: without a backup it does nothing; a table at the backup's
// name that kube-shift did not keep is refused.
func DropBackup(ctx context.Context, e database.Engine, db *sql.DB, c Change) error {
	d, conn, n, err := open(ctx, e, db, c)
	if err != nil {
		return err
	}
	defer discard(conn)
	backup, err := describe(ctx, d, conn, n.schema, n.backup)
	switch {
	case err != nil:
		return fmt.Errorf("inspecting %s: %w", n.backup, err)
	case backup == nil:
		return nil
	case !backup.markedAs(roleBackup, n.table):
		return refuse(d.Qualify(n.schema, n.table), ErrNameInUse, n.backup+" is not a backup kube-shift kept")
	}
	if _, err := conn.ExecContext(ctx, "DROP TABLE "+d.Qualify(n.schema, n.backup)); err != nil {
		return fmt.Errorf("dropping the backup %s: %w", n.backup, err)
	}
	return nil
}

// open prepares a session for a rollback function.
func open(ctx context.Context, e database.Engine, db *sql.DB, c Change) (dialect, *sql.Conn, names, error) {
	d, err := dialectFor(e)
	if err != nil {
		return nil, nil, names{}, err
	}
	conn, err := session(ctx, d, db, DefaultLockTimeout)
	if err != nil {
		return nil, nil, names{}, err
	}
	n, err := resolveNames(ctx, d, conn, c)
	if err != nil {
		discard(conn)
		return nil, nil, names{}, err
	}
	return d, conn, n, nil
}
