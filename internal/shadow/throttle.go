package shadow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// throttleInterval is how often a throttled copy asks for the lag again.
const throttleInterval = 200 * time.Millisecond

// throttle holds the next copy batch back while the lag is over MaxLag:
// a copy adds write load, and when the application's statements slow
// down or replicas fall behind, the copy is what can wait. The time it
// waits and why show in Progress while it lasts, and in Result.
func (r *runner) throttle(ctx context.Context) error {
	if r.opts.MaxLag <= 0 {
		return nil
	}
	var since time.Time
	for {
		lag, err := r.lag(ctx)
		if err != nil {
			return fmt.Errorf("measuring the lag before a copy batch: %w", err)
		}
		if lag <= r.opts.MaxLag {
			if !since.IsZero() {
				r.res.Throttled += time.Since(since)
				r.progress.Throttled, r.progress.ThrottleReason = r.res.Throttled, ""
				r.report(StatusCopying)
			}
			return nil
		}
		if since.IsZero() {
			since = time.Now()
		}
		r.progress.Throttled = r.res.Throttled + time.Since(since)
		r.progress.ThrottleReason = fmt.Sprintf("lag %s is over maxLag %s", lag.Round(time.Millisecond), r.opts.MaxLag)
		r.report(StatusThrottled)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(throttleInterval):
		}
	}
}

// lag is Options.Lag, or the engine's replication lag and the time a
// one-row read of the live table takes on a session of the pool, the
// longer of the two: the probe waits where the application's
// statements wait, on a busy server's CPU, disk and locks.
func (r *runner) lag(ctx context.Context) (time.Duration, error) {
	if r.opts.Lag != nil {
		return r.opts.Lag(ctx)
	}
	// On the pool, not the run's session: the first copy lane works on
	// that one meanwhile.
	replication, err := r.d.replicationLag(ctx, r.db)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	var one int
	err = r.db.QueryRowContext(ctx, "SELECT 1 FROM "+r.qualified(r.n.table)+" LIMIT 1").Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("probing %s: %w", r.n.table, err)
	}
	return max(replication, time.Since(start)), nil
}
