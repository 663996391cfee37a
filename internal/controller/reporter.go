package controller

import (
	"context"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// progressInterval bounds how often a long apply writes its progress.
const progressInterval = time.Second

// reporter writes to status what a running apply reports: statement
// progress, rolling steps, a shadow copy, a blue-green copy, the start of a
// rollback. There is one per apply, so callbacks from steps running side
// by side take turns on the object and its status writer; mu is the apply
// job's, so a reconcile reading the job's status takes its turn too.
type reporter struct {
	ctx    context.Context
	status *statusWriter
	now    func() time.Time

	mu   *sync.Mutex
	last time.Time
}

func (r *DatabaseMigrationReconciler) newReporter(ctx context.Context, status *statusWriter, mu *sync.Mutex) *reporter {
	return &reporter{ctx: ctx, status: status, now: r.now, mu: mu}
}

// update makes change to the status and writes it: at once when now is
// true (a phase, a step, the end of a copy), otherwise at most once per
// progressInterval. A failed write is logged; the reconcile that records
// the apply's outcome writes what is left.
func (p *reporter) update(now bool, change func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change()
	if !now && p.now().Sub(p.last) < progressInterval {
		return
	}
	p.last = p.now()
	if err := p.status.flush(p.ctx); err != nil {
		ctrl.LoggerFrom(p.ctx).Error(err, "writing the apply's progress")
	}
}
