package controller

import (
	"testing"

	. "github.com/onsi/gomega"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"50GB": 50_000_000_000, "500MB": 500_000_000, "10KB": 10_000, "20Gi": 20 << 30, "20GiB": 20 << 30, "1024": 1024,
	} {
		g := NewWithT(t)
		got, err := parseSize(in)
		g.Expect(err).NotTo(HaveOccurred(), in)
		g.Expect(got).To(Equal(want), in)
	}
	_, err := parseSize("lots")
	NewWithT(t).Expect(err).To(HaveOccurred())
}

func TestDiskSpace(t *testing.T) {
	const gb = 1_000_000_000
	for _, tc := range []struct {
		name      string
		usage     database.DiskUsage
		threshold string
		want      dbv1.PreCheckOutcome
		message   string
	}{
		{"under, free known and enough", database.DiskUsage{Used: gb, Free: 100 * gb, FreeKnown: true}, "50GB", dbv1.PreCheckPassed, "under the threshold 50GB"},
		{"over the threshold", database.DiskUsage{Used: 60 * gb, Free: 100 * gb, FreeKnown: true}, "50GB", dbv1.PreCheckFailed, "over the threshold 50GB"},
		{"no room to grow", database.DiskUsage{Used: gb, Free: gb, FreeKnown: true}, "50GB", dbv1.PreCheckFailed, "only"},
		{"free unknown is never a pass", database.DiskUsage{Used: gb, Why: "the server hides it"}, "50GB", dbv1.PreCheckUnknown, "the server hides it"},
		{"bad threshold", database.DiskUsage{Used: gb}, "huge", dbv1.PreCheckFailed, "is not a size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got, message := diskSpace(tc.usage, tc.threshold)
			g.Expect(got).To(Equal(tc.want))
			g.Expect(message).To(ContainSubstring(tc.message))
		})
	}
}

func TestPreChecksCondition(t *testing.T) {
	g := NewWithT(t)
	dbm := &dbv1.DatabaseMigration{}
	ok, _ := preChecksCondition(dbm, []dbv1.PreCheckResult{
		{Type: dbv1.PreCheckConnection, Outcome: dbv1.PreCheckPassed, Message: "connected"},
		{Type: dbv1.PreCheckDiskSpace, Outcome: dbv1.PreCheckUnknown, Message: "free space unknown"},
	})
	g.Expect(ok).To(BeTrue())
	g.Expect(dbm.Status.Conditions).To(ContainElement(SatisfyAll(
		HaveField("Type", dbv1.ConditionPreChecks), HaveField("Reason", dbv1.ReasonPreChecksIncomplete))))

	ok, _ = preChecksCondition(dbm, []dbv1.PreCheckResult{{Type: dbv1.PreCheckConnection, Outcome: dbv1.PreCheckPassed, Message: "connected"}})
	g.Expect(ok).To(BeTrue())
	g.Expect(dbm.Status.Conditions).To(ContainElement(SatisfyAll(
		HaveField("Type", dbv1.ConditionPreChecks), HaveField("Reason", dbv1.ReasonPreChecksPassed))))

	ok, message := preChecksCondition(dbm, []dbv1.PreCheckResult{{Type: dbv1.PreCheckPermissions, Outcome: dbv1.PreCheckFailed, Message: "lacks ALTER"}})
	g.Expect(ok).To(BeFalse())
	g.Expect(message).To(ContainSubstring("permissions: lacks ALTER"))
}
