package planner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// withRows fills users with n rows, names unique unless dup.
func withRows(t *testing.T, d *testDB, n int) {
	t.Helper()
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(%d, 'user %d', 'u%d@example.com')", i, i, i)
	}
	d.exec(t, "INSERT INTO users (id, name, email) VALUES "+b.String()+";")
}

func count(t *testing.T, d *testDB, table string) string {
	return d.queryString(t, "SELECT count(*) FROM "+table)
}

func TestShadowTableChangesTablesThroughShadows(t *testing.T) {
	for _, e := range engines[1:] {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base)
			withRows(t, d, 1500)
			// Under the smallest connection limit a target may set: the
			// lock's connection and one for the copy.
			d.target.Limit = database.NewConnLimit(2)
			in := planner.Input{Scripts: scripts(
				"ALTER TABLE users ADD COLUMN age int;\nCREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));\nALTER TABLE posts ADD COLUMN body varchar(200);",
			)}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())

			var swapped []*shadow.Result
			var progress []shadow.Progress
			res, err := pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: planner.StrategyShadowTable, ShadowTable: &planner.ShadowTableOptions{
				BatchSize: 200, PreserveBackup: true,
				Progress: func(p shadow.Progress) { progress = append(progress, p) },
				Swapped:  func(r *shadow.Result) { swapped = append(swapped, r) },
			}})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(d.columns(t, "users")).To(ContainElement("age"))
			g.Expect(d.columns(t, "posts")).To(ContainElement("body"))
			g.Expect(count(t, d, "users")).To(Equal("1500"))
			g.Expect(swapped).To(HaveLen(2))
			g.Expect(swapped[0].Table).To(Equal("users"))
			g.Expect(swapped[0].Rows).To(Equal(int64(1500)))
			// Two connections leave none for a second copy lane.
			g.Expect(swapped[0].CopyLanes).To(Equal(1))
			g.Expect(swapped[0].Backup).NotTo(BeEmpty())
			g.Expect(res.LongestLock).To(BeNumerically(">", 0))
			g.Expect(progress).To(ContainElement(HaveField("SyncStatus", shadow.StatusCopying)))
			revs := d.revisions(t)
			g.Expect(revs[len(revs)-1].Status).To(Equal(database.RevisionSucceeded))
		})
	}
}

// A failure after two tables were swapped takes them back from their
// backups and drops what ran as it is.
func TestShadowTableRollsBackFromTheBackups(t *testing.T) {
	for _, e := range engines[1:] {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows)
			before := d.inspect(t)
			in := planner.Input{Scripts: scripts(
				"ALTER TABLE users ADD COLUMN age int;\nCREATE TABLE tags (id int NOT NULL, PRIMARY KEY (id));\nALTER TABLE posts ADD COLUMN body varchar(200);\nCREATE UNIQUE INDEX users_name_key ON users (name);",
			)}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{
				ExpectHash: plan.Hash, Rollback: rollbackAlways,
				Strategy: planner.StrategyShadowTable, ShadowTable: &planner.ShadowTableOptions{PreserveBackup: true},
			})
			g.Expect(err).To(MatchError(planner.ErrApplyFailed))
			var rolled *planner.RolledBackError
			g.Expect(errors.As(err, &rolled)).To(BeTrue(), "%v", err)
			g.Expect(d.tables(t)).To(ConsistOf("users", "posts"))
			g.Expect(d.columns(t, "users")).To(ConsistOf("id", "name", "email"))
			g.Expect(d.columns(t, "posts")).To(ConsistOf("id", "user_id", "title"))
			g.Expect(count(t, d, "users")).To(Equal("3"))
			g.Expect(d.inspect(t).Tables).To(HaveLen(len(before.Tables)))
		})
	}
}

// The backup a shadow-table apply keeps, and what one cut short leaves,
// are not part of the schema: a declarative plan of the new schema leaves
// them alone, and the versioned
// plan's hash is what it was before the backup appeared.
func TestShadowTableBackupsAreNotPartOfTheSchema(t *testing.T) {
	for _, e := range engines[1:] {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, base+rows)
			in := planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;")}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Strategy: planner.StrategyShadowTable, ShadowTable: &planner.ShadowTableOptions{PreserveBackup: true}})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(d.queryString(t, "SELECT count(*) FROM _users_old")).To(Equal("3"), "the backup is kept")
			// What an apply cut short leaves (its next run starts them over):
			// the shadow, the log of the keys written during its copy, and
			// (MySQL, MariaDB) the replay's list of them.
			for _, left := range []string{"_users_new", "_users_shadow_log", "_users_shadow_keys"} {
				d.exec(t, "CREATE TABLE "+left+" (id int NOT NULL, PRIMARY KEY (id));")
			}

			const desired = "CREATE TABLE users (id int NOT NULL, name varchar(50) NOT NULL, email varchar(100), age int, PRIMARY KEY (id));\n" +
				"CREATE TABLE posts (id int NOT NULL, user_id int NOT NULL, title varchar(100), PRIMARY KEY (id));"
			decl, err := pl.Plan(ctx, d.target, planner.Input{Desired: &planner.Desired{Text: desired}})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(decl.Statements).To(BeEmpty(), "nothing to drop: %v", decl.Statements)
		})
	}
}
