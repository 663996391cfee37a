package planner_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// An apply inspects the target on the session that then runs the
// migration, with nested loops off for the inspection (see
// database.Engine.Inspecting): the migration's statements run with the
// session's own setting.
func TestMigrationsRunWithTheSessionsOwnPlannerSettings(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engine{"postgres", dbtest.NewPostgresDatabase})
	pl := &planner.Planner{DevServers: dbtest.DevServers()}
	in := planner.Input{Scripts: scripts("CREATE TABLE settings AS SELECT current_setting('enable_nestloop') AS nestloop;")}
	plan, err := pl.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.queryString(t, "SELECT nestloop FROM settings")).To(Equal("on"))
}
