package planner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLockTimeExceeded: a stretch of the apply that blocks the
// application's writes (the transaction, a statement without one, a
// rolling step) ran past ApplyOptions.MaxLockTime and was stopped.
var ErrLockTimeExceeded = errors.New("the apply held its locks longer than its downtime budget")

// window starts a stretch of the apply that holds locks: the returned
// context is cut off after MaxLockTime, with ErrLockTimeExceeded as its
// cause, and end records how long the stretch lasted.
func (r *applyRun) window(ctx context.Context) (context.Context, func()) {
	start := time.Now()
	cancel := context.CancelFunc(func() {})
	if r.opts.MaxLockTime > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, r.opts.MaxLockTime,
			fmt.Errorf("%w (%s)", ErrLockTimeExceeded, r.opts.MaxLockTime))
	}
	return ctx, func() {
		// Parallel rolling steps end their stretches at the same time.
		r.mu.Lock()
		r.longest = max(r.longest, time.Since(start))
		r.mu.Unlock()
		cancel()
	}
}

// expired reports whether a graceful apply passed its deadline: it stops
// before the next statement or step instead of cutting one short.
func (r *applyRun) expired() error {
	if r.opts.Graceful && !r.opts.Deadline.IsZero() && time.Now().After(r.opts.Deadline) {
		return fmt.Errorf("%w: stopped gracefully, before the next step", context.DeadlineExceeded)
	}
	return nil
}
