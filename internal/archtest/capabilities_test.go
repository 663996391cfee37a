package archtest_test

import (
	"net/url"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/shadow"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// TestEveryEngineHasEveryCapability fails when a database kind has an
// engine but one of the packages the strategies lean on has no dialect for
// it: every kind is split and gated, its integrity checked; every server
// engine can also take shadow-table changes and blue-green copies.
func TestEveryEngineHasEveryCapability(t *testing.T) {
	kinds := []database.Kind{database.KindPostgreSQL, database.KindMySQL, database.KindMariaDB, database.KindSQLite}
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) {
			g := NewWithT(t)
			e, err := database.For(k)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(e.Kinds()).To(ContainElement(k))

			_, err = sqlstatic.SplitFor(sqlstatic.Dialect(k), "CREATE TABLE t (id int);")
			g.Expect(err).NotTo(HaveOccurred(), "sqlstatic splits %s", k)
			violations, err := sqlstatic.Gate{}.CheckScript(sqlstatic.Dialect(k), "GRANT ALL ON t TO someone;")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(violations).NotTo(BeEmpty(), "the gate reads %s", k)

			g.Expect(integrity.Supports(e)).To(BeTrue(), "integrity checks on %s", k)
			if e.Server() {
				g.Expect(shadow.Supports(e)).To(BeTrue(), "shadow-table on %s", k)
				g.Expect(bluegreen.Supports(e)).To(BeTrue(), "blue-green on %s", k)
				_, err := e.BuildURL(database.Config{Kind: k, Host: "db", Port: k.DefaultPort(), Database: "app", SSLMode: k.DefaultSSLMode()}, "u", "p")
				g.Expect(err).NotTo(HaveOccurred())
			}
			g.Expect(e.Identity(&url.URL{Scheme: e.Schemes()[0], Host: "db:1", Path: "/app"})).NotTo(BeEmpty())
		})
	}
}
