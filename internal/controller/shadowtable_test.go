package controller

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
)

func TestShadowOptionsFollowTheSpec(t *testing.T) {
	g := NewWithT(t)
	dbm := &dbv1.DatabaseMigration{}
	dbm.Spec.Migration.BatchSize = 1000

	opts := shadowOptions(nil, dbm, time.Now)
	g.Expect(opts.BatchSize).To(Equal(1000))
	g.Expect(opts.BatchTime).To(Equal(shadow.DefaultBatchTime), "batches are sized by time unless the spec says otherwise")
	g.Expect(opts.MaxLag).To(BeZero())
	g.Expect(opts.CutOverLockTimeout).To(BeZero(), "the shadow package's default")
	g.Expect(opts.CutOverAttempts).To(BeZero())

	dbm.Spec.Migration.ShadowTable = &dbv1.ShadowTableConfig{
		BatchTime:          &metav1.Duration{Duration: 200 * time.Millisecond},
		MaxLag:             &metav1.Duration{Duration: 2 * time.Second},
		CutOverLockTimeout: &metav1.Duration{Duration: 3 * time.Second},
		CutOverAttempts:    7,
	}
	opts = shadowOptions(nil, dbm, time.Now)
	g.Expect(opts.BatchTime).To(Equal(200 * time.Millisecond))
	g.Expect(opts.MaxLag).To(Equal(2 * time.Second))
	g.Expect(opts.CutOverLockTimeout).To(Equal(3 * time.Second))
	g.Expect(opts.CutOverAttempts).To(Equal(7))
}

func TestShadowTableStatusShowsThrottleAndCutOver(t *testing.T) {
	g := NewWithT(t)
	synced := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	info := shadowTableInfo(shadow.Progress{
		Shadow: "_users_new", SyncStatus: shadow.StatusThrottled, RowsProcessed: 10, TotalRows: 20, LastSync: synced,
		BatchSize: 5000, Throttled: 3 * time.Second, ThrottleReason: "lag 5s is over maxLag 1s",
		CutOverAttempts: 2, LongestLock: 12 * time.Millisecond,
	})
	g.Expect(*info).To(Equal(dbv1.ShadowTableInfo{
		Name: "_users_new", SyncStatus: "throttled", RowsProcessed: 10, TotalRows: 20, LastSyncTime: &metav1.Time{Time: synced},
		BatchSize: 5000, ThrottledTime: &metav1.Duration{Duration: 3 * time.Second}, ThrottleReason: "lag 5s is over maxLag 1s",
		CutOverAttempts: 2, LongestLock: &metav1.Duration{Duration: 12 * time.Millisecond},
	}))
	// Nothing measured yet: no durations.
	info = shadowTableInfo(shadow.Progress{Shadow: "_users_new", SyncStatus: shadow.StatusCopying})
	g.Expect(info.ThrottledTime).To(BeNil())
	g.Expect(info.LongestLock).To(BeNil())
}

func TestShadowTableSettingsKeepEarlierHashes(t *testing.T) {
	g := NewWithT(t)
	dbm := &dbv1.DatabaseMigration{}
	dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyShadowTable
	before := settingsText(dbm)
	g.Expect(before).NotTo(ContainSubstring("shadowTable"), "a spec without the block reads as before the block existed")

	dbm.Spec.Migration.ShadowTable = &dbv1.ShadowTableConfig{CutOverAttempts: 3}
	g.Expect(settingsText(dbm)).NotTo(Equal(before), "the block is part of what a reviewer approves")
}
