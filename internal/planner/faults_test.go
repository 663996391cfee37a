package planner_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/faultproxy"
)

// TestApplyThroughAFault cuts the network between the operator and the
// database server in the middle of an apply (every connection dropped, or
// traffic stalled past the apply's deadline), then lets the next apply of
// the same approved plan run. Each case must end in a state a person can
// trust: applied exactly once, no row lost, the revision table true, the
// migration lock free. It prints one line of a results table per case.
func TestApplyThroughAFault(t *testing.T) {
	const rows = 200
	var (
		mu      sync.Mutex
		results []string
	)
	t.Cleanup(func() {
		fmt.Fprintf(os.Stdout, "%-8s %-14s %-9s %-34s %9s %14s\n", "fault", "strategy", "engine", "outcome", "rows lost", "double applies")
		for _, r := range results {
			fmt.Fprintln(os.Stdout, r)
		}
	})
	postgres, mysql := engine{"postgres", dbtest.NewPostgresDatabase}, engine{"mysql", dbtest.NewMySQLDatabase}
	for _, tc := range []struct {
		e        engine
		strategy planner.Strategy
		fault    string
	}{
		{postgres, planner.StrategyTransactional, "drop"},
		{postgres, planner.StrategyTransactional, "stall"},
		{postgres, planner.StrategyRolling, "drop"},
		{postgres, planner.StrategyRolling, "stall"},
		{mysql, planner.StrategyTransactional, "drop"},
		{mysql, planner.StrategyTransactional, "stall"},
		{mysql, planner.StrategyRolling, "drop"},
		{mysql, planner.StrategyRolling, "stall"},
	} {
		e, strategy, fault := tc.e, tc.strategy, tc.fault
		t.Run(fmt.Sprintf("%s/%s/%s", e.name, strategy, fault), func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, "CREATE TABLE users (id int NOT NULL, name varchar(50), PRIMARY KEY (id));")
			for i := range rows {
				d.exec(t, fmt.Sprintf("INSERT INTO users (id, name) VALUES (%d, 'u%d');", i, i))
			}
			in := planner.Input{Scripts: scripts(
				"ALTER TABLE users ADD COLUMN a int;",
				"ALTER TABLE users ADD COLUMN b int;",
				"ALTER TABLE users ADD COLUMN c int;",
			)}
			// The operator reaches the server through the proxy, and
			// plans there too: where a plan applies is in its hash.
			proxy, err := faultproxy.Start(d.target.URL.Host)
			g.Expect(err).NotTo(HaveOccurred())
			t.Cleanup(func() { _ = proxy.Close() })
			u := *d.target.URL
			u.Host = proxy.Addr()
			via, err := database.ParseURL(u.String())
			g.Expect(err).NotTo(HaveOccurred())
			pl := &planner.Planner{DevServers: dbtest.DevServers(), LockWait: 2 * time.Second}
			plan, err := pl.Plan(ctx, via, in)
			g.Expect(err).NotTo(HaveOccurred())

			// The fault comes after the first statement (or step).
			var once sync.Once
			inject := func() {
				once.Do(func() {
					if fault == "drop" {
						proxy.Drop()
					} else {
						proxy.Stall(true)
					}
				})
			}
			opts := planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/add-columns", Approver: "rita", Strategy: strategy,
				Progress: func(done, _ int, _ string) {
					if done == 1 {
						inject()
					}
				},
				Step: func(p planner.StepProgress) {
					if p.Done == 1 {
						inject()
					}
				},
			}
			if fault == "stall" {
				opts.Deadline = time.Now().Add(3 * time.Second)
			}
			_, faultErr := pl.Apply(ctx, via, in, opts)
			proxy.Stall(false)
			g.Expect(faultErr).To(HaveOccurred(), "the apply sees the fault")
			t.Logf("the fault: %v", faultErr)

			// The lock is free once the server sees the session go.
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
			}, "30s", "200ms").Should(Succeed(), "the migration lock is released")

			// The revision table says what stays applied.
			cols := len(d.columns(t, "users")) - 2
			done := 0
			for _, r := range d.revisions(t) {
				if r.Status == database.RevisionCheckpoint || r.Status == database.RevisionRunning || r.Status == database.RevisionFailed {
					done = max(done, r.Done)
				}
			}
			switch {
			case e.name == "postgres" && strategy == planner.StrategyTransactional:
				g.Expect(cols).To(BeZero(), "one transaction: nothing stays")
			case e.name == "postgres":
				g.Expect(done).To(Equal(cols), "the revision table names the statements that stay applied")
			default:
				// Without transactional DDL the statement in flight may
				// land after its record was lost; the next apply finds it.
				g.Expect(cols).To(BeElementOf(done, done+1), "the revision table names the statements that stay applied, all but the one in flight")
			}

			// The next apply of the approved plan finishes it.
			opts.Progress, opts.Step, opts.Deadline = nil, nil, time.Time{}
			res, err := pl.Apply(ctx, via, in, opts)
			outcome := "applied once after the fault"
			if err != nil {
				outcome = "FAILED: " + err.Error()
			} else if res.Resumed > 0 || cols > 0 {
				outcome = fmt.Sprintf("resumed after %d of 3", cols)
				if res.Landed != "" {
					outcome += " (" + res.Landed + " found run)"
				}
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(d.columns(t, "users")).To(ConsistOf("id", "name", "a", "b", "c"))
			var n int
			g.Expect(d.db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)).To(Succeed())
			succeeded := 0
			for _, r := range d.revisions(t) {
				if r.PlanHash == plan.Hash && r.Status == database.RevisionSucceeded {
					succeeded++
				}
				g.Expect(r.Status).NotTo(Equal(database.RevisionRunning), "no revision is left running")
			}
			g.Expect(n).To(Equal(rows))
			g.Expect(succeeded).To(Equal(1))
			again, err := pl.Apply(ctx, via, in, opts)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again.AlreadyApplied).To(BeTrue())

			mu.Lock()
			results = append(results, fmt.Sprintf("%-8s %-14s %-9s %-34s %9d %14d", fault, strategy, e.name, outcome, rows-n, succeeded-1))
			mu.Unlock()
		})
	}
}
