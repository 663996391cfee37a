package planner_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// These tests play an author who may write DatabaseMigrations and wants
// planning, which runs before any review, to reach something else.

// allowAll lets every kind through the static gate, so a test reaches the
// layer behind it: the dev database's own confinement.
func allowAll() map[sqlstatic.Reach]bool {
	all := map[sqlstatic.Reach]bool{}
	for _, r := range sqlstatic.AllReaches {
		all[r] = true
	}
	return all
}

func randomName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func TestPlanningCannotReachAnotherSQLiteFile(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	victim, err := sql.Open("sqlite", other)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = victim.Close() }()
	_, err = victim.Exec("CREATE TABLE victims (id int); INSERT INTO victims VALUES (1), (2), (3)")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	count := func() int {
		var n int
		NewWithT(t).Expect(victim.QueryRow("SELECT count(*) FROM victims").Scan(&n)).To(Succeed())
		return n
	}

	target, err := database.ParseURL("sqlite://" + filepath.Join(dir, "target.db"))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	for _, tc := range []struct {
		name, sql string
		// replayed statements meet the dev database's authorizer; a
		// SELECT is not run while planning at all.
		replayed bool
	}{
		{"attach and delete", fmt.Sprintf("CREATE TABLE t (id int);\nATTACH DATABASE '%s' AS other;\nDELETE FROM other.victims;", other), true},
		{"attach in a schema statement", fmt.Sprintf("ATTACH DATABASE '%s' AS other;\nDROP TABLE other.victims;", other), true},
		{"vacuum into a file", fmt.Sprintf("CREATE TABLE t (id int);\nVACUUM INTO '%s';", filepath.Join(dir, "copy.db")), true},
		{"file pragma", fmt.Sprintf("PRAGMA temp_store_directory = '%s';", dir), true},
		{"load an extension", "SELECT load_extension('/nonexistent/evil');", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The static gate refuses it before anything runs...
			g := NewWithT(t)
			_, err := (&planner.Planner{}).Plan(context.Background(), target, planner.Input{Scripts: scripts(tc.sql)})
			g.Expect(err).To(MatchError(planner.ErrRefusedSQL))
			g.Expect(count()).To(Equal(3))

			// ...and with the gate wide open (a platform that allowed
			// everything), the in-memory dev database still reaches no file.
			_, err = (&planner.Planner{AllowSQL: allowAll()}).Plan(context.Background(), target, planner.Input{Scripts: scripts(tc.sql)})
			if tc.replayed {
				g.Expect(err).To(MatchError(planner.ErrInvalidSQL))
				g.Expect(err.Error()).To(Or(ContainSubstring("not authorized"), ContainSubstring("authorization denied")))
			}
			g.Expect(count()).To(Equal(3))
			g.Expect(filepath.Join(dir, "copy.db")).NotTo(BeAnExistingFile())
		})
	}
}

func TestPlanningNeverReplaysOnTheTargetServer(t *testing.T) {
	ctx := context.Background()
	dev := dbtest.DevServers()["postgres"]
	if dev == "" {
		t.Skip(dbtest.DevPostgresEnv + " is not set")
	}
	g := NewWithT(t)
	// The target's user may not create databases: replay there (a scratch
	// database next to the target) would fail; the dev server needs none.
	admin := newTestDB(t, engines[1])
	role := randomName("kst_app_")
	admin.exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'pw' NOCREATEDB NOCREATEROLE", role))
	t.Cleanup(func() {
		_, _ = admin.db.ExecContext(context.Background(), "DROP OWNED BY "+role)
		_, _ = admin.db.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	admin.exec(t, "GRANT ALL ON SCHEMA public TO "+role)
	u := *admin.target.URL
	u.User = url.UserPassword(role, "pw")
	target := &database.Target{Engine: admin.target.Engine, URL: &u}

	plan, err := (&planner.Planner{DevServers: dbtest.DevServers()}).Plan(ctx, target, planner.Input{Scripts: scripts("CREATE TABLE t (id int);")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(plan.Changes).To(ContainElement("create table t"))

	// No dev server and no devDatabase: refused, never the target.
	_, err = (&planner.Planner{}).Plan(ctx, target, planner.Input{Scripts: scripts("CREATE TABLE t (id int);")})
	g.Expect(err).To(MatchError(planner.ErrNoDevDatabase))
	// A devDatabase on the target's own server is refused too.
	_, err = (&planner.Planner{DevURL: admin.target.URL.String()}).Plan(ctx, target, planner.Input{Scripts: scripts("CREATE TABLE t (id int);")})
	g.Expect(err).To(MatchError(planner.ErrNoDevDatabase))
	g.Expect(err.Error()).To(ContainSubstring("on the target's server"))

	// A role created while planning, had the platform allowed role
	// statements, lands on the dev server only.
	evil := randomName("kst_evil_")
	t.Cleanup(func() { dropRole(dev, evil) })
	_, err = (&planner.Planner{DevServers: dbtest.DevServers()}).Plan(ctx, target, planner.Input{Scripts: scripts("CREATE ROLE " + evil + " SUPERUSER;")})
	g.Expect(err).To(MatchError(planner.ErrRefusedSQL))
	_, _ = (&planner.Planner{DevServers: dbtest.DevServers(), AllowSQL: allowAll()}).Plan(ctx, target, planner.Input{Scripts: scripts("CREATE ROLE " + evil + " SUPERUSER;")})
	g.Expect(admin.queryString(t, "SELECT count(*)::text FROM pg_roles WHERE rolname = '"+evil+"'")).To(Equal("0"))
	g.Expect(admin.queryString(t, "SELECT count(*)::text FROM pg_database WHERE datname LIKE 'kube_shift_dev_%'")).To(Equal("0"))
}

// A dev database that names the target's server otherwise than the
// target does (another name for its address, or, on PostgreSQL, a host
// in the URL's query, which the driver prefers to the authority) is
// refused once connected, before anything runs or is emptied there; so
// is a target that is the operator's dev server under another name.
func TestPlanningRefusesTheTargetsServerUnderAnotherName(t *testing.T) {
	for _, e := range engines[1:] {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			g := NewWithT(t)
			d := newTestDB(t, e)
			d.exec(t, "CREATE TABLE keep (id int PRIMARY KEY); INSERT INTO keep VALUES (1);")
			in := planner.Input{Scripts: scripts("CREATE TABLE t (id int);")}
			renamed := func(u *url.URL) string {
				c := *u
				c.Host = strings.Replace(c.Host, "127.0.0.1", "localhost", 1)
				return c.String()
			}
			_, err := (&planner.Planner{DevURL: renamed(d.target.URL)}).Plan(ctx, d.target, in)
			g.Expect(err).To(MatchError(planner.ErrNoDevDatabase))
			g.Expect(err.Error()).To(ContainSubstring("on the target's server"))
			g.Expect(d.tables(t)).To(ConsistOf("keep"))
			if e.name == "postgres" {
				// A host and port in the query, which pgx prefers to the
				// URL's own: refused before anything connects.
				c := *d.target.URL
				q := c.Query()
				q.Set("host", c.Hostname())
				q.Set("port", c.Port())
				c.RawQuery = q.Encode()
				c.Host = "192.0.2.1:5432" // reserved for documentation: nothing there
				_, err := (&planner.Planner{DevURL: c.String()}).Plan(ctx, d.target, in)
				g.Expect(err).To(MatchError(MatchRegexp(`parameter (host|port) is refused`))) // whichever the check reads first
				g.Expect(d.tables(t)).To(ConsistOf("keep"))
			}

			devServer := dbtest.DevServers()[e.name]
			newOn := dbtest.NewMySQLDatabaseOn
			if e.name == "postgres" {
				newOn = dbtest.NewPostgresDatabaseOn
			}
			onDev, err := database.ParseURL(renamed(mustParse(t, newOn(t, devServer))))
			g.Expect(err).NotTo(HaveOccurred())
			_, err = (&planner.Planner{DevServers: dbtest.DevServers()}).Plan(ctx, onDev, in)
			g.Expect(err).To(MatchError(planner.ErrNoDevDatabase))
			g.Expect(err.Error()).To(ContainSubstring("dev server under another name"))
		})
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func dropRole(server, role string) {
	t, err := database.ParseURL(server)
	if err != nil {
		return
	}
	db, err := t.Open(context.Background())
	if err != nil {
		return
	}
	defer func() { _ = db.Close() }()
	_, _ = db.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role)
}

func TestPlanningDoesNotWriteAnotherMySQLDatabase(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	prod := newTestDB(t, engines[2])
	prod.exec(t, "CREATE TABLE users (id int PRIMARY KEY, name varchar(20)); INSERT INTO users VALUES (1, 'alice');")
	app := newTestDB(t, engines[2])
	app.exec(t, "CREATE TABLE users (id int PRIMARY KEY, name varchar(20));")
	attack := fmt.Sprintf("UPDATE %s.users SET name = 'pwned' WHERE id = 1;", prod.target.Schema())

	pl := &planner.Planner{DevServers: dbtest.DevServers()}
	_, err := pl.Plan(ctx, app.target, planner.Input{Scripts: []script.Script{{Name: "seed", Type: script.TypeData, SQL: attack}}})
	g.Expect(err).To(MatchError(planner.ErrRefusedSQL))
	g.Expect(err.Error()).NotTo(ContainSubstring("pwned"), "the message names the kind, not the SQL")

	// A GRANT that MySQL's own reading takes for a comment but Atlas's
	// scanner sends as a statement is refused all the same.
	_, err = pl.Plan(ctx, app.target, planner.Input{Scripts: scripts("# note\n/*!50000 GRANT ALL ON *.* TO 'evil'@'%' */;")})
	g.Expect(err).To(MatchError(planner.ErrRefusedSQL))

	// Allowed by the platform, the data statement still is not run while
	// planning: the plan says what it writes instead.
	pl.AllowSQL = allowAll()
	plan, err := pl.Plan(ctx, app.target, planner.Input{Scripts: []script.Script{{Name: "seed", Type: script.TypeData, SQL: attack}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(plan.Changes).To(ContainElement(ContainSubstring("data: script seed, statement 1 (UPDATE) writes rows of users; not run while planning")))
	g.Expect(prod.queryString(t, "SELECT name FROM users WHERE id = 1")).To(Equal("alice"))
}

func TestDataStatementsAreNotReplayed(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			d := newTestDB(t, e)
			// Run on the dev database, the second insert would break the
			// key and fail the plan; it does not run there.
			in := planner.Input{Scripts: []script.Script{
				{Name: "schema", Type: script.TypeSchema, SQL: "CREATE TABLE t (id int PRIMARY KEY);"},
				{Name: "seed", Type: script.TypeData, SQL: "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (1);"},
			}}
			plan, err := (&planner.Planner{DevServers: dbtest.DevServers()}).Plan(context.Background(), d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(plan.Statements).To(HaveLen(3))
			g.Expect(plan.Changes).To(ContainElements("create table t",
				"data: script seed, statement 1 (INSERT) writes rows of t; not run while planning",
				"data: script seed, statement 2 (INSERT) writes rows of t; not run while planning"))
		})
	}
}

func TestHashCoversEverythingThatRuns(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	d := newTestDB(t, engines[0])
	pl := &planner.Planner{}
	check := script.Script{Name: "check", Type: script.TypeValidation, SQL: "SELECT count(*) = 0 FROM t;"}
	in := planner.Input{Scripts: scripts("CREATE TABLE t (id int);"), Validations: []script.Script{check}, Settings: `{"strategy":"transactional"}`}
	base, err := pl.Plan(ctx, d.target, in)
	g.Expect(err).NotTo(HaveOccurred())

	changedCheck := in
	changedCheck.Validations = []script.Script{{Name: "check", Type: script.TypeValidation, SQL: "SELECT count(*) = 0 FROM t; SELECT 1;"}}
	changedSettings := in
	changedSettings.Settings = `{"strategy":"rolling"}`
	noCheck := in
	noCheck.Validations = nil
	for name, other := range map[string]planner.Input{"validation script": changedCheck, "settings": changedSettings, "no validation": noCheck} {
		p, err := pl.Plan(ctx, d.target, other)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(p.Hash).NotTo(Equal(base.Hash), name)
		g.Expect(p.Statements).To(Equal(base.Statements), name)

		// An approval of the plan as shown does not run the changed one.
		_, err = pl.Apply(ctx, d.target, other, planner.ApplyOptions{ExpectHash: base.Hash, Identity: "test", Approver: "rita"})
		g.Expect(err).To(MatchError(planner.ErrHashMismatch), name)
		g.Expect(d.tables(t)).NotTo(ContainElement("t"), name)
	}
	_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: base.Hash, Identity: "test", Approver: "rita"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Join(d.tables(t), ",")).To(Equal("t"))
}

// With the gate wide open, what a replayed statement may do on the dev
// server is what the plan's own scratch user may: not run programs on the
// server's host (PostgreSQL), not read the server's own tables (MySQL).
func TestReplayRunsWithoutTheDevServersPrivileges(t *testing.T) {
	ctx := context.Background()
	servers := dbtest.DevServers()
	pl := &planner.Planner{DevServers: servers, AllowSQL: allowAll()}

	t.Run("postgres", func(t *testing.T) {
		if servers["postgres"] == "" {
			t.Skip(dbtest.DevPostgresEnv + " is not set")
		}
		g := NewWithT(t)
		d := newTestDB(t, engines[1])
		marker := filepath.Join(os.TempDir(), randomName("kst-replay-"))
		t.Cleanup(func() { _ = os.Remove(marker) })
		// Dynamic SQL the static gate cannot read: only the dev server's
		// own rules stand between it and a shell on the server's host.
		script := fmt.Sprintf("DO $$ BEGIN EXECUTE 'CO' || 'PY (SELECT 1) TO PROGRAM ''touch %s'''; END $$;", marker)
		_, err := pl.Plan(ctx, d.target, planner.Input{Scripts: scripts(script)})
		g.Expect(err).To(MatchError(planner.ErrInvalidSQL))
		g.Expect(err.Error()).To(ContainSubstring("SQLSTATE 42501"), "insufficient privilege")
		g.Expect(marker).NotTo(BeAnExistingFile())
	})
	t.Run("mysql", func(t *testing.T) {
		if servers["mysql"] == "" {
			t.Skip(dbtest.DevMySQLEnv + " is not set")
		}
		g := NewWithT(t)
		d := newTestDB(t, engines[2])
		_, err := pl.Plan(ctx, d.target, planner.Input{Scripts: scripts("CREATE TABLE stolen AS SELECT * FROM mysql.user;")})
		g.Expect(err).To(MatchError(planner.ErrInvalidSQL))
		g.Expect(err.Error()).To(ContainSubstring("denied"))
	})
}
