package planner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// threeSteps is a rolling plan whose third step fails on the rows in
// rows (two users named alice) and passes once they are fixed.
func threeSteps() planner.Input {
	return planner.Input{Scripts: scripts(
		"CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));",
		"ALTER TABLE users ADD COLUMN age int;",
		"CREATE UNIQUE INDEX users_name_key ON users (name);",
	)}
}

func TestRollingRunsStepByStepWithCheckpoints(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows+"DELETE FROM users WHERE id = 3;")
			in := threeSteps()
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())

			var seen []planner.StepProgress
			res, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{
				ExpectHash: plan.Hash, Strategy: planner.StrategyRolling, Identity: "ns/m",
				Step: func(p planner.StepProgress) { seen = append(seen, p) },
			})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Resumed).To(Equal(0))
			g.Expect(d.tables(t)).To(ConsistOf("users", "posts", "tags"))
			g.Expect(seen).To(HaveLen(4))
			g.Expect(seen[0]).To(Equal(planner.StepProgress{Current: 1, Total: 3, Script: "a-script"}))
			g.Expect(seen[2]).To(Equal(planner.StepProgress{Current: 3, Total: 3, Script: "c-script", Done: 2}))
			g.Expect(seen[3]).To(Equal(planner.StepProgress{Current: 3, Total: 3, Done: 3}))

			revs := d.revisions(t)
			g.Expect(revs).To(HaveLen(4))
			for i, want := range []string{"a-script", "b-script", "c-script"} {
				g.Expect(revs[i].Status).To(Equal(database.RevisionCheckpoint))
				g.Expect(revs[i].Scripts).To(HaveLen(1))
				g.Expect(revs[i].Scripts[0].Name).To(Equal(want))
				g.Expect(revs[i].Done).To(Equal(i + 1))
			}
			g.Expect(revs[3].Status).To(Equal(database.RevisionSucceeded))
			g.Expect(revs[3].PlanHash).To(Equal(plan.Hash))

			// Applied once: the same approval does nothing again.
			again, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: planner.StrategyRolling})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again.AlreadyApplied).To(BeTrue())
		})
	}
}

// A rolling apply stopped at its third step resumes there: the first two
// steps are not run again, and the approved hash still applies.
func TestRollingResumesAfterTheLastCheckpoint(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows)
			in := threeSteps()
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())

			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: planner.StrategyRolling, Identity: "ns/m"})
			g.Expect(err).To(MatchError(planner.ErrApplyFailed))
			g.Expect(err.Error()).To(ContainSubstring("statement 3 of 3 failed (script c-script, statement 1)"))
			g.Expect(err.Error()).To(ContainSubstring("statements 1 to 2 stay applied"))
			g.Expect(d.tables(t)).To(ConsistOf("users", "posts", "tags"))
			g.Expect(d.columns(t, "users")).To(ContainElement("age"))

			// Fixing the rows changes no schema: the plan left is the one
			// the second checkpoint recorded.
			d.exec(t, "DELETE FROM users WHERE id = 3;")
			var seen []planner.StepProgress
			res, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{
				ExpectHash: plan.Hash, Strategy: planner.StrategyRolling, Identity: "ns/m",
				Step: func(p planner.StepProgress) { seen = append(seen, p) },
			})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Resumed).To(Equal(2))
			g.Expect(seen[0]).To(Equal(planner.StepProgress{Current: 3, Total: 3, Script: "c-script", Done: 2, Resumed: 2}))
			statuses := []string{}
			for _, r := range d.revisions(t) {
				statuses = append(statuses, r.Status)
			}
			g.Expect(statuses).To(Equal([]string{
				database.RevisionCheckpoint, database.RevisionCheckpoint, database.RevisionFailed,
				database.RevisionCheckpoint, database.RevisionSucceeded,
			}))
		})
	}
}

// A schema that moved since the last checkpoint is not resumed.
func TestRollingDoesNotResumeOnAMovedSchema(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows)
			in := threeSteps()
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: planner.StrategyRolling})
			g.Expect(err).To(MatchError(planner.ErrApplyFailed))

			d.exec(t, "DELETE FROM users WHERE id = 3;\nCREATE TABLE audit (id int NOT NULL, PRIMARY KEY (id));")
			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: planner.StrategyRolling})
			g.Expect(err).To(MatchError(planner.ErrHashMismatch))
			g.Expect(d.indexes(t, "users")).NotTo(ContainElement("users_name_key"))
		})
	}
}

// rollbackAlways is an automatic rollback on every failure.
func rollbackAlways(error) bool { return true }

// A failed apply with automatic rollback leaves the schema it started
// from, a renamed column's data included, and says so in the revision.
func TestAutomaticRollbackRestoresTheSchema(t *testing.T) {
	for _, e := range engines {
		for _, strategy := range []planner.Strategy{planner.StrategyTransactional, planner.StrategyRolling} {
			t.Run(e.name+"/"+string(strategy), func(t *testing.T) {
				g := NewWithT(t)
				ctx := context.Background()
				d := newTestDB(t, e)
				d.exec(t, base+rows)
				before := d.inspect(t)
				in := planner.Input{Scripts: scripts(
					"CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));",
					"ALTER TABLE users ADD COLUMN age int;\nALTER TABLE users RENAME COLUMN email TO mail;",
					"CREATE UNIQUE INDEX users_name_key ON users (name);",
				)}
				pl := &planner.Planner{DevServers: dbtest.DevServers()}
				plan, err := pl.Plan(ctx, d.target, in)
				g.Expect(err).NotTo(HaveOccurred())

				rollingBack := 0
				_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{
					ExpectHash: plan.Hash, Strategy: strategy, Identity: "ns/m",
					Rollback: rollbackAlways, RollingBack: func() { rollingBack++ },
				})
				g.Expect(err).To(MatchError(planner.ErrApplyFailed))
				var rolled *planner.RolledBackError
				g.Expect(errors.As(err, &rolled)).To(BeTrue(), "%v", err)
				g.Expect(err.Error()).To(ContainSubstring("the plan was rolled back, nothing was applied"))

				g.Expect(d.tables(t)).To(ConsistOf("users", "posts"))
				g.Expect(d.columns(t, "users")).To(ConsistOf("id", "name", "email"))
				var email string
				g.Expect(d.db.QueryRowContext(ctx, "SELECT email FROM users WHERE id = 1").Scan(&email)).To(Succeed())
				g.Expect(email).To(Equal("a@example.com"))
				g.Expect(d.inspect(t).Tables).To(HaveLen(len(before.Tables)))

				revs := d.revisions(t)
				g.Expect(revs[len(revs)-1].Status).To(Equal(database.RevisionRolledBack))
				for _, r := range revs {
					g.Expect(r.Status).To(Equal(database.RevisionRolledBack), "no step counts as applied after a rollback")
				}
				if strategy == planner.StrategyRolling || !d.target.Engine.TransactionalDDL() {
					g.Expect(rollingBack).To(Equal(1))
				}

				// Back where it started: the same plan.
				again, err := pl.Plan(ctx, d.target, in)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(again.Statements).To(Equal(plan.Statements))
				if d.target.Engine.Name() != "sqlite" {
					// SQLite drops a column by rebuilding the table, which
					// moves it in sqlite_master: the same schema, another
					// fingerprint.
					g.Expect(again.Hash).To(Equal(plan.Hash))
				}
			})
		}
	}
}

// A rolling step past its script's timeout is cancelled.
func TestRollingStepTimeout(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engines[1])
	d.exec(t, base)
	in := planner.Input{Scripts: scripts(
		"CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));",
		"SELECT pg_sleep(2);",
	)}
	pl := &planner.Planner{DevServers: dbtest.DevServers()}
	plan, err := pl.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{
		ExpectHash: plan.Hash, Strategy: planner.StrategyRolling,
		StepTimeouts: map[string]time.Duration{"b-script": 100 * time.Millisecond},
	})
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
	g.Expect(err.Error()).To(ContainSubstring("script b-script"))
	g.Expect(d.tables(t)).To(ConsistOf("users", "posts", "tags"))
}

// A transaction that holds its locks past MaxLockTime is stopped and
// rolled back, and says why.
func TestMaxLockTimeStopsTheApply(t *testing.T) {
	for _, strategy := range []planner.Strategy{planner.StrategyTransactional, planner.StrategyRolling} {
		g := NewWithT(t)
		ctx := context.Background()
		d := newTestDB(t, engines[1])
		d.exec(t, base)
		in := planner.Input{Scripts: scripts("CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));\nSELECT pg_sleep(2);")}
		pl := &planner.Planner{DevServers: dbtest.DevServers()}
		plan, err := pl.Plan(ctx, d.target, in)
		g.Expect(err).NotTo(HaveOccurred())
		_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: strategy, MaxLockTime: 100 * time.Millisecond})
		g.Expect(err).To(MatchError(planner.ErrLockTimeExceeded))
		g.Expect(err.Error()).To(ContainSubstring("downtime budget (100ms)"))
		g.Expect(d.tables(t)).To(ConsistOf("users", "posts"))
	}
}

// A graceful apply past its deadline stops before the next statement
// rather than cutting one short.
func TestGracefulDeadlineStopsBetweenStatements(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base)
			in := threeSteps()
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Graceful: true, Deadline: time.Now().Add(-time.Second)})
			g.Expect(err).To(MatchError(context.DeadlineExceeded))
			g.Expect(err.Error()).To(ContainSubstring("stopped gracefully"))
			g.Expect(d.tables(t)).To(ConsistOf("users", "posts"))
		})
	}
}

// parallelInput is a rolling plan whose two data scripts may run side by
// side: the first waits for an advisory lock the test holds, the second
// does not, so the second can only finish first if they run at once.
func parallelInput(lockKey int) planner.Input {
	s := scripts(
		"CREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));",
		fmt.Sprintf("SELECT pg_advisory_xact_lock(%d);\nUPDATE users SET email = 'waited@example.com' WHERE id = 1;", lockKey),
		"INSERT INTO posts (id, user_id, title) VALUES (2, 1, 'side by side');",
		"CREATE INDEX posts_user ON posts (user_id);",
	)
	s[1].Type, s[2].Type = "data", "data"
	s[1].DependsOn, s[2].DependsOn, s[3].DependsOn = []string{"a-script"}, []string{"a-script"}, []string{"b-script", "c-script"}
	return planner.Input{Scripts: s}
}

// lockingPlanner lets scripts take advisory locks (parallelInput's
// first data script waits for the test's), which the gate refuses by
// default: the migration's own lock is one.
func lockingPlanner() *planner.Planner {
	return &planner.Planner{DevServers: dbtest.DevServers(), AllowSQL: map[sqlstatic.Reach]bool{sqlstatic.ReachSession: true}}
}

// Independent data scripts of a rolling apply run at the same time, each
// with its own checkpoint; the schema scripts around them wait.
func TestRollingRunsIndependentDataScriptsInParallel(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engines[1])
	d.exec(t, base+rows)
	const lockKey = 4242
	in := parallelInput(lockKey)
	pl := lockingPlanner()
	plan, err := pl.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())

	done := applyPastTheLock(t, d, lockKey, pl, in, plan.Hash)
	g.Expect(d.queryString(t, "SELECT email FROM users WHERE id = 1")).To(Equal("waited@example.com"), "the first ran once let go")
	g.Expect(done).NotTo(HaveOccurred())

	statuses := []string{}
	scriptsDone := []string{}
	for _, r := range d.revisions(t) {
		statuses = append(statuses, r.Status)
		if r.Status == database.RevisionCheckpoint {
			scriptsDone = append(scriptsDone, r.Scripts[0].Name)
		}
	}
	g.Expect(statuses).To(Equal([]string{"checkpoint", "checkpoint", "checkpoint", "checkpoint", "succeeded"}))
	g.Expect(scriptsDone).To(Equal([]string{"a-script", "c-script", "b-script", "d-script"}), "c committed before b")
}

// A rolling apply whose parallel wave was cut short resumes with the step
// that did not commit: the one that did is not run again.
func TestRollingResumesAPartlyCommittedParallelWave(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engines[1])
	d.exec(t, base+rows)
	const lockKey = 4343
	in := parallelInput(lockKey)
	// The first data script fails on a duplicate key, once the test lets
	// it go on, after its partner committed.
	in.Scripts[1].SQL = fmt.Sprintf("SELECT pg_advisory_xact_lock(%d);\nINSERT INTO users (id, name) VALUES (1, 'dup');", lockKey)
	in.Scripts[1].Checksum = ""
	pl := lockingPlanner()
	plan, err := pl.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(applyPastTheLock(t, d, lockKey, pl, in, plan.Hash)).To(MatchError(planner.ErrApplyFailed))

	// Fixed data, same scripts: the partner's insert is not run again.
	d.exec(t, "DELETE FROM users WHERE id = 1;")
	res, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: planner.StrategyRolling, Parallel: true, Identity: "ns/m"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Resumed).To(Equal(2))
	g.Expect(d.queryString(t, "SELECT count(*) FROM posts WHERE title = 'side by side'")).To(Equal("1"))
	g.Expect(d.queryString(t, "SELECT name FROM users WHERE id = 1")).To(Equal("dup"))
}

// applyPastTheLock runs a parallel rolling apply of parallelInput while the
// test holds the lock the first data script waits for. It lets go only
// once the second data script has committed (it can only if the two run
// at once; the first is still waiting then) and returns how the apply
// ended.
func applyPastTheLock(t *testing.T, d *testDB, lockKey int, pl *planner.Planner, in planner.Input, hash string) error {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	holder, err := d.db.Conn(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = holder.Close() }()
	_, err = holder.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_lock(%d)", lockKey))
	g.Expect(err).NotTo(HaveOccurred())

	done := make(chan error, 1)
	go func() {
		_, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: hash, Strategy: planner.StrategyRolling, Parallel: true, Identity: "ns/m"})
		done <- err
	}()
	g.Eventually(func() string {
		return d.queryString(t, "SELECT count(*) FROM posts WHERE title = 'side by side'")
	}, "30s").Should(Equal("1"))
	g.Expect(d.queryString(t, "SELECT email FROM users WHERE id = 1")).To(Equal("a@example.com"), "the first is still waiting")
	_, err = holder.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_unlock(%d)", lockKey))
	g.Expect(err).NotTo(HaveOccurred())
	var applyErr error
	g.Eventually(done, "30s").Should(Receive(&applyErr))
	return applyErr
}
