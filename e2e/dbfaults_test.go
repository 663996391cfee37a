package e2e

import (
	"database/sql"
	"fmt"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/faultproxy"
)

// The database fails under an apply the suite's manager runs, as deployed:
// the network to the server is cut (a TCP proxy of the spec's own stands
// between the manager and the server), or the server is killed with
// kill -9 and started again. The migration reports the database
// unreachable, stays Running, retries, and ends Succeeded with each
// statement applied once and the revision table true. internal/planner's
// TestApplyThroughAFault runs every strategy through these faults; these
// specs show the manager carrying an apply through them.
var _ = Describe("the database failing under an apply", Ordered, func() {
	var results []string

	AfterAll(func() {
		header := fmt.Sprintf("%-8s %-14s %-9s %-34s %9s %14s", "fault", "strategy", "engine", "outcome", "rows lost", "double applies")
		for _, line := range append([]string{header}, results...) {
			_, _ = fmt.Fprintln(os.Stdout, line)
			_, _ = fmt.Fprintln(GinkgoWriter, line)
		}
	})

	manifest := func(name, engine, secret, host, port, dbName, strategy string, scripts ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: %s, namespace: %s}
spec:
  database: {type: %s, connectionSecret: %s, host: %q, port: %s, database: %q, sslMode: disable}
  migration:
    strategy: %s
    scripts:
`, name, namespace, engine, secret, host, port, dbName, strategy)
		for i, sql := range scripts {
			depends := ""
			if i > 0 {
				depends = fmt.Sprintf(", dependsOn: [step-%d]", i)
			}
			fmt.Fprintf(&b, "    - {name: step-%d, type: schema, source: inline, sql: %q%s}\n", i+1, sql, depends)
		}
		return b.String()
	}
	// unreachableReported says whether an event of the migration reported
	// the database unreachable on the way.
	unreachableReported := func(name string) bool {
		out := kubectlOK("get", "events", "-n", namespace, "--field-selector", "involvedObject.name="+name,
			"-o", "jsonpath={.items[*].reason}")
		return strings.Contains(out, "DatabaseUnreachable")
	}

	It("resumes a MariaDB apply after the network to the server is cut mid-apply", func() {
		dbURL := dbtest.NewMySQLDatabase(GinkgoTB())
		db := dbtest.OpenMySQL(GinkgoTB(), dbURL)
		const rows = 50
		_, err := db.Exec("CREATE TABLE users (id int PRIMARY KEY)")
		Expect(err).NotTo(HaveOccurred())
		for i := range rows {
			_, err := db.Exec("INSERT INTO users VALUES (?)", i)
			Expect(err).NotTo(HaveOccurred())
		}
		u, dbName := credentialsFor("cut-credentials", dbURL)
		proxy, err := faultproxy.Start(u.Host)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		host, port, _ := strings.Cut(proxy.Addr(), ":")

		kubectlOKStdin(manifest("net-cut", "mariadb", "cut-credentials", host, port, dbName, "transactional",
			"ALTER TABLE users ADD COLUMN a int;\nSELECT SLEEP(3);\nALTER TABLE users ADD COLUMN b int;"),
			as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("net-cut", ".status.phase") }).Should(Equal("AwaitingApproval"))
		hash := jsonpath("net-cut", ".status.plan.hash")
		kubectlOK(as(reviewer, "shift", "approve", "net-cut", "--yes", "-n", namespace)...)

		By("cutting every connection while the apply sleeps after its first statement")
		Eventually(func() (int, error) { return mysqlRunning(db, dbName, "SELECT SLEEP") }).Should(Equal(1))
		Expect(mysqlColumnsOf(db, "users")).To(Equal([]string{"id", "a"}))
		proxy.Drop()

		Eventually(func() string { return jsonpath("net-cut", ".status.phase") }, "2m").Should(Equal("Succeeded"))
		Expect(jsonpath("net-cut", ".status.lastApplied.planHash")).To(Equal(hash))
		Expect(unreachableReported("net-cut")).To(BeTrue(), "the cut was reported, then retried")
		Expect(mysqlColumnsOf(db, "users")).To(Equal([]string{"id", "a", "b"}))
		var n, done, total int
		var status string
		Expect(db.QueryRow("SELECT count(*) FROM users").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(rows))
		Expect(revisions(db, "?", "")).To(Equal([]string{"succeeded"}), "one revision: the cut one, finished")
		Expect(db.QueryRow("SELECT status, statements_done, statements_total FROM kube_shift_revisions").Scan(&status, &done, &total)).To(Succeed())
		Expect([]int{done, total}).To(Equal([]int{3, 3}))
		results = append(results, fmt.Sprintf("%-8s %-14s %-9s %-34s %9d %14d", "drop", "transactional", "mariadb", "resumed after 1 of 3", rows-n, 0))
	})

	It("resumes a PostgreSQL rolling apply after the server is killed with kill -9 mid-step", func() {
		server := dbtest.StartServer(GinkgoTB(), "postgres")
		dbURL := server.NewDatabase(GinkgoTB())
		db := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		u, dbName := credentialsFor("kill-credentials", dbURL)

		kubectlOKStdin(manifest("server-kill", "postgresql", "kill-credentials", u.Hostname(), u.Port(), dbName, "rolling",
			"CREATE TABLE first_step (id int);",
			"CREATE TABLE second_step (id int); SELECT pg_sleep(5);",
			"CREATE TABLE third_step (id int);"),
			as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("server-kill", ".status.phase") }).Should(Equal("AwaitingApproval"))
		hash := jsonpath("server-kill", ".status.plan.hash")
		kubectlOK(as(reviewer, "shift", "approve", "server-kill", "--yes", "-n", namespace)...)

		By("killing the server while the second step sleeps in its transaction")
		Eventually(func() (int, error) { return sleepingOn(db, dbName) }).Should(Equal(1))
		server.Kill(GinkgoTB())
		server.Restart(GinkgoTB())

		Eventually(func() string { return jsonpath("server-kill", ".status.phase") }, "2m").Should(Equal("Succeeded"))
		Expect(jsonpath("server-kill", ".status.lastApplied.planHash")).To(Equal(hash))
		Expect(unreachableReported("server-kill")).To(BeTrue(), "the kill was reported, then retried")
		Expect(jsonpath("server-kill", ".status.rolling.resumedSteps")).To(Equal("1"), "the step committed before the kill was not run again")
		fresh := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		Expect(postgresTables(fresh)).To(ContainElements("first_step", "second_step", "third_step"))
		Expect(revisions(fresh, "$1", hash)).To(Equal([]string{"succeeded"}), "one succeeded revision of the plan")
		results = append(results, fmt.Sprintf("%-8s %-14s %-9s %-34s %9d %14d", "kill -9", "rolling", "postgres", "resumed after 1 of 3 steps", 0, 0))
	})
})

// mysqlColumnsOf lists a MariaDB table's columns in order.
func mysqlColumnsOf(db *sql.DB, table string) []string {
	GinkgoHelper()
	return queryStrings(db, "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position", table)
}

// postgresTables lists the tables of a PostgreSQL database's public schema.
func postgresTables(db *sql.DB) []string {
	GinkgoHelper()
	return queryStrings(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
}

// queryStrings is the one text column of a query's rows.
func queryStrings(db *sql.DB, query string, args ...any) []string {
	GinkgoHelper()
	rows, err := db.Query(query, args...)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var s string
		Expect(rows.Scan(&s)).To(Succeed())
		out = append(out, s)
	}
	Expect(rows.Err()).NotTo(HaveOccurred())
	return out
}
