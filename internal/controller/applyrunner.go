package controller

import (
	"context"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// DefaultMaxConcurrentApplies is how many applies run at once when the
// reconciler is given no number.
const DefaultMaxConcurrentApplies = 4

// appliesEnded bounds the requeues waiting for a reconcile to record an
// ended apply; a full queue drops one, and the apply step's poll finds it.
const appliesEnded = 100

// applyRunner runs approved applies apart from the reconcile workers, so a
// long copy holds one of its own workers and never a worker that plans and
// checks drift for every other migration. Never two applies on one
// database: a job waits in the queue while its database's lock is held.
// A reconcile submits a job and watches it (Lookup); when it ends, the
// runner requeues the migration (ended), whose next reconcile records the
// outcome and lets the runner forget it. Jobs live in memory: after a
// restart a migration left Running is submitted again, and the revision
// table makes that safe.
type applyRunner struct {
	workers int
	// ended hears of every job that ended, to requeue its migration.
	ended chan event.GenericEvent
	locks databaseLocks

	mu    sync.Mutex
	wake  *sync.Cond
	jobs  map[types.UID]*applyJob
	queue []*applyJob
}

var _ manager.LeaderElectionRunnable = (*applyRunner)(nil)

// applyJob is one approved apply of one migration.
type applyJob struct {
	uid      types.UID
	hash     string
	object   types.NamespacedName
	database string
	// run applies and says how to record the outcome.
	run func(ctx context.Context) recordFunc

	// mu guards dbm's status and the writer's baseline: the apply's
	// progress reports change them while a reconcile reads them.
	mu     sync.Mutex
	dbm    *dbv1.DatabaseMigration
	status *statusWriter

	// running and record are the runner's, under its lock.
	running bool
	record  recordFunc
}

// recordFunc records an apply's outcome on the migration as a reconcile
// got it; it returns what the apply step returns.
type recordFunc func(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter) (ctrl.Result, bool, error)

func newApplyRunner(workers int) *applyRunner {
	if workers <= 0 {
		workers = DefaultMaxConcurrentApplies
	}
	a := &applyRunner{workers: workers, ended: make(chan event.GenericEvent, appliesEnded), jobs: map[types.UID]*applyJob{}}
	a.wake = sync.NewCond(&a.mu)
	return a
}

// NeedLeaderElection: only the leader applies, as only it reconciles.
func (a *applyRunner) NeedLeaderElection() bool { return true }

// Start runs the workers until ctx ends. The applies in flight see ctx
// end too (a database rolls back the open transaction); Start returns
// once they have.
func (a *applyRunner) Start(ctx context.Context) error {
	stop := context.AfterFunc(ctx, a.broadcast)
	defer stop()
	log := ctrl.Log.WithName("apply-runner")
	var wg sync.WaitGroup
	for range a.workers {
		wg.Go(func() {
			for {
				job, unlock := a.next(ctx)
				if job == nil {
					return
				}
				jobCtx := ctrl.LoggerInto(ctx, log.WithValues("DatabaseMigration", job.object, "plan", job.hash))
				record := job.run(jobCtx)
				unlock()
				a.finish(job, record)
			}
		})
	}
	wg.Wait()
	return nil
}

// next waits for a queued job whose database is free, and takes the
// database's lock for it; nil once ctx ended.
func (a *applyRunner) next(ctx context.Context) (*applyJob, func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ctx.Err() == nil {
		for i, job := range a.queue {
			if unlock, ok := a.tryLock(job.database); ok {
				a.queue = slices.Delete(a.queue, i, i+1)
				job.running = true
				return job, unlock
			}
		}
		a.wake.Wait()
	}
	return nil, nil
}

func (a *applyRunner) finish(job *applyJob, record recordFunc) {
	a.mu.Lock()
	job.running, job.record = false, record
	a.mu.Unlock()
	obj := &dbv1.DatabaseMigration{ObjectMeta: metav1.ObjectMeta{Namespace: job.object.Namespace, Name: job.object.Name}}
	select {
	case a.ended <- event.GenericEvent{Object: obj}:
	default:
	}
}

func (a *applyRunner) broadcast() {
	a.mu.Lock()
	a.wake.Broadcast()
	a.mu.Unlock()
}

// TryLock takes the lock of a database without waiting, as the runner
// does for each apply; releasing it lets a job waiting for that database
// start.
func (a *applyRunner) TryLock(database string) (unlock func(), ok bool) {
	return a.tryLock(database)
}

func (a *applyRunner) tryLock(database string) (func(), bool) {
	unlock, ok := a.locks.TryLock(database)
	if !ok {
		return nil, false
	}
	return func() { unlock(); a.broadcast() }, true
}

// Submit queues job unless the migration has one already (a reconcile
// that submits twice, from a stale cache, starts one apply); it returns
// the migration's job.
func (a *applyRunner) Submit(job *applyJob) *applyJob {
	a.mu.Lock()
	defer a.mu.Unlock()
	if existing, ok := a.jobs[job.uid]; ok {
		return existing
	}
	a.jobs[job.uid] = job
	a.queue = append(a.queue, job)
	a.wake.Broadcast()
	return job
}

// Lookup finds the migration's job: nil when there is none; record is
// set once it ended.
func (a *applyRunner) Lookup(uid types.UID) (job *applyJob, record recordFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	job = a.jobs[uid]
	if job == nil {
		return nil, nil
	}
	return job, job.record
}

// Forget drops a job that ended, once its outcome is recorded.
func (a *applyRunner) Forget(job *applyJob) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.jobs[job.uid] == job && job.record != nil {
		delete(a.jobs, job.uid)
	}
}

// Drop is for a migration being deleted: a job that has not started is
// dropped, as is the outcome of one that ended; running says one is
// still applying, and stays.
func (a *applyRunner) Drop(uid types.UID) (running bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	job := a.jobs[uid]
	switch {
	case job == nil:
		return false
	case job.running:
		return true
	}
	a.queue = slices.DeleteFunc(a.queue, func(j *applyJob) bool { return j == job })
	delete(a.jobs, uid)
	return false
}

// adoptInto gives a reconcile the status as the apply reported it, and the
// writer's baseline as the apply last wrote it, so what the reconcile
// writes lands on the apply's progress whatever its cache has seen.
func (j *applyJob) adoptInto(dbm *dbv1.DatabaseMigration, status *statusWriter) {
	j.mu.Lock()
	defer j.mu.Unlock()
	dbm.Status = *j.dbm.Status.DeepCopy()
	status.written = j.status.written.DeepCopy()
}
