package database_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

func TestServerVersionAndPrivilegesOfAnOwner(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			target, err := database.ParseURL(tc.fresh(t))
			g.Expect(err).NotTo(HaveOccurred())
			db, err := target.Open(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			defer db.Close()

			version, err := target.Engine.ServerVersion(context.Background(), db)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(version).To(MatchRegexp(`^(PostgreSQL|MariaDB|MySQL|SQLite) \d+\.\d+`))

			missing, err := target.Engine.MissingPrivileges(context.Background(), db, target.Schema())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(missing).To(BeEmpty(), "the superuser who made the database lacks nothing")
		})
	}
}

func TestMissingPrivilegesOfALimitedUser(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		g := NewWithT(t)
		dbURL := dbtest.NewPostgresDatabase(t)
		admin := dbtest.OpenPostgres(t, dbURL)
		mustExec(t, admin, "CREATE TABLE owned_by_admin (id int)")
		role := limitedName(t)
		mustExec(t, admin, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'pw'", role))
		t.Cleanup(func() { _, _ = admin.Exec("DROP OWNED BY " + role); _, _ = admin.Exec("DROP ROLE " + role) })

		missing := missingAs(t, g, dbURL, role, "pw")
		g.Expect(missing).To(ConsistOf("CREATE on schema public", "ownership of public.owned_by_admin (ALTER and DROP need it)"))
	})
	t.Run("mysql", func(t *testing.T) {
		g := NewWithT(t)
		dbURL := dbtest.NewMySQLDatabase(t)
		admin := dbtest.OpenMySQL(t, dbURL)
		user := limitedName(t)
		dbName := strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
		mustExec(t, admin, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw'", user))
		t.Cleanup(func() { _, _ = admin.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
		mustExec(t, admin, fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON `%s`.* TO '%s'@'%%'", dbName, user))

		missing := missingAs(t, g, dbURL, user, "pw")
		g.Expect(missing).To(ConsistOf(
			"CREATE on database "+dbName, "ALTER on database "+dbName, "DROP on database "+dbName, "INDEX on database "+dbName))
	})
}

func missingAs(t *testing.T, g Gomega, dbURL, user, password string) []string {
	t.Helper()
	u := mustParse(t, dbURL)
	u.User = url.UserPassword(user, password)
	target, err := database.ParseURL(u.String())
	g.Expect(err).NotTo(HaveOccurred())
	db, err := target.Open(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	defer db.Close()
	missing, err := target.Engine.MissingPrivileges(context.Background(), db, target.Schema())
	g.Expect(err).NotTo(HaveOccurred())
	return missing
}

// limitedName is a fresh role name: roles are server-wide, so tests running
// at once must not share one.
func limitedName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("limited_%x", b)
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustExec(t *testing.T, db *sql.DB, stmt string) {
	t.Helper()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func TestDiskUsage(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			target, err := database.ParseURL(tc.fresh(t))
			g.Expect(err).NotTo(HaveOccurred())
			db, err := target.Open(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			defer db.Close()
			mustExec(t, db, "CREATE TABLE filler (id int, note varchar(200))")

			usage, err := target.Engine.DiskUsage(context.Background(), db, target.URL)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(usage.Used).To(BeNumerically(">", 0))
			if tc.name == "sqlite" {
				g.Expect(usage.FreeKnown).To(BeTrue(), "the operator sees the file's filesystem")
				g.Expect(usage.Free).To(BeNumerically(">", 0))
			} else {
				g.Expect(usage.FreeKnown).To(BeFalse())
				g.Expect(usage.Why).To(ContainSubstring("free disk space"))
			}
		})
	}
}
