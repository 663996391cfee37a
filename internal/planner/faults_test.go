package planner_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/faultproxy"
)

// The faults an apply is put through, between the operator and the
// database server: every connection dropped, traffic stalled past the
// apply's deadline, the server killed (SIGKILL) and started again.
const (
	faultDrop  = "drop"
	faultStall = "stall"
	faultKill  = "kill -9"
)

// TestApplyThroughAFault puts an apply of every strategy, on PostgreSQL
// and MariaDB, through each fault in the middle of its work (after the
// first statement or step, or within the shadow-table or blue-green copy),
// then lets the next apply of the same approved plan run. Each case must
// end in a state a person can trust: applied exactly once, no row lost,
// the revision table true, the migration lock free, nothing left behind
// (shadow tables, triggers) once the plan is applied. It prints one line
// of a results table per case. SQLite has no server or network to fail.
func TestApplyThroughAFault(t *testing.T) {
	const rows = 200
	var (
		mu      sync.Mutex
		results []string
	)
	t.Cleanup(func() {
		fmt.Fprintf(os.Stdout, "%-8s %-14s %-9s %-50s %9s %14s %10s\n", "fault", "strategy", "engine", "outcome", "rows lost", "double applies", "leftovers")
		for _, r := range results {
			fmt.Fprintln(os.Stdout, r)
		}
	})
	// The servers the kill cases kill are the test's own.
	var servers sync.Map
	serverFor := func(t *testing.T, e string) *dbtest.Server {
		if s, ok := servers.Load(e); ok {
			return s.(*dbtest.Server)
		}
		s := dbtest.StartServer(t, e)
		servers.Store(e, s)
		return s
	}
	// The servers outlive the subtest that started them.
	parent := t
	for _, e := range []engine{{"postgres", dbtest.NewPostgresDatabase}, {"mysql", dbtest.NewMySQLDatabase}} {
		for _, strategy := range planner.Strategies {
			for _, fault := range []string{faultDrop, faultStall, faultKill} {
				t.Run(fmt.Sprintf("%s/%s/%s", e.name, strategy, fault), func(t *testing.T) {
					g := NewWithT(t)
					ctx := context.Background()
					var server *dbtest.Server
					if fault == faultKill {
						server = serverFor(parent, e.name)
						e = engine{e.name, server.NewDatabase}
					}
					d := newTestDB(t, e)
					d.exec(t, "CREATE TABLE users (id int NOT NULL, name varchar(50), PRIMARY KEY (id));")
					values := make([]string, rows)
					for i := range values {
						values[i] = fmt.Sprintf("(%d, 'u%d')", i, i)
					}
					d.exec(t, "INSERT INTO users (id, name) VALUES "+strings.Join(values, ", ")+";")
					in := planner.Input{Scripts: scripts(
						"ALTER TABLE users ADD COLUMN a int;",
						"ALTER TABLE users ADD COLUMN b int;",
						"ALTER TABLE users ADD COLUMN c int;",
					)}
					// The operator reaches the server through the proxy,
					// and plans there too: where a plan applies is in its
					// hash. A killed server needs no proxy.
					via := d.target
					var proxy *faultproxy.Proxy
					if fault != faultKill {
						proxy, via = d.throughProxy(t)
					}
					pl := &planner.Planner{DevServers: dbtest.DevServers(), LockWait: 2 * time.Second}
					plan, err := pl.Plan(ctx, via, in)
					g.Expect(err).NotTo(HaveOccurred())

					var once sync.Once
					inject := func() {
						once.Do(func() {
							switch fault {
							case faultDrop:
								proxy.Drop()
							case faultStall:
								proxy.Stall(true)
							case faultKill:
								server.Kill(t)
							}
						})
					}
					opts := planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/add-columns", Approver: "rita", Strategy: strategy}
					var green string
					switch strategy {
					case planner.StrategyTransactional:
						opts.Progress = func(done, _ int, _ string) {
							if done == 1 {
								inject()
							}
						}
					case planner.StrategyRolling:
						opts.Step = func(p planner.StepProgress) {
							if p.Done == 1 {
								inject()
							}
						}
					case planner.StrategyShadowTable:
						opts.ShadowTable = &planner.ShadowTableOptions{BatchSize: 20, Progress: func(p shadow.Progress) {
							if p.RowsProcessed > 0 {
								inject()
							}
						}}
					case planner.StrategyBlueGreen:
						green = greenOf(t, d)
						opts.BlueGreen = &planner.BlueGreenOptions{Green: green, BatchSize: 20, Progress: func(_ string, done, _ int64) {
							if done > 0 {
								inject()
							}
						}}
					}
					if fault == faultStall {
						opts.Deadline = time.Now().Add(3 * time.Second)
					}
					_, faultErr := pl.Apply(ctx, via, in, opts)
					switch fault {
					case faultStall:
						proxy.Stall(false)
					case faultKill:
						server.Restart(t)
					}
					g.Expect(faultErr).To(HaveOccurred(), "the apply sees the fault")
					t.Logf("the fault: %v", faultErr)

					// The locks are free once the server sees the session go.
					locked := []*database.Target{via}
					if green != "" {
						locked = append(locked, greenTarget(&testDB{target: via}, green))
					}
					for _, target := range locked {
						g.Eventually(func() error {
							conn, err := d.db.Conn(ctx)
							if err != nil {
								return err
							}
							defer func() { _ = conn.Close() }()
							unlock, err := target.Engine.Lock(ctx, conn, target.Identity(), 100*time.Millisecond)
							if err != nil {
								return err
							}
							return unlock()
						}, "30s", "200ms").Should(Succeed(), "the migration lock is released")
					}

					// The revision table says what stays applied.
					cols := len(d.columns(t, "users")) - 2
					done := 0
					for _, r := range d.revisions(t) {
						if r.Status == database.RevisionCheckpoint || r.Status == database.RevisionRunning || r.Status == database.RevisionFailed {
							done = max(done, r.Done)
						}
					}
					switch {
					case strategy == planner.StrategyShadowTable || strategy == planner.StrategyBlueGreen:
						g.Expect(cols).To(BeZero(), "the table is as it was until the swap (shadow-table), and blue is never written")
					case e.name == "postgres" && strategy == planner.StrategyTransactional:
						g.Expect(cols).To(BeZero(), "one transaction: nothing stays")
					case e.name == "postgres":
						g.Expect(done).To(Equal(cols), "the revision table names the statements that stay applied")
					default:
						// Without transactional DDL the statement in flight may
						// land after its record was lost; the next apply finds it.
						g.Expect(cols).To(BeElementOf(done, done+1), "the revision table names the statements that stay applied, all but the one in flight")
					}
					// What the fault left behind, the failure names.
					left := leftovers(t, d)
					for _, l := range left {
						kind, name, _ := strings.Cut(l, " ")
						if kind == "trigger" {
							name = "triggers"
						}
						g.Expect(faultErr.Error()).To(ContainSubstring(name), "the failure names the %s left behind", l)
					}
					if green != "" {
						exists, err := bluegreen.Exists(ctx, d.target, green)
						g.Expect(err).NotTo(HaveOccurred())
						if exists {
							g.Expect(faultErr.Error()).To(ContainSubstring(green), "the failure names the green database left behind")
						}
					}

					// The next apply of the approved plan finishes it.
					opts.Progress, opts.Step, opts.Deadline = nil, nil, time.Time{}
					if opts.ShadowTable != nil {
						opts.ShadowTable.Progress = nil
					}
					if opts.BlueGreen != nil {
						opts.BlueGreen.Progress = nil
					}
					res, err := pl.Apply(ctx, via, in, opts)
					if err != nil && strategy == planner.StrategyRolling && e.name == "mysql" && strings.Contains(err.Error(), "does not guess") {
						// A step ran without its checkpoint: no record says
						// it started, so the apply refuses, naming it, and
						// runs nothing.
						g.Expect(err.Error()).To(MatchRegexp(`rolling step [a-c]-script cannot run`))
						g.Expect(len(d.columns(t, "users"))-2).To(Equal(cols), "the refused apply ran nothing")
						g.Expect(leftovers(t, d)).To(BeEmpty())
						var n int
						g.Expect(d.db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)).To(Succeed())
						g.Expect(n).To(Equal(rows))
						mu.Lock()
						results = append(results, fmt.Sprintf("%-8s %-14s %-9s %-50s %9d %14d %10d", fault, strategy, e.name,
							fmt.Sprintf("refused: a step ran, unrecorded (%d of 3)", cols), rows-n, 0, 0))
						mu.Unlock()
						return
					}
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
					applied := d
					if green != "" {
						g.Expect(d.columns(t, "users")).To(ConsistOf("id", "name"), "blue is never written")
						applied = &testDB{target: greenTarget(d, green)}
						applied.db, err = applied.target.Open(ctx)
						g.Expect(err).NotTo(HaveOccurred())
						defer func() { _ = applied.db.Close() }()
					}
					g.Expect(applied.columns(t, "users")).To(ConsistOf("id", "name", "a", "b", "c"))
					var n int
					g.Expect(applied.db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)).To(Succeed())
					succeeded := 0
					for _, r := range applied.revisions(t) {
						if r.Status == database.RevisionSucceeded {
							succeeded++
						}
						g.Expect(r.Status).NotTo(Equal(database.RevisionRunning), "no revision is left running")
					}
					g.Expect(n).To(Equal(rows))
					g.Expect(succeeded).To(Equal(1))
					again, err := pl.Apply(ctx, via, in, opts)
					g.Expect(err).NotTo(HaveOccurred())
					g.Expect(again.AlreadyApplied).To(BeTrue())
					left = append(leftovers(t, d), leftovers(t, applied)...)
					g.Expect(left).To(BeEmpty(), "nothing is left behind once the plan is applied")

					mu.Lock()
					results = append(results, fmt.Sprintf("%-8s %-14s %-9s %-50s %9d %14d %10d", fault, strategy, e.name, outcome, rows-n, succeeded-1, len(left)))
					mu.Unlock()
				})
			}
		}
	}
}

// leftovers are the tables and triggers on d that are neither the test's
// table nor the revision table (nor, on green, the copy's marker): a
// shadow table, its triggers, a backup.
func leftovers(t *testing.T, d *testDB) []string {
	t.Helper()
	var left []string
	for _, table := range d.tables(t) {
		if table != "users" && table != database.RevisionTable && table != bluegreen.MarkerTable {
			left = append(left, "table "+table)
		}
	}
	query := "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = current_schema()"
	if d.target.Engine.Kinds()[0] == "mysql" {
		query = "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = database()"
	}
	rows, err := d.db.QueryContext(context.Background(), query)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var name string
		NewWithT(t).Expect(rows.Scan(&name)).To(Succeed())
		left = append(left, "trigger "+name)
	}
	NewWithT(t).Expect(rows.Err()).NotTo(HaveOccurred())
	slices.Sort(left)
	return left
}
