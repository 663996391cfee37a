package planner_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// TestRollbackOfAResumedApply: an apply cut short after statement 1 (the
// manager died, mid-plan or mid-rollback) is resumed by the next, whose
// statement 2 fails and rolls back. The rollback reaches back to where the
// resumed apply started, not to the schema the first apply started from:
// statement 1 stays, and the error and the revision table must say so,
// not that the schema is back where it was.
func TestRollbackOfAResumedApply(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engine{"mysql", dbtest.NewMySQLDatabase})
	d.exec(t, "CREATE TABLE users (id int NOT NULL, email varchar(100), PRIMARY KEY (id));")
	d.exec(t, "INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'a@example.com');")
	in := planner.Input{Scripts: scripts(
		"CREATE TABLE audit_log (id int PRIMARY KEY);",
		"ALTER TABLE users ADD UNIQUE INDEX users_email (email);",
	)}
	proxy, via := d.throughProxy(t)
	pl := &planner.Planner{DevServers: dbtest.DevServers(), LockWait: 2 * time.Second}
	plan, err := pl.Plan(ctx, via, in)
	g.Expect(err).NotTo(HaveOccurred())

	var once sync.Once
	opts := planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/unique-email", Approver: "rita",
		Progress: func(done, _ int, _ string) {
			if done == 1 {
				once.Do(proxy.Drop)
			}
		},
	}
	_, err = pl.Apply(ctx, via, in, opts)
	g.Expect(err).To(HaveOccurred(), "the first apply is cut short after statement 1")
	g.Eventually(func() error {
		conn, err := d.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		unlock, err := via.Engine.Lock(ctx, conn, via.Identity(), 100*time.Millisecond)
		if err != nil {
			return err
		}
		return unlock()
	}, "30s", "200ms").Should(Succeed(), "the cut-short apply's lock goes with its session")

	opts.Progress = nil
	opts.Rollback = func(error) bool { return true }
	_, err = pl.Apply(ctx, via, in, opts)
	g.Expect(err).To(HaveOccurred(), "statement 2 fails on the duplicate addresses")
	var rolledBack *planner.RolledBackError
	g.Expect(errors.As(err, &rolledBack)).To(BeFalse(), "not a rollback to the starting schema: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("statements 1 to 1 stay applied"))
	g.Expect(err.Error()).To(ContainSubstring("does not reach back past the 1 statement(s) an interrupted apply committed"))
	g.Expect(d.tables(t)).To(ContainElement("audit_log"))
	g.Expect(d.indexes(t, "users")).NotTo(ContainElement("users_email"))

	revs := d.revisions(t)
	g.Expect(revs).To(HaveLen(1), "the resumed apply records on the row the first one opened")
	g.Expect(revs[0].Status).To(Equal(database.RevisionFailed))
	g.Expect(revs[0].Done).To(Equal(1), "statement 1 stays applied")
}
