package planner_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// greenOf names a green database for d and drops it when the test ends.
func greenOf(t *testing.T, d *testDB) string {
	green := bluegreen.GreenName(strings.TrimPrefix(d.target.URL.Path, "/"), "t0")
	t.Cleanup(func() { _ = bluegreen.Drop(context.Background(), d.target, green) })
	return green
}

// greenTarget is d's target on the database green.
func greenTarget(d *testDB, green string) *database.Target {
	u := *d.target.URL
	u.Path = "/" + green
	return &database.Target{Engine: d.target.Engine, URL: &u}
}

// Blue-green is a strategy like the others: under blue's lock and hash,
// it copies blue to green, applies the plan there with green's own
// revision, runs the validation scripts on green, and never writes blue.
// A second apply finds green's revision and runs nothing again.
func TestBlueGreenIsAStrategy(t *testing.T) {
	for _, e := range engines[1:] {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base)
			withRows(t, d, 25)
			green := greenOf(t, d)
			// Under a target's connection limit: the lock's connection,
			// the copy's (COPY through pgx under the limit's wrapper).
			d.target.Limit = database.NewConnLimit(2)
			in := planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;")}
			in.Validations = []script.Script{{Name: "rows-kept", Type: script.TypeValidation, SQL: "SELECT count(*) = 25 FROM users;"}}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			var copied int64
			opts := planner.ApplyOptions{
				ExpectHash: plan.Hash, Identity: "ns/bg", Strategy: planner.StrategyBlueGreen,
				Integrity: &integrity.Options{SamplePercentage: 100, Checksum: true},
				BlueGreen: &planner.BlueGreenOptions{Green: green, Progress: func(_ string, done, _ int64) { copied = max(copied, done) }},
			}
			res, err := pl.Apply(ctx, d.target, in, opts)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Copied).To(BeNumerically(">=", 25))
			g.Expect(copied).To(BeNumerically(">", 0), "the copy reported its progress")
			g.Expect(res.Revision).NotTo(BeZero())

			g.Expect(d.columns(t, "users")).NotTo(ContainElement("age"), "blue is never written")
			g.Expect(d.tables(t)).NotTo(ContainElement(database.RevisionTable), "blue has no revision table")
			gd := &testDB{target: greenTarget(d, green)}
			gd.db, err = gd.target.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer func() { _ = gd.db.Close() }()
			g.Expect(gd.columns(t, "users")).To(ContainElement("age"))
			revs := gd.revisions(t)
			g.Expect(revs).To(HaveLen(1))
			g.Expect(revs[0].Object).To(Equal("ns/bg blue-green of plan " + plan.Hash))

			again, err := pl.Apply(ctx, d.target, in, opts)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again.AlreadyApplied).To(BeTrue())
			g.Expect(again.Revision).To(Equal(res.Revision))
		})
	}
}

// A failure on green that the rollback policy covers drops green; blue
// is as it was. Without the policy, green is left for inspection.
func TestBlueGreenFailureDropsGreen(t *testing.T) {
	for _, rollback := range []bool{true, false} {
		g := NewWithT(t)
		ctx := context.Background()
		d := newTestDB(t, engines[1])
		d.exec(t, base)
		green := greenOf(t, d)
		in := planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;")}
		in.Validations = []script.Script{{Name: "ages-set", Type: script.TypeValidation, SQL: "SELECT false;"}}
		pl := &planner.Planner{DevServers: dbtest.DevServers()}
		plan, err := pl.Plan(ctx, d.target, in)
		g.Expect(err).NotTo(HaveOccurred())
		rollingBack := 0
		opts := planner.ApplyOptions{
			ExpectHash: plan.Hash, Identity: "ns/bg", Strategy: planner.StrategyBlueGreen,
			BlueGreen: &planner.BlueGreenOptions{Green: green},
		}
		if rollback {
			opts.Rollback = func(error) bool { return true }
			opts.RollingBack = func() { rollingBack++ }
		}
		_, err = pl.Apply(ctx, d.target, in, opts)
		g.Expect(err).To(MatchError(planner.ErrVerifyFailed))
		var failed *planner.ValidationError
		g.Expect(errors.As(err, &failed)).To(BeTrue())
		g.Expect(failed.Script).To(Equal("ages-set"))
		exists, xerr := bluegreen.Exists(ctx, d.target, green)
		g.Expect(xerr).NotTo(HaveOccurred())
		if rollback {
			g.Expect(err.Error()).To(ContainSubstring("was dropped, blue is as it was"))
			g.Expect(rollingBack).To(Equal(1))
			g.Expect(exists).To(BeFalse())
		} else {
			g.Expect(exists).To(BeTrue(), "left for inspection")
		}
		g.Expect(d.columns(t, "users")).NotTo(ContainElement("age"))
	}
}

// The checks around the statements are the same contract in every
// strategy that changes the target in place: a change of rows no data
// script declares fails the data integrity check, and a validation script
// that says no fails the apply.
func TestEveryStrategyRunsTheChecks(t *testing.T) {
	for _, e := range engines[:2] {
		for _, strategy := range []planner.Strategy{planner.StrategyTransactional, planner.StrategyRolling, planner.StrategyShadowTable} {
			t.Run(e.name+"/"+string(strategy), func(t *testing.T) {
				g := NewWithT(t)
				ctx := context.Background()
				pl := &planner.Planner{DevServers: dbtest.DevServers()}

				d := newTestDB(t, e)
				d.exec(t, base)
				withRows(t, d, 10)
				in := planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;\nDELETE FROM users WHERE id = 3;")}
				plan, err := pl.Plan(ctx, d.target, in)
				g.Expect(err).NotTo(HaveOccurred())
				_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{
					ExpectHash: plan.Hash, Strategy: strategy, Integrity: &integrity.Options{SamplePercentage: 100, Checksum: true},
				})
				g.Expect(err).To(MatchError(planner.ErrDataCorruption))

				d = newTestDB(t, e)
				d.exec(t, base)
				in = planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;")}
				in.Validations = []script.Script{{Name: "never", Type: script.TypeValidation, SQL: "SELECT 1 = 0;"}}
				plan, err = pl.Plan(ctx, d.target, in)
				g.Expect(err).NotTo(HaveOccurred())
				_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: strategy})
				g.Expect(err).To(MatchError(planner.ErrVerifyFailed))
				g.Expect(err.Error()).To(ContainSubstring(`validation script "never"`))
			})
		}
	}
}

func TestUnknownStrategyIsRefused(t *testing.T) {
	g := NewWithT(t)
	d := newTestDB(t, engines[0])
	d.exec(t, base)
	in := planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;")}
	pl := &planner.Planner{}
	_, err := pl.Apply(context.Background(), d.target, in, planner.ApplyOptions{ExpectHash: "sha256:x", Strategy: "big-bang"})
	g.Expect(err).To(MatchError(ContainSubstring(`unknown strategy "big-bang"`)))
	g.Expect(d.tables(t)).NotTo(ContainElement(database.RevisionTable), "nothing ran")
}
