package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

func TestLintExitCodes(t *testing.T) {
	destructive, err := os.ReadFile("testdata/lint/destructive.yaml")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
	}{
		{name: "samples are clean", args: []string{"-f", "../../config/samples"}, code: 0, out: "4 DatabaseMigration(s) checked: 0 error(s), 1 warning(s)"},
		{name: "kustomize output on stdin", args: []string{"-f", "-", "-o", "github"}, stdin: string(destructive), code: 1,
			out: "::error file=<stdin>,line=17,title=kube-shift%3A DatabaseMigration drop-legacy::spec.migration.scripts[0].sql: Forbidden: statement 2 (line 2) drops table"},
		{name: "errors exit 1 in every format", args: []string{"-f", "testdata/lint/bad-sql.yaml", "-o", "sarif"}, code: 1, out: `"ruleId": "FieldValueForbidden"`},
		{name: "no -f", args: nil, code: 2},
		{name: "unknown format", args: []string{"-f", "testdata/lint", "-o", "yaml"}, code: 2},
		{name: "unknown flag", args: []string{"-f", "testdata/lint", "--nope"}, code: 2},
		{name: "missing file", args: []string{"-f", "testdata/lint/nope.yaml"}, code: 2},
		{name: "not YAML", args: []string{"-f", "-"}, stdin: "kind: x\n  y: z\n", code: 2},
		{name: "no migration in input", args: []string{"-f", "../../config/samples/migrations_configmap.yaml"}, code: 2},
		{name: "bad --allow-sql", args: []string{"-f", "testdata/lint", "--allow-sql", "everything"}, code: 2},
		{name: "--allow-sql lets a GRANT through", args: []string{"-f", "testdata/lint/bad-sql.yaml", "--allow-sql", "privilege"}, code: 1,
			out: "1 DatabaseMigration(s) checked: 1 error(s), 0 warning(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var out, errOut bytes.Buffer
			root := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader(tc.stdin), Out: &out, ErrOut: &errOut})
			root.SetArgs(append([]string{"lint"}, tc.args...))
			err := root.ExecuteContext(context.Background())
			g.Expect(exitCodeOf(err)).To(Equal(tc.code), "stdout: %s\nstderr: %s", out.String(), errOut.String())
			g.Expect(out.String()).To(ContainSubstring(tc.out))
		})
	}
}

// planned is a SQLite migration and a PostgreSQL one whose scripts (the
// second from a ConfigMap) make a column NOT NULL after back-filling only
// some rows.
const planned = `apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: shop
spec:
  database:
    type: sqlite
    database: shop.db
  migration:
    scripts:
    - name: create
      type: schema
      source: inline
      sql: |
        CREATE TABLE orders (id INTEGER PRIMARY KEY);
    - name: total
      type: schema
      source: inline
      dependsOn: [create]
      sql: ALTER TABLE orders ADD COLUMN total INTEGER NOT NULL;
---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: billing
spec:
  database:
    type: postgresql
    connectionSecret: billing-db
    host: postgres.databases.svc.cluster.local
    database: billing
  migration:
    scripts:
    - name: invoices
      type: schema
      source: inline
      sql: CREATE TABLE IF NOT EXISTS invoices (id bigint PRIMARY KEY, status text);
    - name: status
      type: schema
      source: configmap://billing-migrations/002.sql
      dependsOn: [invoices]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: billing-migrations
data:
  002.sql: |
    UPDATE invoices SET status = 'open' WHERE id < 100;
    ALTER TABLE invoices ALTER COLUMN status SET NOT NULL;
`

// TestLintPlans runs lint with the planner against SQLite in memory and
// the PostgreSQL servers of the test environment: from an empty database
// with --dev-url, and against a live database with --url.
func TestLintPlans(t *testing.T) {
	dir := t.TempDir()
	input := writeFile(t, dir, "planned.yaml", planned)
	sqliteOnly := writeFile(t, dir, "sqlite.yaml", strings.SplitN(planned, "---\n", 2)[0])
	dev := dbtest.NewPostgresDatabase(t)
	// The dev database must be on another server than the live one: the
	// dev server, where each plan gets a scratch database.
	devServer := serverOnly(t, os.Getenv(dbtest.DevPostgresEnv))

	// The live database holds invoices already, with a NULL status, and
	// its revision table says nothing ran yet.
	live := dbtest.NewPostgresDatabase(t)
	db := dbtest.OpenPostgres(t, live)
	_, err := db.Exec("CREATE TABLE invoices (id bigint PRIMARY KEY, status text); INSERT INTO invoices VALUES (1, NULL), (200, NULL)")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		out     []string
		errText string
	}{
		{name: "SQLite in memory needs no dev database", args: []string{"-f", sqliteOnly, "--plan"}, code: 0,
			out: []string{"sqlite.yaml:20: warning: DatabaseMigration default/shop: spec.migration.scripts[1].sql: MF103: Adding a non-nullable \"integer\" column \"total\" will fail in case table \"orders\" is not empty [statement at " + sqliteOnly + ":20]",
				"1 DatabaseMigration(s) checked (1 planned): 0 error(s), 1 warning(s)"}},
		{name: "a server without a dev database", args: []string{"-f", input, "--plan"}, code: 2,
			errText: "no dev database for postgres (DatabaseMigration default/billing): give one with --dev-url postgres://"},
		{name: "from an empty database on the dev database", args: []string{"-f", input, "--dev-url", dev, "-o", "github"}, code: 0,
			out: []string{"::warning file=" + input + ",line=50,title=kube-shift%3A DatabaseMigration billing::spec.migration.scripts[1]: MF104: Modifying nullable column \"status\" to non-nullable might fail in case it contains NULL values"}},
		{name: "against the live schema", args: []string{"-f", input, "--dev-url", devServer, "--url", live, "-o", "json"}, code: 0,
			out: []string{`"code": "MF104"`, `"planned": 2`}},
		{name: "two dev databases for one engine", args: []string{"-f", input, "--dev-url", dev, "--dev-url", dev}, code: 2,
			errText: "two dev databases for postgres"},
		{name: "a --url that is no database URL", args: []string{"-f", input, "--url", "nowhere"}, code: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			stdout, _, err := run(append([]string{"lint"}, tc.args...)...)
			g.Expect(exitCodeOf(err)).To(Equal(tc.code), "stdout: %s\nerror: %v", stdout, err)
			for _, o := range tc.out {
				g.Expect(stdout).To(ContainSubstring(o))
			}
			if tc.errText != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tc.errText)))
			}
			g.Expect(stdout+fmt.Sprint(err)).NotTo(ContainSubstring(passwordOf(t, dev)), "no password in any output")
		})
	}
}

// serverOnly is a database URL without its database: the server alone.
func serverOnly(t *testing.T, rawURL string) string {
	if rawURL == "" {
		t.Skipf("%s is not set", dbtest.DevPostgresEnv)
	}
	target, err := database.ParseURL(rawURL)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	u := *target.URL
	u.Path = "/"
	return u.String()
}

// passwordOf is the password of a database URL, which no output shows.
func passwordOf(t *testing.T, rawURL string) string {
	target, err := database.ParseURL(rawURL)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	p, ok := target.URL.User.Password()
	if !ok || p == "" {
		t.Fatalf("the test database URL has no password to look for")
	}
	return p
}
