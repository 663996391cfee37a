package e2e

import (
	"fmt"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("a fleet of tenant databases, as its users see it", Ordered, func() {
	var dir string

	BeforeAll(func() {
		dir = GinkgoT().TempDir()
		var targets strings.Builder
		for i := range 3 {
			// The platform team registers each tenant's database.
			fmt.Fprintf(&targets, `---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseTarget
metadata: {name: tenant-%d, namespace: %s, labels: {app: fleet-shop}}
spec: {type: sqlite, database: %q}
`, i, namespace, filepath.Join(dir, fmt.Sprintf("tenant-%d.db", i)))
		}
		kubectlOKStdin(targets.String(), "apply", "-f", "-")
	})

	set := func(name string) string {
		return fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigrationSet
metadata: {name: %s, namespace: %s}
spec:
  targetSelector: {matchLabels: {app: fleet-shop}}
  template:
    migration:
      scripts:
      - {name: create-customers, type: schema, source: inline, sql: "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);"}
  rollout: {canary: 1, maxParallel: 2}
`, name, namespace)
	}
	setField := func(name, path string) string {
		out, _ := kubectl("get", "databasemigrationset", name, "-n", namespace, "-o", "jsonpath={"+path+"}")
		return strings.TrimSpace(out)
	}

	It("plans every tenant of a set and waits for one review", func() {
		kubectlOKStdin(set("customers"), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return setField("customers", ".status.phase") }, "60s").Should(Equal("AwaitingApproval"))
		Expect(setField("customers", ".status.counts.total")).To(Equal("3"))
		children := kubectlOK("get", "databasemigrations", "-n", namespace, "-l", "database.mohitnagaraj.in/set=customers", "-o", "name")
		Expect(strings.Fields(children)).To(HaveLen(3))

		status := kubectlOK("shift", "fleet", "status", "customers", "-n", namespace)
		Expect(status).To(ContainSubstring("Plans (1 distinct):"))
		Expect(status).To(ContainSubstring("[1] 3 targets, 1 statements"))
	})

	It("refuses the author's approval of the fleet, and a reviewer's approval of one tenant's migration", func() {
		out, err := kubectl(as(developer, "shift", "fleet", "approve", "customers", "--yes", "-n", namespace)...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(developer + `" created this set`))

		hash := jsonpath("customers-tenant-0", ".status.plan.hash")
		out, err = kubectl(as(reviewer, "shift", "approve", "customers-tenant-0", "--yes", "-n", namespace)...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("approve the fleet on the set"))
		Expect(jsonpath("customers-tenant-0", ".metadata.annotations.database\\.mohitnagaraj\\.in/approved-plan")).To(BeEmpty(), hash)
	})

	It("applies the fleet a reviewer approves, each migration approved by the operator in the reviewer's name", func() {
		fleet := setField("customers", ".status.fleetHash")
		out := kubectlOK(as(reviewer, "shift", "fleet", "approve", "customers", "--yes", "-n", namespace)...)
		Expect(out).To(ContainSubstring("approved fleet " + fleet))
		Eventually(func() string { return setField("customers", ".status.phase") }, "90s").Should(Equal("Succeeded"))
		Expect(setField("customers", `.status.conditions[?(@.type=="Ready")].status`)).To(Equal("True"))
		for i := range 3 {
			child := fmt.Sprintf("customers-tenant-%d", i)
			Expect(jsonpath(child, ".status.lastApplied.approvedBy")).To(Equal(reviewer + " (fleet " + fleet + " of DatabaseMigrationSet customers)"))
			Expect(sqliteTables(filepath.Join(dir, fmt.Sprintf("tenant-%d.db", i)))).To(ContainElement("customers"))
		}
	})

	It("deletes its migrations with it, and no schema", func() {
		kubectlOK("delete", "databasemigrationset", "customers", "-n", namespace, "--timeout=60s")
		children := kubectlOK("get", "databasemigrations", "-n", namespace, "-l", "database.mohitnagaraj.in/set=customers", "-o", "name")
		Expect(strings.TrimSpace(children)).To(BeEmpty())
		Expect(sqliteTables(filepath.Join(dir, "tenant-0.db"))).To(ContainElement("customers"))
	})
})
