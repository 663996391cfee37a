package planner_test

import (
	"context"
	"net/url"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// TestSchemaPerTenant plans and applies on PostgreSQL schemas of one
// database: each tenant's plan reads and changes its own schema only, and
// its revisions are its own.
func TestSchemaPerTenant(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	raw := dbtest.NewPostgresDatabase(t)
	admin := dbtest.OpenPostgres(t, raw)
	for _, s := range []string{"tenant_a", "tenant_b"} {
		_, err := admin.Exec("CREATE SCHEMA " + s + "; CREATE TABLE " + s + ".users (id int PRIMARY KEY)")
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err := admin.Exec("ALTER TABLE tenant_b.users ADD COLUMN legacy text")
	g.Expect(err).NotTo(HaveOccurred())

	tenant := func(schema string) *database.Target {
		u, err := url.Parse(raw)
		g.Expect(err).NotTo(HaveOccurred())
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		target, err := database.ParseURL(u.String())
		g.Expect(err).NotTo(HaveOccurred())
		return target
	}
	in := planner.Input{Scripts: scripts("ALTER TABLE users ADD COLUMN age int;")}
	pl := &planner.Planner{DevServers: dbtest.DevServers()}

	a, b := tenant("tenant_a"), tenant("tenant_b")
	planA, err := pl.Plan(ctx, a, in)
	g.Expect(err).NotTo(HaveOccurred())
	planB, err := pl.Plan(ctx, b, in)
	g.Expect(err).NotTo(HaveOccurred())
	t.Logf("tenant_a: %v", planA.Statements)
	g.Expect(planA.Hash).NotTo(Equal(planB.Hash), "the schemas differ, and so does where the plans apply")

	_, err = pl.Apply(ctx, a, in, planner.ApplyOptions{ExpectHash: planA.Hash, Identity: "test", Approver: "alice"})
	g.Expect(err).NotTo(HaveOccurred())

	var n int
	g.Expect(admin.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'tenant_a' AND column_name = 'age'").Scan(&n)).To(Succeed())
	g.Expect(n).To(Equal(1))
	g.Expect(admin.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_schema <> 'tenant_a' AND column_name = 'age'").Scan(&n)).To(Succeed())
	g.Expect(n).To(Equal(0), "no other schema changed")

	again, err := pl.Plan(ctx, b, in)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.Hash).To(Equal(planB.Hash), "tenant_b's plan does not see tenant_a's revision")
	_, err = pl.Apply(ctx, b, in, planner.ApplyOptions{ExpectHash: planB.Hash, Identity: "test", Approver: "alice"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'tenant_b' AND column_name = 'age'").Scan(&n)).To(Succeed())
	g.Expect(n).To(Equal(1))
}
