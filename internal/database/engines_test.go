package database_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// engineCase makes a fresh, empty database of one engine for a test.
type engineCase struct {
	name  string
	fresh func(t *testing.T) string
}

var engineCases = []engineCase{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "test.db") }},
	{"postgres", func(t *testing.T) string { return dbtest.NewPostgresDatabase(t) }},
	{"mysql", func(t *testing.T) string { return dbtest.NewMySQLDatabase(t) }},
}

func TestLockIsExclusive(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			target, err := database.ParseURL(tc.fresh(t))
			g.Expect(err).NotTo(HaveOccurred())
			db1, err := target.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer db1.Close()
			db2, err := target.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer db2.Close()
			c1, err := db1.Conn(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer c1.Close()
			c2, err := db2.Conn(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer c2.Close()

			unlock, err := target.Engine.Lock(ctx, c1, target.Identity(), time.Second)
			g.Expect(err).NotTo(HaveOccurred())

			_, err = target.Engine.Lock(ctx, c2, target.Identity(), 300*time.Millisecond)
			g.Expect(err).To(MatchError(database.ErrLockBusy))

			g.Expect(unlock()).To(Succeed())
			unlock2, err := target.Engine.Lock(ctx, c2, target.Identity(), time.Second)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(unlock2()).To(Succeed())
		})
	}
}

func TestRevisions(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			target, err := database.ParseURL(tc.fresh(t))
			g.Expect(err).NotTo(HaveOccurred())
			db, err := target.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer db.Close()
			revs := database.RevisionsOn(target.Engine, db)

			// Reading a database that never saw an apply creates nothing.
			all, err := revs.All(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(all).To(BeEmpty())
			drv, err := target.Driver(db)
			g.Expect(err).NotTo(HaveOccurred())
			s, err := drv.InspectSchema(ctx, target.Schema(), nil)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s.Tables).To(BeEmpty())

			g.Expect(revs.Ensure(ctx)).To(Succeed())
			g.Expect(revs.Ensure(ctx)).To(Succeed(), "Ensure is idempotent")
			started := time.Now().Truncate(time.Second)
			rev := &database.Revision{
				PlanHash: "sha256:abc", Object: "uid-1 default/m", Approver: "alice",
				Scripts:   []database.ScriptRecord{{Name: "001", Checksum: "sha256:01"}},
				StartedAt: started, Status: database.RevisionRunning, Total: 3,
			}
			id, err := revs.Insert(ctx, rev)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(id).To(BeNumerically(">", 0))

			got, err := revs.Succeeded(ctx, "sha256:abc")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(BeNil(), "a running revision is not applied")

			finished := time.Now()
			g.Expect(revs.Checkpoint(ctx, id, database.RevisionSucceeded, 3, &finished, "")).To(Succeed())
			got, err = revs.Succeeded(ctx, "sha256:abc")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).NotTo(BeNil())
			g.Expect(got.ID).To(Equal(id))
			g.Expect(got.Approver).To(Equal("alice"))
			g.Expect(got.Object).To(Equal("uid-1 default/m"))
			g.Expect(got.Done).To(Equal(3))
			g.Expect(got.Total).To(Equal(3))
			g.Expect(got.StartedAt.Unix()).To(Equal(started.Unix()))
			g.Expect(got.FinishedAt).NotTo(BeNil())

			applied, err := revs.AppliedScripts(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(applied).To(Equal(map[database.ScriptRecord]bool{{Name: "001", Checksum: "sha256:01"}: true}))
		})
	}
}

func TestScratchDatabase(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			target, err := database.ParseURL(tc.fresh(t))
			g.Expect(err).NotTo(HaveOccurred())
			db, err := target.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer db.Close()

			devURL, drop, err := target.Engine.Scratch(ctx, db, target.URL)
			g.Expect(err).NotTo(HaveOccurred())
			dev := &database.Target{Engine: target.Engine, URL: devURL}
			g.Expect(dev.Identity()).NotTo(Equal(target.Identity()))
			devDB, err := dev.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = devDB.ExecContext(ctx, "CREATE TABLE t (id int)")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(devDB.Close()).To(Succeed())
			g.Expect(drop(ctx)).To(Succeed())

			// The target did not see the dev database's table.
			drv, err := target.Driver(db)
			g.Expect(err).NotTo(HaveOccurred())
			s, err := drv.InspectSchema(ctx, target.Schema(), nil)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s.Tables).To(BeEmpty())
			if tc.name != "sqlite" {
				_, err = dev.Open(ctx)
				g.Expect(err).To(MatchError(database.ErrUnreachable), "the scratch database is gone")
			}
		})
	}
}
