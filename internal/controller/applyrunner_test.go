package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// testJobs builds runner jobs that hold until released and count how
// many run at once, overall and per database.
type testJobs struct {
	release chan struct{}
	running atomic.Int32
	most    atomic.Int32
	perDB   map[string]*atomic.Int32
	started atomic.Int32
	clash   atomic.Bool
}

func newTestJobs() *testJobs {
	return &testJobs{release: make(chan struct{}), perDB: map[string]*atomic.Int32{"a": {}, "b": {}, "c": {}}}
}

func (t *testJobs) job(uid, database string) *applyJob {
	return &applyJob{
		uid: types.UID(uid), hash: "sha256:" + uid, object: types.NamespacedName{Namespace: "default", Name: uid}, database: database,
		run: func(context.Context) recordFunc {
			t.started.Add(1)
			n := t.running.Add(1)
			for m := t.most.Load(); n > m && !t.most.CompareAndSwap(m, n); m = t.most.Load() {
			}
			if t.perDB[database].Add(1) > 1 {
				t.clash.Store(true)
			}
			<-t.release
			t.perDB[database].Add(-1)
			t.running.Add(-1)
			return func(context.Context, *dbv1.DatabaseMigration, *statusWriter) (ctrl.Result, bool, error) {
				return ctrl.Result{}, false, nil
			}
		},
	}
}

func startRunner(t *testing.T, workers int) *applyRunner {
	t.Helper()
	runner := newApplyRunner(workers)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = runner.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return runner
}

func TestApplyRunnerBoundsTheAppliesAndSerialisesEachDatabase(t *testing.T) {
	g := NewWithT(t)
	runner := startRunner(t, 2)
	jobs := newTestJobs()
	for _, j := range []struct{ uid, db string }{{"a1", "a"}, {"a2", "a"}, {"b1", "b"}, {"c1", "c"}} {
		runner.Submit(jobs.job(j.uid, j.db))
	}
	g.Eventually(jobs.running.Load).Should(BeEquivalentTo(2))
	g.Consistently(jobs.running.Load, 200*time.Millisecond).Should(BeEquivalentTo(2), "two workers, two applies")

	for range 4 {
		jobs.release <- struct{}{}
	}
	g.Eventually(jobs.started.Load).Should(BeEquivalentTo(4))
	g.Expect(jobs.most.Load()).To(BeEquivalentTo(2))
	g.Expect(jobs.clash.Load()).To(BeFalse(), "never two applies on one database")

	for range 4 {
		g.Eventually(runner.ended).Should(Receive())
	}
	for _, uid := range []types.UID{"a1", "a2", "b1", "c1"} {
		job, record := runner.Lookup(uid)
		g.Expect(job).NotTo(BeNil())
		g.Expect(record).NotTo(BeNil(), "the outcome waits to be recorded")
		runner.Forget(job)
		job, _ = runner.Lookup(uid)
		g.Expect(job).To(BeNil())
	}
}

func TestApplyRunnerSubmitsOnceAndDropsWhatHasNotStarted(t *testing.T) {
	g := NewWithT(t)
	runner := startRunner(t, 1)
	jobs := newTestJobs()

	first := jobs.job("a1", "a")
	g.Expect(runner.Submit(first)).To(BeIdenticalTo(first))
	g.Expect(runner.Submit(jobs.job("a1", "a"))).To(BeIdenticalTo(first), "a second submit of the migration is the first job")
	g.Eventually(jobs.started.Load).Should(BeEquivalentTo(1))
	runner.Forget(first)
	job, _ := runner.Lookup("a1")
	g.Expect(job).To(BeIdenticalTo(first), "a running job is not forgotten")

	queued := jobs.job("b1", "b")
	runner.Submit(queued)
	g.Expect(runner.Drop("a1")).To(BeTrue(), "a running job stays")
	g.Expect(runner.Drop("b1")).To(BeFalse())
	job, _ = runner.Lookup("b1")
	g.Expect(job).To(BeNil())

	jobs.release <- struct{}{}
	g.Eventually(runner.ended).Should(Receive())
	g.Consistently(jobs.started.Load, 200*time.Millisecond).Should(BeEquivalentTo(1), "the dropped job never ran")
	g.Expect(runner.Drop("a1")).To(BeFalse(), "an ended job is dropped with its outcome")
	job, _ = runner.Lookup("a1")
	g.Expect(job).To(BeNil())
}

func TestApplyRunnerWaitsForADatabaseAReconcileHolds(t *testing.T) {
	g := NewWithT(t)
	runner := startRunner(t, 2)
	jobs := newTestJobs()
	unlock, ok := runner.TryLock("a")
	g.Expect(ok).To(BeTrue())
	runner.Submit(jobs.job("a1", "a"))
	g.Consistently(jobs.started.Load, 200*time.Millisecond).Should(BeZero())
	unlock()
	g.Eventually(jobs.started.Load).Should(BeEquivalentTo(1))
	_, ok = runner.TryLock("a")
	g.Expect(ok).To(BeFalse(), "the apply holds its database")
	close(jobs.release)
}
