package planner_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// TestCutShortApplyResumes: on MySQL/MariaDB a plan runs statement by
// statement. An apply cut short between two of them (the manager killed)
// leaves its revision row running with the statements done; the next
// apply of the same approved plan by the same object goes on from there,
// in that row, instead of replaying the scripts from the start (which
// fails: the first columns exist already).
func TestCutShortApplyResumes(t *testing.T) {
	for _, tc := range []struct {
		name string
		// done is how many statements the cut-short apply ran.
		done int
	}{{"within the first script", 1}, {"at the end of the first script", 2}, {"within the second script", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			c := cutShortApply(t, tc.done)
			d, in, pl, plan, revs, id := c.d, c.in, c.pl, c.plan, c.revs, c.id

			By := func(object string) planner.ApplyOptions {
				return planner.ApplyOptions{ExpectHash: plan.Hash, Identity: object, Approver: "rita"}
			}
			_, err := pl.Apply(ctx, d.target, in, By("someone/else"))
			g.Expect(err).To(HaveOccurred(), "another object's apply does not take over the row")

			res, err := pl.Apply(ctx, d.target, in, By("shop/add-columns"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Revision).To(Equal(id), "the cut-short row is finished, not a new one")
			g.Expect(d.columns(t, "users")).To(ConsistOf("id", "a", "b", "c", "d"))

			all, err := revs.All(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			var ours *database.Revision
			for _, r := range all {
				if r.ID == id {
					ours = r
				}
			}
			g.Expect(ours).NotTo(BeNil())
			g.Expect(ours.Status).To(Equal(database.RevisionSucceeded))
			g.Expect(ours.Done).To(Equal(4))
			g.Expect(ours.Total).To(Equal(4))
			g.Expect(ours.Scripts).To(Equal(plan.Scripts), "the row still names the approved scripts whole")

			again, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again.Statements).To(BeEmpty(), "both scripts are recorded as applied")
			res, err = pl.Apply(ctx, d.target, in, By("shop/add-columns"))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.AlreadyApplied).To(BeTrue())
		})
	}
}

// TestCutShortApplyFindsTheStatementInFlight: without transactional DDL
// the statement in flight when an apply was cut short can stay applied
// while its record is lost. The next apply finds it on the live schema and
// goes on after it; a schema at no point of the approved plan is refused,
// saying so, and nothing runs.
func TestCutShortApplyFindsTheStatementInFlight(t *testing.T) {
	for _, tc := range []struct {
		name string
		// extra are run on the target besides the recorded statements.
		extra   []string
		refused string
	}{
		{name: "the statement after the record landed", extra: []string{"ALTER TABLE users ADD COLUMN b int;"}},
		{name: "the schema moved past what the plan can explain",
			extra:   []string{"ALTER TABLE users ADD COLUMN b int;", "ALTER TABLE users ADD COLUMN c int;"},
			refused: "part-way through the approved plan, at no point it can resume from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			c := cutShortApply(t, 1)
			d, in, pl, plan, revs, id := c.d, c.in, c.pl, c.plan, c.revs, c.id
			for _, stmt := range tc.extra {
				d.exec(t, stmt)
			}
			before := d.columns(t, "users")

			res, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/add-columns", Approver: "rita"})
			if tc.refused != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.refused)))
				g.Expect(err).To(MatchError(ContainSubstring("after 1 of 4 statements (revision %d)", id)))
				g.Expect(d.columns(t, "users")).To(Equal(before), "nothing ran")
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Landed).To(Equal("statement 2 of 4"))
			g.Expect(res.Revision).To(Equal(id))
			g.Expect(d.columns(t, "users")).To(ConsistOf("id", "a", "b", "c", "d"))
			all, err := revs.All(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(all).To(HaveLen(1))
			g.Expect(all[0].Status).To(Equal(database.RevisionSucceeded))
			g.Expect(all[0].Done).To(Equal(4))
		})
	}
}

// TestRollingNeverGuessesAStepRan: a rolling step whose first statement
// fails on the live schema (the schema moved since review, or a step ran
// without its checkpoint) is never taken as run. Before the fix the apply
// wrote the missing checkpoint itself, then resumed from it: the step's
// other statements were skipped and the steps after it ran unreviewed.
func TestRollingNeverGuessesAStepRan(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engine{"mysql", dbtest.NewMySQLDatabase})
	d.exec(t, "CREATE TABLE users (id int NOT NULL, PRIMARY KEY (id));")
	in := planner.Input{Scripts: scripts(
		"CREATE TABLE audit (id int);\nALTER TABLE users ADD COLUMN x int;",
		"ALTER TABLE users ADD COLUMN y int;",
	)}
	pl := &planner.Planner{DevServers: dbtest.DevServers()}
	plan, err := pl.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())

	d.exec(t, "CREATE TABLE audit (id int);")
	_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/roll", Approver: "rita", Strategy: planner.StrategyRolling})
	g.Expect(err).To(MatchError(ContainSubstring("rolling step a-script cannot run")))
	g.Expect(err).To(MatchError(ContainSubstring("does not guess")))
	g.Expect(d.columns(t, "users")).To(Equal([]string{"id"}), "no step ran")
	g.Expect(d.revisions(t)).To(BeEmpty(), "no checkpoint was written")
}

// cutShort is a MariaDB database where an apply of a four-statement plan
// (two scripts of two) was cut short: its running row records done
// statements, and those statements ran.
type cutShort struct {
	d    *testDB
	in   planner.Input
	pl   *planner.Planner
	plan *planner.Plan
	revs *database.Revisions
	id   int64
}

func cutShortApply(t *testing.T, done int) cutShort {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	c := cutShort{d: newTestDB(t, engine{"mysql", dbtest.NewMySQLDatabase}), pl: &planner.Planner{DevServers: dbtest.DevServers()}}
	c.d.exec(t, "CREATE TABLE users (id int NOT NULL, PRIMARY KEY (id));")
	c.in = planner.Input{Scripts: scripts(
		"ALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int;",
		"ALTER TABLE users ADD COLUMN c int;\nALTER TABLE users ADD COLUMN d int;",
	)}
	var err error
	c.plan, err = c.pl.Plan(ctx, c.d.target, c.in)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.plan.Statements).To(HaveLen(4))
	c.revs = database.RevisionsOn(c.d.target.Engine, c.d.db)
	g.Expect(c.revs.Ensure(ctx)).To(Succeed())
	c.id, err = c.revs.Insert(ctx, &database.Revision{PlanHash: c.plan.Hash, Object: "shop/add-columns", Scripts: c.plan.Scripts,
		Approver: "rita", StartedAt: time.Now(), Status: database.RevisionRunning, Done: done, Total: 4})
	g.Expect(err).NotTo(HaveOccurred())
	for _, stmt := range c.plan.Statements[:done] {
		c.d.exec(t, stmt)
	}
	return c
}
