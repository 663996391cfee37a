package planner

import (
	"context"
	"errors"
	"fmt"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// BlueGreenOptions are a blue-green apply's (StrategyBlueGreen).
type BlueGreenOptions struct {
	// Green names the database the copy is made into, on blue's server.
	Green string
	// BatchSize is the rows per copy batch; zero is the copy's default.
	BatchSize int
	// Progress is told how the copy moves, table by table.
	Progress func(table string, done, total int64)
}

// ErrGreenUnfit matches every failure that makes green unusable whatever
// is retried: blue has objects a copy cannot carry over, or green does not
// plan as blue did.
var ErrGreenUnfit = errors.New("green cannot be used")

// greenUnfit is an ErrGreenUnfit with its own message.
type greenUnfit struct{ err error }

func (e *greenUnfit) Error() string        { return e.err.Error() }
func (e *greenUnfit) Unwrap() error        { return e.err }
func (e *greenUnfit) Is(target error) bool { return target == ErrGreenUnfit }

// blueGreen copies the target (blue) to green, a database on the same
// server, and applies the plan there under green's own lock, hash and
// revision table. The approved hash is checked on blue, under blue's
// lock (blue's identity is part of it); green must plan the same
// statements. Blue is never written: a failure the rollback policy covers
// drops green and leaves blue as it was. A complete copy a crash left is
// reused, a half-made one made again. The copy is part of the apply:
// the deadline bounds it, and under a graceful deadline the copy running
// at the deadline finishes and green's apply stops before its first
// statement.
type blueGreen struct{}

// green is blue's target pointed at the database green.
func (blueGreen) green(r *applyRun) *database.Target {
	u := *r.target.URL
	u.Path = "/" + r.opts.BlueGreen.Green
	return r.target.WithURL(&u)
}

// identity is how green's revision table names the blue-green apply of
// the approved plan.
func (blueGreen) identity(opts ApplyOptions) string {
	return opts.Identity + " blue-green of plan " + opts.ExpectHash
}

func (s blueGreen) applied(ctx context.Context, r *applyRun) (*database.Revision, error) {
	exists, err := bluegreen.Exists(ctx, r.target, r.opts.BlueGreen.Green)
	if err != nil || !exists {
		return nil, err
	}
	green := s.green(r)
	db, err := green.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	revs, err := database.RevisionsOn(green.Engine, db).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, rev := range revs {
		if rev.Object == s.identity(r.opts) && rev.Status == database.RevisionSucceeded {
			return rev, nil
		}
	}
	return nil, nil
}

func (blueGreen) changed(_ context.Context, r *applyRun) error {
	return &HashMismatchError{Expected: r.opts.ExpectHash, Actual: r.plan.Hash}
}

func (s blueGreen) run(ctx context.Context, r *applyRun) error {
	o := r.opts.BlueGreen
	rows, err := s.clone(ctx, r.target, o)
	if err != nil {
		return err
	}
	r.copied = rows
	green := s.green(r)
	greenPlan, err := r.p.Plan(ctx, green, r.in)
	if err != nil {
		return err
	}
	if !SameStatements(greenPlan.Statements, r.plan.Statements) {
		return &greenUnfit{fmt.Errorf("green %s does not plan as blue did (%d statements against %d): the copy differs; it is left for inspection",
			o.Green, len(greenPlan.Statements), len(r.plan.Statements))}
	}
	// Green has no other writer: the integrity checks around the apply
	// there see only what the plan does. (Blue against green is not
	// compared: blue's writers go on after the snapshot.) A failure on
	// green is taken back by dropping green, not statement by statement.
	opts := r.opts
	opts.Strategy, opts.BlueGreen, opts.ShadowTable = StrategyTransactional, nil, nil
	opts.ExpectHash, opts.Identity = greenPlan.Hash, s.identity(r.opts)
	opts.Rollback, opts.RollingBack, opts.Step = nil, nil, nil
	res, err := r.p.Apply(ctx, green, r.in, opts)
	if err != nil {
		return err
	}
	r.rev.ID, r.longest = res.Revision, res.LongestLock
	return nil
}

// clone makes green a complete copy of blue: a half-made copy a crash left
// is dropped and made again. It returns the rows copied (none when a
// complete copy was reused).
func (blueGreen) clone(ctx context.Context, blue *database.Target, o *BlueGreenOptions) (int64, error) {
	exists, err := bluegreen.Exists(ctx, blue, o.Green)
	if err != nil {
		return 0, err
	}
	if exists {
		complete, err := bluegreen.Complete(ctx, blue, o.Green)
		if err != nil || complete {
			return 0, err
		}
		if err := bluegreen.Drop(ctx, blue, o.Green); err != nil {
			return 0, err
		}
	}
	res, err := bluegreen.Clone(ctx, blue, o.Green, bluegreen.Options{BatchSize: o.BatchSize, Progress: o.Progress})
	switch {
	case errors.Is(err, bluegreen.ErrUnsupported), errors.Is(err, bluegreen.ErrEngine), errors.Is(err, bluegreen.ErrGreenName):
		return 0, &greenUnfit{err}
	case err != nil:
		return 0, fmt.Errorf("copying %s to %s: %w", blue.Schema(), o.Green, err)
	}
	return res.Rows, nil
}

// failed takes a failure back by dropping green, when the rollback policy
// asks for it: blue was never touched, so that undoes everything. The
// failure keeps what it was and says what became of green.
func (blueGreen) failed(ctx context.Context, r *applyRun, cause error) error {
	if r.opts.Rollback == nil || errors.Is(cause, ErrHashMismatch) || errors.Is(cause, ErrLockBusy) || !r.opts.Rollback(cause) {
		return cause
	}
	if r.opts.RollingBack != nil {
		r.opts.RollingBack()
	}
	// The caller's context may be done (the deadline passed): drop green
	// anyway, within a bound of its own.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	green := r.opts.BlueGreen.Green
	if err := bluegreen.Drop(dctx, r.target, green); err != nil {
		return fmt.Errorf("%w; dropping green %s failed: %v", cause, green, err)
	}
	return fmt.Errorf("%w; green %s was dropped, blue is as it was", cause, green)
}
