package shadow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// Pauses between attempts at a lock the application queues behind: the
// first short, so a lock missed by a moment is soon tried again, then
// doubling, so a long query of the application's on the table is waited
// out instead of hammered.
const (
	firstCutOverPause = 20 * time.Millisecond
	maxCutOverPause   = 2 * time.Second
)

// cutOver runs try, an attempt at a lock the application queues behind
// (step: the triggers' installation, the swap), as attemptLocks says, bounded
// by the run's options. Each attempt's time from its first statement
// that asks for such a lock (clock.locking) to its end counts toward
// LongestLock; prepare, when set, runs before each attempt, outside that
// time, and its lock waits count as the attempt's.
// cutOver returns the number of attempts.
func (r *runner) cutOver(ctx context.Context, step string, prepare func() error, try func(clock *lockClock) error) (attempts int, err error) {
	return attemptLocks(ctx, r.d, r.conn, r.lockBounds(), prepare, func() error {
		var clock lockClock
		err := try(&clock)
		if !clock.from.IsZero() {
			r.noteLock(step, time.Since(clock.from))
		}
		return err
	})
}

// errOverLockBudget is an attempt that gave its lock up because the work
// under it took longer than the application may wait; attempted again.
var errOverLockBudget = errors.New("applying the rest of the log under the lock took longer than cutOverLockTimeout allows")

// lockBounds bound the attempts at a lock the application queues behind:
// each attempt's wait, their number, and the session's wait for other
// locks afterwards.
type lockBounds struct {
	wait     time.Duration
	attempts int
	restore  time.Duration
}

// lockBounds are the run's, from its options.
func (r *runner) lockBounds() lockBounds {
	return lockBounds{wait: r.opts.CutOverLockTimeout, attempts: r.opts.CutOverAttempts, restore: r.opts.LockTimeout}
}

// defaultBounds are Run's defaults, for what runs outside a run (Abort,
// SwapBack).
var defaultBounds = lockBounds{wait: DefaultCutOverLockTimeout, attempts: DefaultCutOverAttempts, restore: DefaultLockTimeout}

// attemptLocks runs try on session q until it succeeds, fails for
// another reason than the lock, or has had b.attempts tries. The
// session's lock waits are bounded by b.wait meanwhile: an attempt that
// cannot have the lock at once gives up soon, and the application's
// statements queued behind it run during the pause before the next,
// where an unbounded wait would hold them for as long as the query it
// waits for. prepare, when set, runs before each attempt, and its lock
// waits count as the attempt's. It returns the number of attempts.
func attemptLocks(ctx context.Context, d dialect, q database.Querier, b lockBounds, prepare, try func() error) (attempts int, err error) {
	if err := d.setLockWait(ctx, q, b.wait); err != nil {
		return 0, fmt.Errorf("bounding the session's lock waits: %w", err)
	}
	defer func() {
		// The copy's and the clean-up's waits are the longer ones again.
		if restoreErr := d.restoreLockWait(context.WithoutCancel(ctx), q, b.restore); restoreErr != nil {
			err = errors.Join(err, fmt.Errorf("restoring the session's lock waits: %w", restoreErr))
		}
	}()
	pause := firstCutOverPause
	for attempt := 1; ; attempt++ {
		var err error
		if prepare != nil {
			err = prepare()
		}
		if err == nil {
			err = try()
		}
		if err == nil || !d.retryable(err) && !errors.Is(err, errOverLockBudget) {
			return attempt, err
		}
		if attempt >= b.attempts {
			return attempt, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		select {
		case <-ctx.Done():
			return attempt, errors.Join(ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, maxCutOverPause)
	}
}

// lockClock times the part of an attempt the application may queue
// behind: from the first statement that asks for a lock stopping its
// writes (or reads) to the attempt's end. Statements before it, which
// lock only what the run made, do not count.
type lockClock struct{ from time.Time }

// locking marks that the next statement asks for such a lock; a later
// mark keeps the first.
func (c *lockClock) locking() {
	c.lockedSince(time.Now())
}

// lockedSince marks such a lock as asked for at t, where the attempt
// learns only afterwards that it asked for one.
func (c *lockClock) lockedSince(t time.Time) {
	if c.from.IsZero() || t.Before(c.from) {
		c.from = t
	}
}

// noteLock records that the application may have queued behind one of
// Run's locks, step's, for took.
func (r *runner) noteLock(step string, took time.Duration) {
	if took > r.res.LongestLock {
		r.res.LongestLock, r.res.LongestLockStep = took, step
	}
	r.progress.LongestLock = r.res.LongestLock
}
