package e2e

import (
	"fmt"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("admission with the manager down", Ordered, Serial, func() {
	var dbPath string

	BeforeAll(func() {
		Expect(startedLocal).To(BeTrue(), "this spec stops the suite's manager: it needs the local control plane the suite starts itself (unset E2E_KUBECONFIG)")
		dbPath = filepath.Join(GinkgoT().TempDir(), "down.db")
	})

	manifest := func(name string) string {
		return fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: %s, namespace: %s}
spec:
  database: {type: sqlite, database: %q}
  migration:
    scripts:
    - {name: create-things, type: schema, source: inline, sql: "CREATE TABLE things (id INTEGER PRIMARY KEY);"}
`, name, namespace, dbPath)
	}

	It("refuses creates and approvals while the webhooks cannot answer, and stores nothing", func() {
		kubectlOKStdin(manifest("before-down"), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("before-down", ".status.phase") }).Should(Equal("AwaitingApproval"))
		hash := jsonpath("before-down", ".status.plan.hash")

		stopSuiteManager()
		DeferCleanup(restoreSuiteManager)

		By("a create fails closed, with the API server's own words")
		out, err := kubectlStdin(manifest("while-down"), as(developer, "apply", "-f", "-")...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("failed calling webhook"))
		_, err = kubectl("get", "databasemigration", "while-down", "-n", namespace)
		Expect(err).To(HaveOccurred(), "nothing is stored")

		By("an approval fails closed too: nobody approves what no webhook checked")
		out, err = kubectl(as(reviewer, "annotate", "databasemigration", "before-down", "-n", namespace,
			"database.mohitnagaraj.in/approved-plan="+hash)...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("failed calling webhook"))
		Expect(jsonpath("before-down", ".metadata.annotations.database\\.mohitnagaraj\\.in/approved-plan")).To(BeEmpty())
		Expect(sqliteTables(dbPath)).NotTo(ContainElement("things"))

		By("with the manager back, the same approval goes through")
		restoreSuiteManager()
		Eventually(func() error {
			_, err := kubectl(as(reviewer, "annotate", "databasemigration", "before-down", "-n", namespace, "--overwrite",
				"database.mohitnagaraj.in/approved-plan="+hash)...)
			return err
		}).Should(Succeed())
		Eventually(func() string { return jsonpath("before-down", ".status.phase") }).Should(Equal("Succeeded"))
		kubectlOK("delete", "databasemigration", "before-down", "-n", namespace, "--timeout=60s")
	})
})
