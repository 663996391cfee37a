package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
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

// shadowWithIntegrity adds the data integrity checks to each copy: the
// shadow must hold the live table's rows, by count and sampled checksum
// over the columns both share, before the swap.
func shadowWithIntegrity(o *planner.ShadowTableOptions, dbm *dbv1.DatabaseMigration, target *database.Target) *planner.ShadowTableOptions {
	if o == nil || dbm.Spec.Validation == nil {
		return o
	}
	opts, ok := integrityOptions(dbm.Spec.Validation.DataIntegrityChecks)
	if !ok {
		return o
	}
	o.Verify = func(ctx context.Context, q database.Querier, table, copyName string, columns []string) error {
		cols := make([]string, len(columns))
		for i, c := range columns {
			cols[i] = sqlstatic.BareName(c)
		}
		if err := integrity.DiffTables(ctx, target.Engine, q, target.Schema(), sqlstatic.BareName(table), sqlstatic.BareName(copyName), cols, opts); err != nil {
			return fmt.Errorf("%w: %w", ErrDataCorruption, err)
		}
		return nil
	}
	return o
}
