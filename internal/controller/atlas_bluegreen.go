package controller

import (
	"context"
	"errors"
	"fmt"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

// ApplyGreen implements Migrator. The caller asked GreenRevision first.
// The approved hash is checked on blue
// (its identity is part of it); on green, a copy under another name, the
// plan must be the same statements, and is applied under green's own
// hash, lock and revision table.
func (m *atlasMigrator) ApplyGreen(ctx context.Context, dbm *dbv1.DatabaseMigration, green string, opts ApplyOptions) (_ *GreenApplied, err error) {
	l, p, blue, err := m.prepare(ctx, dbm)
	if err != nil {
		return nil, err
	}
	defer func() { err = l.secrets.redact(err) }()
	greenTarget := greenOf(blue, green)
	object := greenObject(dbm, opts.ExpectHash)

	bluePlan, err := p.Plan(ctx, blue, l.input)
	if err != nil {
		return nil, plannerError(err)
	}
	if bluePlan.Hash != opts.ExpectHash {
		return nil, fmt.Errorf("%w: approved %s, blue's plan is now %s", ErrPlanChanged, opts.ExpectHash, bluePlan.Hash)
	}
	// The copy is part of the apply: maxMigrationTime bounds it as it
	// bounds the statements. Under a graceful deadline the copy running at
	// the deadline finishes, and the apply on green stops before its first
	// statement.
	if !opts.Deadline.IsZero() && !opts.Graceful {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, opts.Deadline)
		defer cancel()
	}
	var rows int64
	if rows, err = m.clone(ctx, blue, green, int(dbm.Spec.Migration.BatchSize), opts.CopyProgress); err != nil {
		return nil, err
	}

	greenPlan, err := p.Plan(ctx, greenTarget, l.input)
	if err != nil {
		return nil, plannerError(err)
	}
	if !planner.SameStatements(greenPlan.Statements, bluePlan.Statements) {
		return nil, Permanent(dbv1.ReasonApplyFailed, fmt.Errorf("green %s does not plan as blue did (%d statements against %d): the copy differs; it is left for inspection", green, len(greenPlan.Statements), len(bluePlan.Statements)))
	}
	// Green has no other writer: the integrity checks around the apply
	// there see only what the plan does. (Blue against green is not
	// compared: blue's writers go on after the snapshot.)
	verify := validationCheck(dbm.Spec.Database.Type, l.validations)
	var before func(context.Context, database.Querier) error
	if check := newIntegrityCheck(dbm, greenTarget, l.input.Scripts); check != nil {
		before, verify = check.capture, verifyHook(check.recheck, verify)
	}
	res, err := p.Apply(ctx, greenTarget, l.input, planner.ApplyOptions{
		ExpectHash: greenPlan.Hash, Identity: object, Approver: opts.Approver,
		Progress: l.secrets.progress(opts.Progress), Deadline: opts.Deadline, Graceful: opts.Graceful, Before: before, Verify: verify, MaxLockTime: opts.MaxLockTime,
	})
	if err != nil {
		return nil, plannerError(err)
	}
	return &GreenApplied{Revision: res.Revision, Rows: rows}, nil
}

// clone makes green a complete copy of blue: a half-made copy a crash left
// is dropped and made again.
func (m *atlasMigrator) clone(ctx context.Context, blue *database.Target, green string, batch int, progress func(string, int64, int64)) (int64, error) {
	exists, err := bluegreen.Exists(ctx, blue, green)
	if err != nil {
		return 0, err
	}
	if exists {
		complete, err := bluegreen.Complete(ctx, blue, green)
		if err != nil {
			return 0, err
		}
		if complete {
			return 0, nil
		}
		if err := bluegreen.Drop(ctx, blue, green); err != nil {
			return 0, err
		}
	}
	res, err := bluegreen.Clone(ctx, blue, green, bluegreen.Options{BatchSize: batch, Progress: progress})
	switch {
	case errors.Is(err, bluegreen.ErrUnsupported):
		return 0, Permanent(dbv1.ReasonApplyFailed, err)
	case err != nil:
		return 0, fmt.Errorf("copying %s to %s: %w", blue.Schema(), green, err)
	}
	return res.Rows, nil
}

// GreenRevision implements Migrator.
func (m *atlasMigrator) GreenRevision(ctx context.Context, dbm *dbv1.DatabaseMigration, green, hash string) (int64, bool, error) {
	blue, err := resolveTarget(ctx, m.reader, dbm)
	if err != nil {
		return 0, false, err
	}
	rev, err := findGreenRevision(ctx, blue, green, greenObject(dbm, hash))
	if err != nil || rev == nil {
		return 0, false, err
	}
	return rev.ID, true, nil
}

// greenObject is how green's revision table names the blue-green apply
// of a plan.
func greenObject(dbm *dbv1.DatabaseMigration, hash string) string {
	return fmt.Sprintf("%s/%s (uid %s) blue-green of plan %s", dbm.Namespace, dbm.Name, dbm.UID, hash)
}

// findGreenRevision is greenRevision when green exists, nil otherwise.
func findGreenRevision(ctx context.Context, blue *database.Target, green, object string) (*database.Revision, error) {
	exists, err := bluegreen.Exists(ctx, blue, green)
	if err != nil || !exists {
		return nil, err
	}
	return greenRevision(ctx, greenOf(blue, green), object)
}

// DropGreen implements Migrator.
func (m *atlasMigrator) DropGreen(ctx context.Context, dbm *dbv1.DatabaseMigration, green string) error {
	blue, err := resolveTarget(ctx, m.reader, dbm)
	if err != nil {
		return err
	}
	return bluegreen.Drop(ctx, blue, green)
}

// greenOf is blue's target pointed at the database green.
func greenOf(blue *database.Target, green string) *database.Target {
	u := *blue.URL
	u.Path = "/" + green
	return &database.Target{Engine: blue.Engine, URL: &u}
}

// greenRevision finds the revision a previous blue-green apply of the
// same plan recorded on green, or nil.
func greenRevision(ctx context.Context, green *database.Target, object string) (*database.Revision, error) {
	db, err := green.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	revs, err := database.RevisionsOn(green.Engine, db).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range revs {
		if r.Object == object && r.Status == database.RevisionSucceeded {
			return r, nil
		}
	}
	return nil, nil
}
