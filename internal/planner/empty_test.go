package planner_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// TestPlanEmpty plans scripts as a CI job does, with only a dev database:
// the target is named, never reached.
func TestPlanEmpty(t *testing.T) {
	const script = `CREATE TABLE users (id int NOT NULL, name varchar(50), PRIMARY KEY (id));
ALTER TABLE users ADD COLUMN email varchar(100) NOT NULL;
UPDATE users SET name = 'x' WHERE id > 3;
ALTER TABLE users DROP COLUMN email;
`
	sqliteFile := filepath.Join(t.TempDir(), "never-created.db")
	for _, tc := range []struct {
		name   string
		cfg    database.Config
		devURL string
	}{
		{"sqlite, in memory", database.Config{Kind: database.KindSQLite, Database: sqliteFile}, ""},
		{"postgres, on a dev database", database.Config{Kind: database.KindPostgreSQL, Host: "db.invalid", Database: "shop"}, dbtest.NewPostgresDatabase(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			target, err := database.Nominal(tc.cfg)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(target.URL.User).To(BeNil())
			pl := &planner.Planner{DevURL: tc.devURL}
			plan, err := pl.PlanEmpty(context.Background(), target, planner.Input{Scripts: scripts(script)})
			g.Expect(err).NotTo(HaveOccurred())

			g.Expect(plan.Statements).To(HaveLen(4))
			g.Expect(plan.Changes).To(ContainElements(ContainSubstring("create table users"), ContainSubstring("drop column users.email")))
			g.Expect(plan.Steps[3].Line).To(Equal(4))
			var codes []string
			for _, d := range plan.Diagnostics {
				codes = append(codes, d.Code)
			}
			// Dropping a column added in the same script loses nothing
			// that was there before, and a NOT NULL column added to a
			// table of the same script meets no rows: Atlas reports
			// neither.
			g.Expect(codes).NotTo(ContainElement("DS103"), "%+v", plan.Diagnostics)
			g.Expect(codes).NotTo(ContainElement("MF103"), "%+v", plan.Diagnostics)
			g.Expect(plan.Hash).To(HavePrefix("sha256:"))
			g.Expect(plan.Rollback).To(ContainElement(ContainSubstring("DROP TABLE")))
		})
	}
	_, err := os.Stat(sqliteFile)
	NewWithT(t).Expect(os.IsNotExist(err)).To(BeTrue(), "the SQLite target was never opened")
}

// TestPlanEmptyRefusesTheTargetsServer: the dev database is emptied
// before and after a plan, so it may not be on the server the target
// names, even when the target is not reached.
func TestPlanEmptyRefusesTheTargetsServer(t *testing.T) {
	g := NewWithT(t)
	dev := dbtest.NewPostgresDatabase(t)
	devTarget, err := database.ParseURL(dev)
	g.Expect(err).NotTo(HaveOccurred())
	port, err := strconv.Atoi(devTarget.URL.Port())
	g.Expect(err).NotTo(HaveOccurred())
	target, err := database.Nominal(database.Config{Kind: database.KindPostgreSQL, Host: devTarget.URL.Hostname(), Port: int32(port), Database: "shop"})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = (&planner.Planner{DevURL: dev}).PlanEmpty(context.Background(), target, planner.Input{Scripts: scripts("CREATE TABLE t (id int);")})
	g.Expect(err).To(MatchError(planner.ErrNoDevDatabase))
}
