package planner_test

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

const cachedScript = `CREATE TABLE items (id int NOT NULL, name varchar(50) NOT NULL, PRIMARY KEY (id));
INSERT INTO items (id, name) VALUES (1, 'one');
INSERT INTO items (id, name) VALUES (2, 'two');
`

// An apply whose inputs are the planned ones takes the plan from the
// cache, on every engine, and runs what was planned even when the caller
// changed the plan it was handed.
func TestApplyTakesItsPlanFromTheCache(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			pl := &planner.Planner{DevServers: dbtest.DevServers(), Cache: planner.NewPlanCache(1 << 20)}
			in := planner.Input{Scripts: scripts(cachedScript), Settings: "strategy: transactional"}

			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			approved := plan.Hash
			// What a caller does with its plan (redacting it for status,
			// say) is not what the apply runs.
			plan.Statements[0] = "DROP TABLE nothing"
			plan.Statements = plan.Statements[:1]

			res, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: approved})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Plan.Hash).To(Equal(approved))
			g.Expect(res.Plan.Statements).To(HaveLen(3))
			hits, misses := pl.Cache.Stats()
			g.Expect([]int{hits, misses}).To(Equal([]int{1, 1}), "the plan computed once, the apply's taken from the cache")
			dbtest.ExpectRows(t, d.db, "items", 2)

			again, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: approved})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again.AlreadyApplied).To(BeTrue())
		})
	}
}

// Whatever changed between the plan and the apply makes the apply plan
// again, and its hash refuses it: the cache vouches only for the inputs it
// saw.
func TestCachedPlanNeverCoversAChange(t *testing.T) {
	cases := []struct {
		name string
		// change changes the input, or the target, after the plan.
		change func(t *testing.T, d *testDB, in *planner.Input)
		// ran is a table the apply would have made had the change run.
		ran string
	}{
		{"a script swapped after approval", func(_ *testing.T, _ *testDB, in *planner.Input) {
			in.Scripts = scripts(cachedScript + "CREATE TABLE stolen (id int);\n")
		}, "stolen"},
		{"a script's type changed", func(_ *testing.T, _ *testDB, in *planner.Input) {
			in.Scripts[0].Type = script.TypeData
		}, "items"},
		{"a dependency removed", func(_ *testing.T, _ *testDB, in *planner.Input) {
			in.Scripts[0].DependsOn = nil
		}, "items"},
		{"a validation script edited", func(_ *testing.T, _ *testDB, in *planner.Input) {
			in.Validations = []script.Script{{Name: "check", Type: script.TypeValidation, SQL: "SELECT 2;"}}
		}, "items"},
		{"a setting edited", func(_ *testing.T, _ *testDB, in *planner.Input) {
			in.Settings = "strategy: rolling"
		}, "items"},
		{"the live schema changed by hand", func(t *testing.T, d *testDB, _ *planner.Input) {
			d.exec(t, "CREATE TABLE other (id int);")
		}, "items"},
	}
	for _, e := range engines[:2] {
		for _, c := range cases {
			t.Run(e.name+"/"+c.name, func(t *testing.T) {
				g := NewWithT(t)
				ctx := context.Background()
				d := newTestDB(t, e)
				pl := &planner.Planner{DevServers: dbtest.DevServers(), Cache: planner.NewPlanCache(1 << 20)}
				in := planner.Input{
					Scripts:     dependent(scripts(cachedScript)),
					Validations: []script.Script{{Name: "check", Type: script.TypeValidation, SQL: "SELECT 1;"}},
					Settings:    "strategy: transactional",
				}
				plan, err := pl.Plan(ctx, d.target, in)
				g.Expect(err).NotTo(HaveOccurred())

				c.change(t, d, &in)
				_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash})
				var mismatch *planner.HashMismatchError
				g.Expect(errors.As(err, &mismatch)).To(BeTrue(), "%v", err)
				hits, _ := pl.Cache.Stats()
				g.Expect(hits).To(BeZero())
				g.Expect(d.tables(t)).NotTo(ContainElement(c.ran))
			})
		}
	}
}

// The planner's own settings are part of the key: a planner whose gate
// allows more, or that replays elsewhere, does not take another's plans.
func TestCacheKeyCoversThePlannersSettings(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engines[0])
	cache := planner.NewPlanCache(1 << 20)
	in := planner.Input{Scripts: scripts(cachedScript)}
	base := planner.Planner{Cache: cache}
	_, err := base.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())

	others := map[string]planner.Planner{
		"allow": {Cache: cache, AllowSQL: map[sqlstatic.Reach]bool{sqlstatic.ReachRole: true}},
		"dev":   {Cache: cache, DevURL: "sqlite://file?mode=memory"},
	}
	for name, pl := range others {
		_, err := pl.Plan(ctx, d.target, in)
		g.Expect(err).NotTo(HaveOccurred(), name)
	}
	_, err = base.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())
	hits, misses := cache.Stats()
	g.Expect([]int{hits, misses}).To(Equal([]int{1, 3}))
}

// The cache holds no more than its budget, dropping the least recently
// used plan first.
func TestCacheKeepsToItsBudget(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// Room for two plans of the script (about 1.5 KB each), not three.
	cache := planner.NewPlanCache(3700)
	pl := planner.Planner{Cache: cache}
	var dbs []*testDB
	plan := func(d *testDB) {
		_, err := pl.Plan(ctx, d.target, planner.Input{Scripts: scripts(cachedScript)})
		g.Expect(err).NotTo(HaveOccurred())
	}
	for range 3 {
		dbs = append(dbs, newTestDB(t, engines[0]))
		plan(dbs[len(dbs)-1])
	}
	plan(dbs[2])
	plan(dbs[0])
	hits, misses := cache.Stats()
	g.Expect([]int{hits, misses}).To(Equal([]int{1, 4}), "the last plan kept, the first dropped")
}

// dependent makes the first script depend on one outside the plan, as a
// script of a later migration depends on one applied before.
func dependent(s []script.Script) []script.Script {
	s[0].DependsOn = []string{"applied-before"}
	return s
}
