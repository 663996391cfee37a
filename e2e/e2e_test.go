package e2e

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

var _ = Describe("a migration, as its users see it", Ordered, func() {
	var dbPath string

	BeforeAll(func() {
		dbPath = filepath.Join(GinkgoT().TempDir(), "shop.db")
	})

	sqliteMigration := func(name, script string) string {
		return fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: %s, namespace: %s}
spec:
  database: {type: sqlite, database: %q}
  migration:
    scripts:
    - name: step-1
      type: schema
      source: inline
      sql: %q
`, name, namespace, dbPath, script)
	}

	It("denies a destructive migration at kubectl apply", func() {
		out, err := kubectlStdin(sqliteMigration("drop-customers", "DROP TABLE customers;"), as(developer, "apply", "-f", "-")...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(`The DatabaseMigration "drop-customers" is invalid`))
		Expect(out).To(ContainSubstring("DROP TABLE customers"))
		_, err = kubectl("get", "databasemigration", "drop-customers", "-n", namespace)
		Expect(err).To(HaveOccurred(), "nothing is stored")
	})

	It("plans a safe migration into status and waits for a reviewer", func() {
		kubectlOKStdin(sqliteMigration("shop", "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);"),
			as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("shop", ".status.phase") }).Should(Equal("AwaitingApproval"))
		Expect(jsonpath("shop", ".status.plan.hash")).To(HavePrefix("sha256:"))
		Expect(jsonpath("shop", ".metadata.annotations.database\\.mohitnagaraj\\.in/created-by")).To(Equal(developer))

		status := kubectlOK("shift", "status", "shop", "-n", namespace)
		Expect(status).To(ContainSubstring("Phase:     AwaitingApproval"))
		Expect(status).To(ContainSubstring("CREATE TABLE customers"))
		Expect(sqliteTables(dbPath)).NotTo(ContainElement("customers"), "nothing is applied before approval")
	})

	It("refuses the author's own approval", func() {
		out, err := kubectl(as(developer, "shift", "approve", "shop", "--yes", "-n", namespace)...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(developer + `" created this migration and cannot approve its plan`))
	})

	It("refuses an approval of a hash that is not the current plan", func() {
		stale := "sha256:" + strings.Repeat("0", 64)
		out, err := kubectl(as(reviewer, "annotate", "databasemigration", "shop", "-n", namespace,
			"database.mohitnagaraj.in/approved-plan="+stale)...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("does not match the current plan"))
	})

	It("applies the plan a reviewer approves with kubectl shift approve", func() {
		hash := jsonpath("shop", ".status.plan.hash")
		out := kubectlOK(as(reviewer, "shift", "approve", "shop", "--yes", "-n", namespace)...)
		Expect(out).To(ContainSubstring("approved plan " + hash))

		Eventually(func() string { return jsonpath("shop", ".status.phase") }).Should(Equal("Succeeded"))
		Expect(jsonpath("shop", ".status.lastApplied.planHash")).To(Equal(hash))
		Expect(jsonpath("shop", ".status.lastApplied.approvedBy")).To(Equal(reviewer))
		Expect(jsonpath("shop", `.status.conditions[?(@.type=="Ready")].status`)).To(Equal("True"))
		Expect(sqliteTables(dbPath)).To(ContainElement("customers"))

		diff := kubectlOK("shift", "diff", "shop", "-n", namespace)
		Expect(diff).To(ContainSubstring("CREATE TABLE customers"))
	})

	It("lets the object go on delete and leaves the schema in place", func() {
		kubectlOK("delete", "databasemigration", "shop", "-n", namespace, "--timeout=60s")
		Expect(sqliteTables(dbPath)).To(ContainElement("customers"))
	})
})

var _ = Describe("a manifest written for the original kube-shift", func() {
	It("runs with no strategy named, against PostgreSQL", func() {
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		u, _ := credentialsFor("orders-credentials", dbURL)

		kubectlOK(as(developer, "create", "configmap", "order-migrations", "-n", namespace,
			"--from-literal=001_orders.sql=CREATE TABLE orders (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'new');",
			"--from-literal=002_index.sql=CREATE INDEX orders_status ON orders (status);")...)
		manifest := fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: orders
  namespace: %s
spec:
  database:
    type: postgresql
    connectionSecret: orders-credentials
    host: %s
    port: %s
    database: %s
    sslMode: disable
  migration:
    scripts:
      - name: create-orders
        type: schema
        source: configmap://order-migrations/001_orders.sql
        timeout: 3m
      - name: index-status
        type: schema
        source: configmap://order-migrations/002_index.sql
        dependsOn: ["create-orders"]
        timeout: 3m
    batchSize: 500
  validation:
    preChecks:
      - type: connection
    performanceThresholds:
      maxMigrationTime: 10m
  rollback:
    automatic: true
    conditions: [timeout]
    strategy: immediate
`, namespace, u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"))
		kubectlOKStdin(manifest, as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("orders", ".status.phase") }).Should(Equal("AwaitingApproval"))
		Expect(jsonpath("orders", ".spec.migration.strategy")).To(Equal("transactional"))

		kubectlOK(as(reviewer, "shift", "approve", "orders", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("orders", ".status.phase") }).Should(Equal("Succeeded"))

		db, err := sql.Open("pgx", dbURL)
		Expect(err).NotTo(HaveOccurred())
		defer db.Close()
		var index string
		Expect(db.QueryRow(`SELECT indexname FROM pg_indexes WHERE tablename = 'orders' AND indexname = 'orders_status'`).Scan(&index)).To(Succeed())

		kubectlOK("delete", "databasemigration", "orders", "-n", namespace, "--timeout=60s")
		Expect(db.QueryRow(`SELECT indexname FROM pg_indexes WHERE tablename = 'orders' AND indexname = 'orders_status'`).Scan(&index)).To(Succeed(),
			"delete never touches the schema")
	})
})

// sqliteTables lists the tables of a SQLite file, read directly: in local
// mode the manager and the suite share the machine.
func sqliteTables(path string) []string {
	return dbtest.SQLiteTables(GinkgoTB(), path)
}
