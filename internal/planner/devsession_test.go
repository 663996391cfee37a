package planner_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// The dev database's sessions run with the engine's dev settings (on
// PostgreSQL: no wait for the WAL at commit, no nested-loop joins), and
// the target's never do: the migration itself runs as the server is set.
func TestDevSessionSettingsStayOnTheDevDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	d := newTestDB(t, engine{"postgres", dbtest.NewPostgresDatabase})
	pl := &planner.Planner{DevServers: dbtest.DevServers()}
	record := `CREATE TABLE settings AS SELECT current_setting('synchronous_commit') AS sync, current_setting('enable_nestloop') AS nestloop;`

	// Replayed on the dev database, the script sees the dev settings.
	show := `DO $$ BEGIN RAISE EXCEPTION 'synchronous_commit=% enable_nestloop=%', current_setting('synchronous_commit'), current_setting('enable_nestloop'); END $$;`
	_, err := pl.Plan(ctx, d.target, planner.Input{Scripts: scripts(show)})
	g.Expect(err).To(MatchError(ContainSubstring("synchronous_commit=off enable_nestloop=off")))

	// Applied, it runs with the target's own (the test servers commit
	// without waiting already).
	in := planner.Input{Scripts: scripts(record)}
	plan, err := pl.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash})
	g.Expect(err).NotTo(HaveOccurred())
	own := d.queryString(t, "SELECT current_setting('synchronous_commit') || ' ' || current_setting('enable_nestloop')")
	g.Expect(own).To(HaveSuffix(" on"))
	g.Expect(d.queryString(t, "SELECT sync || ' ' || nestloop FROM settings")).To(Equal(own))
}
