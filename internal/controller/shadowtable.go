package controller

import (
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
)

// shadowOptions is the shadow-table strategy of dbm: its batches, its
// throttle and cut-over, its backups, and status.shadowTable and
// status.backupInfo as it goes.
func shadowOptions(report *reporter, dbm *dbv1.DatabaseMigration, now func() time.Time) *planner.ShadowTableOptions {
	rb := dbm.Spec.Rollback
	// last is the phase last reported; Progress runs on the run's
	// goroutine only.
	var last shadow.SyncStatus
	opts := &planner.ShadowTableOptions{
		BatchSize: int(dbm.Spec.Migration.BatchSize),
		// Batches are sized by time unless the spec says otherwise: the
		// API's batchSize default (1000 rows) is only where they start.
		BatchTime: shadow.DefaultBatchTime,
		// Without a word from the spec the old table is kept: a rollback
		// after the swap needs it.
		PreserveBackup: rb == nil || rb.PreserveBackup == nil || *rb.PreserveBackup,
		Progress: func(p shadow.Progress) {
			// A new phase is written at once; the copy's batches, a
			// throttled copy's checks and the swap's retries at most once
			// per progressInterval.
			changed := p.SyncStatus != last
			last = p.SyncStatus
			report.update(changed && p.SyncStatus != shadow.StatusCopying || p.SyncStatus == shadow.StatusDone, func() {
				dbm.Status.ShadowTable = shadowTableInfo(p)
			})
		},
		Swapped: func(res *shadow.Result) {
			if res.Backup == "" {
				return
			}
			report.update(false, func() {
				created := metav1.NewTime(now())
				dbm.Status.BackupInfo = &dbv1.BackupInfo{Location: "table " + res.Backup, CreatedAt: &created}
				if res.BackupSize > 0 {
					dbm.Status.BackupInfo.Size = resource.NewQuantity(res.BackupSize, resource.BinarySI).String()
				}
			})
		},
	}
	if st := dbm.Spec.Migration.ShadowTable; st != nil {
		if st.BatchTime != nil {
			opts.BatchTime = st.BatchTime.Duration
		}
		if st.MaxLag != nil {
			opts.MaxLag = st.MaxLag.Duration
		}
		if st.CutOverLockTimeout != nil {
			opts.CutOverLockTimeout = st.CutOverLockTimeout.Duration
		}
		opts.CutOverAttempts = int(st.CutOverAttempts)
	}
	return opts
}

// shadowTableInfo is status.shadowTable for a run's progress.
func shadowTableInfo(p shadow.Progress) *dbv1.ShadowTableInfo {
	synced := metav1.NewTime(p.LastSync)
	info := &dbv1.ShadowTableInfo{
		Name: p.Shadow, SyncStatus: string(p.SyncStatus), RowsProcessed: p.RowsProcessed, TotalRows: p.TotalRows, LastSyncTime: &synced,
		BatchSize: int64(p.BatchSize), ThrottleReason: p.ThrottleReason, CutOverAttempts: int32(p.CutOverAttempts),
	}
	if p.Throttled > 0 {
		info.ThrottledTime = &metav1.Duration{Duration: p.Throttled}
	}
	if p.LongestLock > 0 {
		info.LongestLock = &metav1.Duration{Duration: p.LongestLock}
	}
	return info
}
