package lint

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// planInput holds SQLite migrations whose plans have findings: a NOT NULL
// column added to a table of an earlier script and a column dropped under
// allowWithApproval, a script that builds on a table made elsewhere, and
// one whose text comes from a Secret.
const planInput = `apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: orders
spec:
  database:
    type: sqlite
    database: orders.db
  policy:
    destructive: allowWithApproval
  migration:
    scripts:
    - name: create
      type: schema
      source: inline
      sql: |
        CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT);
    - name: widen
      type: schema
      source: inline
      dependsOn: [create]
      sql: |
        ALTER TABLE orders ADD COLUMN total INTEGER NOT NULL;

        ALTER TABLE orders DROP COLUMN note;
---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: needs-live
spec:
  database:
    type: sqlite
    database: shop.db
  migration:
    scripts:
    - name: vip
      type: schema
      source: inline
      sql: |
        -- customers is made by another migration
        ALTER TABLE customers ADD COLUMN vip INTEGER;
---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: secret-script
spec:
  database:
    type: sqlite
    database: shop.db
  migration:
    scripts:
    - name: hidden
      type: schema
      source: secret://scripts/001.sql
`

// found is a finding as the tests compare it.
type found struct {
	name     string
	severity Severity
	typ      string
	field    string
	line     int
	stmtLine int
}

func foundOf(r Report) []found {
	var out []found
	for _, f := range r.Findings {
		x := found{name: f.Name, severity: f.Severity, typ: f.Type, field: f.Field, line: f.Line}
		if f.Statement != nil {
			x.stmtLine = f.Statement.Line
		}
		out = append(out, x)
	}
	return out
}

func lintPlanned(t *testing.T, input string, plan Planning) (Report, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "migrations.yaml")
	NewWithT(t).Expect(os.WriteFile(path, []byte(input), 0o600)).To(Succeed())
	s := testScheme(t)
	docs, err := ReadPaths(s, []string{path}, false, nil)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return Run(context.Background(), s, docs, Options{Namespace: "team-a", Plan: &plan})
}

func TestPlanFindingsFromEmpty(t *testing.T) {
	g := NewWithT(t)
	report, err := lintPlanned(t, planInput, Planning{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(report.Migrations).To(Equal(3))
	g.Expect(report.Planned).To(Equal(2))
	g.Expect(foundOf(report)).To(ConsistOf(
		// Both at the line of their statement in the block; a drop a
		// reviewer may approve (allowWithApproval) is a warning.
		found{name: "orders", severity: SeverityWarning, typ: "MF103", field: "spec.migration.scripts[1].sql", line: 22, stmtLine: 23},
		found{name: "orders", severity: SeverityWarning, typ: "DS103", field: "spec.migration.scripts[1].sql", line: 22, stmtLine: 25},
		// From an empty database a table made elsewhere is missing: a
		// warning, at the statement (after its comment line).
		found{name: "needs-live", severity: SeverityWarning, typ: TypePlanFailed, field: "spec.migration.scripts[0].sql", line: 40, stmtLine: 42},
		// The webhook warns that the Secret is not created yet; the
		// planner leaves a Secret's text alone.
		found{name: "secret-script", severity: SeverityWarning, typ: "Warning", field: "spec.migration.scripts[0].source", line: 56},
		found{name: "secret-script", severity: SeverityInfo, typ: TypeNotPlanned, field: "spec.migration", line: 52},
	))
	g.Expect(report.Errors()).To(BeZero())
	for _, f := range report.Findings {
		if f.Type == TypeNotPlanned {
			g.Expect(f.Message).To(Equal(`not planned: script "hidden" comes from a Secret, whose text the lint neither replays nor shows`))
		}
	}

	var out bytes.Buffer
	g.Expect(Write(&out, "text", report)).To(Succeed())
	g.Expect(out.String()).To(ContainSubstring(`migrations.yaml:22: warning: DatabaseMigration team-a/orders: spec.migration.scripts[1].sql: MF103: Adding a non-nullable "integer" column "total" will fail in case table "orders" is not empty [statement at `))
	g.Expect(out.String()).To(HaveSuffix("3 DatabaseMigration(s) checked (2 planned): 0 error(s), 4 warning(s), 1 info\n"))

	out.Reset()
	g.Expect(Write(&out, "github", report)).To(Succeed())
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		g.Expect(l).To(MatchRegexp(workflowCommand.String()))
	}
	g.Expect(out.String()).To(ContainSubstring("::notice file="))
	g.Expect(out.String()).To(MatchRegexp(`::warning file=[^,]*migrations.yaml,line=25,title=kube-shift%3A DatabaseMigration orders::spec.migration.scripts\[1\].sql: DS103: Dropping non-virtual column "note"`))

	out.Reset()
	g.Expect(Write(&out, "sarif", report)).To(Succeed())
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out.String()))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sarifSchema(t).Validate(inst)).To(Succeed())
	g.Expect(out.String()).To(ContainSubstring(`"helpUri": "https://atlasgo.io/lint/analyzers#MF103"`))
	g.Expect(out.String()).To(ContainSubstring(`"level": "note"`))

	out.Reset()
	g.Expect(Write(&out, "json", report)).To(Succeed())
	g.Expect(out.String()).To(ContainSubstring(`"code": "DS103"`))
	g.Expect(out.String()).To(ContainSubstring(`"planned": 2`))
}

// liveSQLite makes a SQLite database holding customers and legacy, the
// live schema of the tests that plan against one.
func liveSQLite(t *testing.T) string {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "live.db")
	target, err := database.ParseURL(url)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	db, err := target.Open(context.Background())
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = db.Close() }()
	exec(t, db, "CREATE TABLE customers (id INTEGER PRIMARY KEY)", "CREATE TABLE legacy (id INTEGER PRIMARY KEY)")
	return url
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := db.ExecContext(context.Background(), s)
		NewWithT(t).Expect(err).NotTo(HaveOccurred(), s)
	}
}

// declarative is a desired schema that leaves out a table the live
// database holds: the plan drops it, which the webhook cannot see.
const declarative = `apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: desired
spec:
  database:
    type: sqlite
    database: shop.db
  migration:
    desiredSchema:
      source: inline
      sql: |
        CREATE TABLE customers (id INTEGER PRIMARY KEY, vip INTEGER);
`

func TestPlanAgainstTheLiveSchema(t *testing.T) {
	g := NewWithT(t)
	live := liveSQLite(t)
	report, err := lintPlanned(t, planInput, Planning{LiveURL: live})
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range foundOf(report) {
		g.Expect(f.name).NotTo(Equal("needs-live"), "customers is in the live schema: %+v", f)
	}

	// A destructive plan under the default policy: the operator would
	// block it, so the lint fails.
	report, err = lintPlanned(t, declarative, Planning{LiveURL: live})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(foundOf(report)).To(ContainElement(found{name: "desired", severity: SeverityError, typ: "DS102", field: "spec.migration.desiredSchema", line: 10}))
	g.Expect(report.Errors()).To(BeNumerically(">", 0))

	// From an empty database nothing is dropped.
	report, err = lintPlanned(t, declarative, Planning{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(report.Errors()).To(BeZero(), "%+v", report.Findings)

	// A statement failing against the live schema fails the operator's
	// plan too: an error.
	report, err = lintPlanned(t, strings.Replace(planInput, "ADD COLUMN vip", "ADD COLUMN id", 1), Planning{LiveURL: live})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(foundOf(report)).To(ContainElement(found{name: "needs-live", severity: SeverityError, typ: TypePlanFailed, field: "spec.migration.scripts[0].sql", line: 40, stmtLine: 42}))
}

// serverInput is a PostgreSQL migration from a ConfigMap whose second
// script sets a column NOT NULL after back-filling only some rows.
const serverInput = `apiVersion: database.mohitnagaraj.in/v1alpha1
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
      source: configmap://billing-migrations/001.sql
    - name: paid
      type: schema
      source: configmap://billing-migrations/002.sql
      dependsOn: [invoices]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: billing-migrations
data:
  001.sql: |
    CREATE TABLE invoices (id bigint PRIMARY KEY, status text);
  002.sql: |
    ALTER TABLE invoices ADD COLUMN paid boolean;
    UPDATE invoices SET paid = false WHERE id < 100;
    ALTER TABLE invoices ALTER COLUMN paid SET NOT NULL;
`

func TestPlanNeedsADevDatabaseForServers(t *testing.T) {
	_, err := lintPlanned(t, serverInput, Planning{})
	NewWithT(t).Expect(err).To(MatchError(ErrNoDevDatabase))
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("postgres (DatabaseMigration team-a/billing): give one with --dev-url postgres://")))
}

func TestPlanOnAPostgresDevDatabase(t *testing.T) {
	g := NewWithT(t)
	for name, dev := range map[string]string{
		"a dev database": dbtest.NewPostgresDatabase(t),
		"a dev server, scratch database per plan": serverOnly(t, dbtest.NewPostgresDatabase(t)),
	} {
		report, err := lintPlanned(t, serverInput, Planning{DevURLs: map[string]string{"postgres": dev}})
		g.Expect(err).NotTo(HaveOccurred(), name)
		g.Expect(report.Planned).To(Equal(1), name)
		// The back-fill of some rows does not count: MF104, at the
		// statement's line in the ConfigMap.
		g.Expect(foundOf(report)).To(ContainElement(found{name: "billing", severity: SeverityWarning, typ: "MF104", field: "spec.migration.scripts[1]", line: 16, stmtLine: 31}), name)
	}
}

// serverOnly is dbURL without its database: the server alone.
func serverOnly(t *testing.T, dbURL string) string {
	target, err := database.ParseURL(dbURL)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	u := *target.URL
	u.Path = "/"
	return u.String()
}
