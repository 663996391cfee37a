package controller

import (
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
)

// shadowOptions is the shadow-table strategy of dbm: its batch size, its
// backups, and status.shadowTable and status.backupInfo as it goes.
func shadowOptions(report *reporter, dbm *dbv1.DatabaseMigration, now func() time.Time) *planner.ShadowTableOptions {
	rb := dbm.Spec.Rollback
	return &planner.ShadowTableOptions{
		BatchSize: int(dbm.Spec.Migration.BatchSize),
		// Without a word from the spec the old table is kept: a rollback
		// after the swap needs it.
		PreserveBackup: rb == nil || rb.PreserveBackup == nil || *rb.PreserveBackup,
		Progress: func(p shadow.Progress) {
			report.update(p.SyncStatus != shadow.StatusCopying, func() {
				synced := metav1.NewTime(p.LastSync)
				dbm.Status.ShadowTable = &dbv1.ShadowTableInfo{
					Name: p.Shadow, SyncStatus: string(p.SyncStatus), RowsProcessed: p.RowsProcessed, TotalRows: p.TotalRows, LastSyncTime: &synced,
				}
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
}
