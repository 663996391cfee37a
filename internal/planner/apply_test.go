package planner_test

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

func TestStaleApprovalIsRefused(t *testing.T) {
	for _, e := range engines {
		for _, mode := range []string{"versioned", "declarative"} {
			t.Run(e.name+"/"+mode, func(t *testing.T) {
				g := NewWithT(t)
				ctx := context.Background()
				d := newTestDB(t, e)
				d.exec(t, base+rows)
				in := planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;")}
				if mode == "declarative" {
					in = planner.Input{Desired: &planner.Desired{Format: planner.SchemaFormatSQL, Text: base + "CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));"}}
				}
				pl := &planner.Planner{DevServers: dbtest.DevServers()}
				plan, err := pl.Plan(ctx, d.target, in)
				g.Expect(err).NotTo(HaveOccurred())

				// The live schema moves after the review.
				d.exec(t, "CREATE TABLE audit (id int NOT NULL, PRIMARY KEY (id));")
				moved := d.inspect(t)

				_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash})
				g.Expect(err).To(MatchError(planner.ErrHashMismatch))
				var mismatch *planner.HashMismatchError
				g.Expect(errors.As(err, &mismatch)).To(BeTrue())
				g.Expect(mismatch.Expected).To(Equal(plan.Hash))
				g.Expect(d.columns(t, "users")).NotTo(ContainElement("age"))
				g.Expect(d.tables(t)).To(ConsistOf("users", "posts", "audit"))
				g.Expect(d.inspect(t).Tables).To(HaveLen(len(moved.Tables)))
				g.Expect(d.revisions(t)).To(BeEmpty())
			})
		}
	}
}

func TestDoubleApplyRecordsOneRevision(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows)
			in := planner.Input{Scripts: scripts("CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));", "INSERT INTO tags (id) VALUES (1);")}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(plan.Steps).To(HaveLen(2))

			var progress []int
			first, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{
				ExpectHash: plan.Hash, Identity: "uid-1 default/tags", Approver: "bob",
				Progress: func(done, total int, _ string) { progress = append(progress, done, total) },
			})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(first.AlreadyApplied).To(BeFalse())
			g.Expect(progress).To(Equal([]int{1, 2, 2, 2}))

			second, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(second.AlreadyApplied).To(BeTrue())
			g.Expect(second.Revision).To(Equal(first.Revision))

			revs := d.revisions(t)
			g.Expect(revs).To(HaveLen(1))
			g.Expect(revs[0].Status).To(Equal(database.RevisionSucceeded))
			g.Expect(revs[0].PlanHash).To(Equal(plan.Hash))
			g.Expect(revs[0].Approver).To(Equal("bob"))
			g.Expect(revs[0].Object).To(Equal("uid-1 default/tags"))
			g.Expect(revs[0].Scripts).To(HaveLen(2))
			g.Expect(d.queryString(t, "SELECT COUNT(*) FROM tags")).To(Equal("1"), "the data script ran once")
		})
	}
}

func TestInvalidSQLChangesNothing(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows)
			in := planner.Input{Scripts: scripts("CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));\nCREATE TABLEX broken (id int);")}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			_, err := pl.Plan(ctx, d.target, in)
			var invalid *planner.InvalidSQLError
			g.Expect(errors.As(err, &invalid)).To(BeTrue(), "%v", err)
			g.Expect(invalid.Script).To(Equal("a-script"))
			g.Expect(invalid.Index).To(Equal(1))
			g.Expect(err).To(MatchError(planner.ErrInvalidSQL))

			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: "sha256:whatever"})
			g.Expect(err).To(HaveOccurred())
			g.Expect(d.tables(t)).To(ConsistOf("users", "posts"))
			g.Expect(d.revisions(t)).To(BeEmpty())
		})
	}
}

// A statement that passes on the (empty) dev database but fails on the
// target's data: PostgreSQL and SQLite roll the whole plan back; MySQL
// stops there, and the revision records the checkpoint.
func TestFailureOnTargetData(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows)
			in := planner.Input{Scripts: scripts("CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));\nCREATE UNIQUE INDEX users_name_key ON users (name);")}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())

			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash})
			g.Expect(err).To(MatchError(planner.ErrApplyFailed))
			var failed *planner.StatementError
			g.Expect(errors.As(err, &failed)).To(BeTrue())
			g.Expect(failed.Index).To(Equal(1))
			g.Expect(failed.Total).To(Equal(2))
			g.Expect(err.Error()).To(ContainSubstring("statement 2 of 2 failed (script a-script, statement 2)"))
			if d.target.Engine.TransactionalDDL() {
				g.Expect(failed.RolledBack).To(BeTrue())
				g.Expect(d.tables(t)).To(ConsistOf("users", "posts"))
				// The failure is recorded, outside the rolled-back
				// transaction, with nothing done.
				revs := d.revisions(t)
				g.Expect(revs).To(HaveLen(1))
				g.Expect(revs[0].Status).To(Equal(database.RevisionFailed))
				g.Expect(revs[0].Done).To(Equal(0))
				g.Expect(revs[0].Error).To(ContainSubstring("the plan was rolled back"))
				return
			}
			g.Expect(failed.RolledBack).To(BeFalse())
			g.Expect(d.tables(t)).To(ConsistOf("users", "posts", "tags"))
			revs := d.revisions(t)
			g.Expect(revs).To(HaveLen(1))
			g.Expect(revs[0].Status).To(Equal(database.RevisionFailed))
			g.Expect(revs[0].Done).To(Equal(1))
			g.Expect(revs[0].Total).To(Equal(2))
			g.Expect(revs[0].Error).To(ContainSubstring("statement 2 of 2 failed"))
		})
	}
}

func TestLockBusy(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base)
			conn, err := d.db.Conn(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			unlock, err := d.target.Engine.Lock(ctx, conn, d.target.Identity(), 0)
			g.Expect(err).NotTo(HaveOccurred())
			defer func() { _ = unlock() }()
			in := planner.Input{Scripts: scripts("CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));")}
			pl := &planner.Planner{DevServers: dbtest.DevServers(), LockWait: 300_000_000}
			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: "sha256:x"})
			g.Expect(err).To(MatchError(planner.ErrLockBusy))
		})
	}
}
