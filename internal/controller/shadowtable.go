package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
)

// shadowOptions is the shadow-table strategy of dbm: its batch size, its
// backups, and status.shadowTable and status.backupInfo as it goes.
func (r *DatabaseMigrationReconciler) shadowOptions(ctx context.Context, dbm *dbv1.DatabaseMigration, status *statusWriter) *planner.ShadowTableOptions {
	rb := dbm.Spec.Rollback
	o := &planner.ShadowTableOptions{
		BatchSize: int(dbm.Spec.Migration.BatchSize),
		// Without a word from the spec the old table is kept: a rollback
		// after the swap needs it.
		PreserveBackup: rb == nil || rb.PreserveBackup == nil || *rb.PreserveBackup,
	}
	var mu sync.Mutex
	var last time.Time
	o.Progress = func(p shadow.Progress) {
		mu.Lock()
		defer mu.Unlock()
		synced := metav1.NewTime(p.LastSync)
		dbm.Status.ShadowTable = &dbv1.ShadowTableInfo{
			Name: p.Shadow, SyncStatus: string(p.SyncStatus), RowsProcessed: p.RowsProcessed, TotalRows: p.TotalRows, LastSyncTime: &synced,
		}
		if p.SyncStatus == shadow.StatusCopying && r.now().Sub(last) < progressInterval {
			return
		}
		last = r.now()
		if err := status.flush(ctx); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "writing shadow-table progress")
		}
	}
	o.Swapped = func(res *shadow.Result) {
		mu.Lock()
		defer mu.Unlock()
		if res.Backup == "" {
			return
		}
		now := metav1.NewTime(r.now())
		dbm.Status.BackupInfo = &dbv1.BackupInfo{Location: "table " + res.Backup, CreatedAt: &now}
		if res.BackupSize > 0 {
			dbm.Status.BackupInfo.Size = resource.NewQuantity(res.BackupSize, resource.BinarySI).String()
		}
	}
	return o
}

// shadowWithIntegrity adds the data integrity checks to each copy: the
// shadow must hold the live table's rows, by count and sampled checksum
// over the columns both share, before the swap.
func shadowWithIntegrity(o *planner.ShadowTableOptions, dbm *dbv1.DatabaseMigration, target *database.Target) *planner.ShadowTableOptions {
	if o == nil || dbm.Spec.Validation == nil {
		return o
	}
	opts, ok := integrity.OptionsFor(dbm.Spec.Validation.DataIntegrityChecks)
	if !ok {
		return o
	}
	o.Verify = func(ctx context.Context, q database.Querier, table, copyName string, columns []string) error {
		cols := make([]string, len(columns))
		for i, c := range columns {
			cols[i] = bareName(c)
		}
		if err := integrity.DiffTables(ctx, target.Engine, q, target.Schema(), bareName(table), bareName(copyName), cols, opts); err != nil {
			return fmt.Errorf("%w: %w", ErrDataCorruption, err)
		}
		return nil
	}
	return o
}

// bareName is a quoted, maybe qualified identifier as its bare name.
func bareName(s string) string {
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Trim(s, "`\"")
}
