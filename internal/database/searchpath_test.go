package database_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// TestPostgresSessionIsBoundToTheSchemaInspected: kube-shift inspects,
// plans, locks and records revisions in the target's schema
// (Target.Schema: the URL's search_path, or public); its sessions must
// resolve unqualified names to that schema too, whatever the server
// would pick without one: its default search_path puts a schema named
// as the user first, and a database or a role may set another default.
// Otherwise an approved plan, computed on one schema, runs its
// statements in another that nobody inspected.
func TestPostgresSessionIsBoundToTheSchemaInspected(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	dbURL := dbtest.NewPostgresDatabase(t)
	u, err := url.Parse(dbURL)
	g.Expect(err).NotTo(HaveOccurred())
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	admin, err := database.ParseURL(dbURL)
	g.Expect(err).NotTo(HaveOccurred())
	adminDB, err := admin.Open(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer adminDB.Close()
	for _, stmt := range []string{
		"CREATE SCHEMA " + quote(u.User.Username()), // "$user", first in the server's default
		"CREATE SCHEMA elsewhere",
		"CREATE SCHEMA tenant",
	} {
		_, err := adminDB.ExecContext(ctx, stmt)
		g.Expect(err).NotTo(HaveOccurred(), stmt)
	}
	withQuery := func(kv string) string {
		v := *u
		v.RawQuery = strings.TrimPrefix(v.RawQuery+"&"+kv, "&")
		return v.String()
	}

	for i, tc := range []struct {
		name, url, setup, want string
	}{
		{name: "the user's own schema first in the server's default", url: dbURL, want: "public"},
		{name: "an empty search_path in the URL", url: withQuery("search_path="), want: "public"},
		{name: "the URL's schema", url: withQuery("search_path=tenant"), want: "tenant"},
		{name: "the URL's schema, its key in capitals", url: withQuery("Search_Path=tenant"), want: "tenant"},
		{name: "a default the database sets", setup: "ALTER DATABASE " + quote(strings.TrimPrefix(u.Path, "/")) + " SET search_path = elsewhere", url: dbURL, want: "public"},
		{name: "a default the role sets", setup: "ALTER ROLE " + quote(u.User.Username()) + " IN DATABASE " + quote(strings.TrimPrefix(u.Path, "/")) + " SET search_path = elsewhere", url: dbURL, want: "public"},
	} {
		table := fmt.Sprintf("probe_%d", i)
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			if tc.setup != "" {
				_, err := adminDB.ExecContext(ctx, tc.setup)
				g.Expect(err).NotTo(HaveOccurred())
			}
			target, err := database.ParseURL(tc.url)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(target.Schema()).To(Equal(tc.want))
			db, err := target.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer db.Close()
			g.Expect(target.Engine.CurrentSchema(ctx, db)).To(Equal(target.Schema()), "the schema unqualified names resolve to")
			_, err = db.ExecContext(ctx, "CREATE TABLE "+quote(table)+" (id int)")
			g.Expect(err).NotTo(HaveOccurred())
			var schema string
			g.Expect(adminDB.QueryRowContext(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = $1", table).Scan(&schema)).To(Succeed())
			g.Expect(schema).To(Equal(tc.want), "where an unqualified CREATE TABLE lands")
		})
	}
	// The role's setting is the server's, not this database's alone.
	_, err = adminDB.ExecContext(ctx, "ALTER ROLE "+quote(u.User.Username())+" IN DATABASE "+quote(strings.TrimPrefix(u.Path, "/"))+" RESET search_path")
	g.Expect(err).NotTo(HaveOccurred())
}
