package e2e

import (
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// The manager dies, restarts, and hands over leadership while migrations
// are in flight. These specs run their own manager processes, so they stop
// the one hack/local-up.sh started and put it back when they are done; they
// are Serial because no other spec may run without a manager meanwhile.
var _ = Describe("the manager under failure", Ordered, Serial, func() {
	BeforeAll(func() {
		Expect(startedLocal).To(BeTrue(), "these specs kill and start manager processes: they need the local "+
			"control plane the suite starts itself (unset E2E_KUBECONFIG)")
		stopSuiteManager()
		DeferCleanup(restoreSuiteManager)
	})

	It("applies a plan once when killed in the middle of the apply and restarted (PostgreSQL)", func() {
		first := startManager("crash-first", managerOptions{webhooks: true})

		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		u, dbName := credentialsFor("slow-credentials", dbURL)
		db := dbtest.OpenPostgres(GinkgoTB(), dbURL)

		// pg_sleep inside the apply transaction holds the apply open for
		// seconds after CREATE TABLE has run: long enough to kill it there.
		kubectlOKStdin(fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: slow, namespace: %s}
spec:
  database: {type: postgresql, connectionSecret: slow-credentials, host: %q, port: %s, database: %q, sslMode: disable}
  migration:
    scripts:
    - name: slow
      type: schema
      source: inline
      sql: "CREATE TABLE slow (id int); SELECT pg_sleep(5); ALTER TABLE slow ADD COLUMN note text;"
`, namespace, u.Hostname(), u.Port(), dbName), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("slow", ".status.phase") }).Should(Equal("AwaitingApproval"))
		hash := jsonpath("slow", ".status.plan.hash")

		kubectlOK(as(reviewer, "shift", "approve", "slow", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("slow", ".status.phase") }).Should(Equal("Running"))
		By("waiting until the apply sleeps inside its transaction on the target, after CREATE TABLE")
		Eventually(func() (int, error) { return sleepingOn(db, dbName) }).Should(Equal(1))

		first.kill()
		Expect(jsonpath("slow", ".status.phase")).To(Equal("Running"), "the killed manager wrote nothing more")
		startManager("crash-second", managerOptions{webhooks: true})

		Eventually(func() string { return jsonpath("slow", ".status.phase") }).Should(Equal("Succeeded"))
		Expect(jsonpath("slow", ".status.lastApplied.planHash")).To(Equal(hash))
		Expect(jsonpath("slow", ".status.lastApplied.approvedBy")).To(Equal(reviewer))
		Expect(jsonpath("slow", `.status.conditions[?(@.type=="Applied")].reason`)).To(Equal("Applied"),
			"PostgreSQL rolled the killed transaction back, so the second apply is the first that took effect")
		Expect(jsonpath("slow", ".status.message")).To(ContainSubstring("plan " + hash + " applied as revision"))
		Expect(jsonpath("slow", `.status.conditions[?(@.type=="Ready")].status`)).To(Equal("True"))

		var columns []string
		rows, err := db.Query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'slow' ORDER BY ordinal_position`)
		Expect(err).NotTo(HaveOccurred())
		defer rows.Close()
		for rows.Next() {
			var c string
			Expect(rows.Scan(&c)).To(Succeed())
			columns = append(columns, c)
		}
		Expect(rows.Err()).NotTo(HaveOccurred())
		Expect(columns).To(Equal([]string{"id", "note"}))
		Expect(revisions(db, "$1", hash)).To(Equal([]string{"succeeded"}), "exactly one revision, and it succeeded")
	})

	It("resumes a rolling migration after the last committed step when the manager is killed mid-step (PostgreSQL)", func() {
		first := startManager("rolling-first", managerOptions{webhooks: true})

		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		u, dbName := credentialsFor("rolling-credentials", dbURL)
		db := dbtest.OpenPostgres(GinkgoTB(), dbURL)

		kubectlOKStdin(fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: rolling-slow, namespace: %s}
spec:
  database: {type: postgresql, connectionSecret: rolling-credentials, host: %q, port: %s, database: %q, sslMode: disable}
  migration:
    strategy: rolling
    scripts:
    - name: first
      type: schema
      source: inline
      sql: "CREATE TABLE first_step (id int);"
    - name: slow
      type: schema
      source: inline
      sql: "CREATE TABLE slow_step (id int); SELECT pg_sleep(5);"
      dependsOn: [first]
`, namespace, u.Hostname(), u.Port(), dbName), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("rolling-slow", ".status.phase") }).Should(Equal("AwaitingApproval"))
		hash := jsonpath("rolling-slow", ".status.plan.hash")

		kubectlOK(as(reviewer, "shift", "approve", "rolling-slow", "--yes", "-n", namespace)...)
		By("waiting until the second step sleeps inside its transaction, the first committed")
		Eventually(func() (int, error) { return sleepingOn(db, dbName) }).Should(Equal(1))
		Expect(revisions(db, "$1", "")).To(Equal([]string{"checkpoint"}))

		first.kill()
		startManager("rolling-second", managerOptions{webhooks: true})

		Eventually(func() string { return jsonpath("rolling-slow", ".status.phase") }).Should(Equal("Succeeded"))
		Expect(jsonpath("rolling-slow", ".status.lastApplied.planHash")).To(Equal(hash))
		Expect(jsonpath("rolling-slow", ".status.message")).To(ContainSubstring("resuming after the 1 step(s) an interrupted apply committed"))
		Expect(jsonpath("rolling-slow", ".status.rolling.resumedSteps")).To(Equal("1"))
		Expect(jsonpath("rolling-slow", ".status.rolling.phase")).To(Equal("Completed"))
		Expect(revisions(db, "$1", "")).To(Equal([]string{"checkpoint", "checkpoint", "succeeded"}),
			"the first step ran once: its checkpoint, the second's, and the whole plan's")
		Expect(revisions(db, "$1", hash)).To(Equal([]string{"succeeded"}))
	})

	// bigTableRows is enough rows for the copy to take a few seconds at
	// a small batch size, and the manager's status to show it copying
	// before it ends.
	const bigTableRows = 1_000_000
	// bigTable makes a PostgreSQL database whose table takes the copy a
	// few seconds at a small batch size, and a Secret for it.
	bigTable := func(secret string) (string, *sql.DB, *url.URL) {
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		u, _ := credentialsFor(secret, dbURL)
		db := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		for _, stmt := range []string{
			"CREATE TABLE events (id serial PRIMARY KEY, n integer NOT NULL, payload text NOT NULL)",
			fmt.Sprintf("INSERT INTO events (n, payload) SELECT g, md5(g::text) FROM generate_series(1, %d) g", bigTableRows),
		} {
			_, err := db.Exec(stmt)
			Expect(err).NotTo(HaveOccurred())
		}
		return dbURL, db, u
	}
	// tuning keeps a shadow-table copy in small batches (it sizes them by
	// time, and would otherwise grow them until the table's rows take a
	// second), so that the copy lasts long enough to be killed mid-way.
	tuning := func(strategy string) string {
		if strategy != "shadow-table" {
			return ""
		}
		return "\n    shadowTable: {batchTime: 1ms}"
	}
	copyManifest := func(name, secret, strategy string, u *url.URL) string {
		return fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: %s, namespace: %s}
spec:
  database: {type: postgresql, connectionSecret: %s, host: %q, port: %s, database: %q, sslMode: disable}
  migration:
    strategy: %s
    batchSize: 200%s
    scripts:
    - name: widen
      type: schema
      source: inline
      sql: "ALTER TABLE events ALTER COLUMN n TYPE bigint;"
`, name, namespace, secret, u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), strategy, tuning(strategy))
	}

	It("starts a shadow-table copy over when the manager is killed mid-copy, and loses no row", func() {
		first := startManager("shadow-first", managerOptions{webhooks: true})
		_, db, u := bigTable("shadow-credentials")
		kubectlOKStdin(copyManifest("shadow-crash", "shadow-credentials", "shadow-table", u), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("shadow-crash", ".status.phase") }).Should(Equal("AwaitingApproval"))
		kubectlOK(as(reviewer, "shift", "approve", "shadow-crash", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("shadow-crash", ".status.shadowTable.syncStatus") }).Should(Equal("copying"))

		first.kill()
		startManager("shadow-second", managerOptions{webhooks: true})
		Eventually(func() string { return jsonpath("shadow-crash", ".status.phase") }, "180s").Should(Equal("Succeeded"))
		Expect(jsonpath("shadow-crash", ".status.shadowTable.syncStatus")).To(Equal("done"))

		var dataType string
		Expect(db.QueryRow("SELECT data_type FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'n'").Scan(&dataType)).To(Succeed())
		Expect(dataType).To(Equal("bigint"))
		var n int
		Expect(db.QueryRow("SELECT count(*) FROM events").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(bigTableRows))
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.triggers WHERE event_object_table = 'events'").Scan(&n)).To(Succeed())
		Expect(n).To(BeZero(), "no sync trigger is left on the table")
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_name = '_events_new'").Scan(&n)).To(Succeed())
		Expect(n).To(BeZero(), "the killed run's shadow is gone")
	})

	It("copies blue again when the manager is killed mid-copy of a blue-green migration", func() {
		first := startManager("bluegreen-first", managerOptions{webhooks: true})
		dbURL, _, u := bigTable("bluegreen-credentials")
		kubectlOKStdin(copyManifest("bluegreen-crash", "bluegreen-credentials", "blue-green", u), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("bluegreen-crash", ".status.phase") }).Should(Equal("AwaitingApproval"))
		kubectlOK(as(reviewer, "shift", "approve", "bluegreen-crash", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("bluegreen-crash", ".status.progress.currentStep") }).Should(ContainSubstring("copying table events"))

		first.kill()
		startManager("bluegreen-second", managerOptions{webhooks: true})
		Eventually(func() string { return jsonpath("bluegreen-crash", ".status.phase") }, "180s").Should(Equal("AwaitingSwitch"))
		green := jsonpath("bluegreen-crash", ".status.blueGreen.greenDatabase")
		DeferCleanup(func() { _ = dbtest.DropPostgresDatabase(dbURL, green) })
		greenDB := dbtest.OpenPostgres(GinkgoTB(), strings.Replace(dbURL, u.Path, "/"+green, 1))
		var n int
		Expect(greenDB.QueryRow("SELECT count(*) FROM events").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(bigTableRows))
		var dataType string
		Expect(greenDB.QueryRow("SELECT data_type FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'n'").Scan(&dataType)).To(Succeed())
		Expect(dataType).To(Equal("bigint"))
	})

	It("applies two approved plans for one SQLite file one after the other, never at once", func() {
		startManager("serial", managerOptions{webhooks: true})
		dbPath := filepath.Join(GinkgoT().TempDir(), "serial.db")
		for _, name := range []string{"serial-a", "serial-b"} {
			kubectlOKStdin(sqliteManifest(name, dbPath, fmt.Sprintf("CREATE TABLE %s (id INTEGER PRIMARY KEY);", strings.ReplaceAll(name, "-", "_"))),
				as(developer, "apply", "-f", "-")...)
		}
		approved := map[string]string{}
		for _, name := range []string{"serial-a", "serial-b"} {
			Eventually(func() string { return jsonpath(name, ".status.phase") }).Should(Equal("AwaitingApproval"))
			approved[name] = jsonpath(name, ".status.plan.hash")
		}

		By("approving both plans at once")
		var wg sync.WaitGroup
		outs := make([]string, 2)
		errs := make([]error, 2)
		for i, name := range []string{"serial-a", "serial-b"} {
			wg.Go(func() {
				defer GinkgoRecover()
				outs[i], errs[i] = kubectl(as(reviewer, "annotate", "databasemigration", name, "-n", namespace,
					"database.mohitnagaraj.in/approved-plan="+approved[name])...)
			})
		}
		wg.Wait()
		for i := range errs {
			Expect(errs[i]).NotTo(HaveOccurred(), outs[i])
		}

		// Each plan's hash covers the live schema. Run one after the other,
		// the second finds the schema the first left and refuses its
		// approved plan; run at once, both would go through as approved.
		By("waiting for one to succeed and the other to refuse its stale approval")
		var first, second string
		Eventually(func(g Gomega) {
			a, b := jsonpath("serial-a", ".status.phase"), jsonpath("serial-b", ".status.phase")
			g.Expect(a).NotTo(Equal("Failed"), jsonpath("serial-a", ".status.message"))
			g.Expect(b).NotTo(Equal("Failed"), jsonpath("serial-b", ".status.message"))
			switch {
			case a == "Succeeded" && b == "AwaitingApproval" && jsonpath("serial-b", ".status.plan.hash") != approved["serial-b"]:
				first, second = "serial-a", "serial-b"
			case b == "Succeeded" && a == "AwaitingApproval" && jsonpath("serial-a", ".status.plan.hash") != approved["serial-a"]:
				first, second = "serial-b", "serial-a"
			default:
				g.Expect(fmt.Sprintf("serial-a %s, serial-b %s", a, b)).To(Equal("one Succeeded, the other AwaitingApproval with a new plan"))
			}
		}).Should(Succeed())
		Expect(jsonpath(first, ".status.lastApplied.planHash")).To(Equal(approved[first]))
		Expect(jsonpath(second, ".status.lastApplied")).To(BeEmpty())
		Expect(sqliteTables(dbPath)).NotTo(ContainElement(strings.ReplaceAll(second, "-", "_")), "the refused plan ran nothing")

		By("approving the second migration's new plan")
		newHash := jsonpath(second, ".status.plan.hash")
		kubectlOK(as(reviewer, "shift", "approve", second, "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath(second, ".status.phase") }).Should(Equal("Succeeded"))
		Expect(jsonpath(second, ".status.lastApplied.planHash")).To(Equal(newHash))

		db, err := sql.Open("sqlite", dbPath)
		Expect(err).NotTo(HaveOccurred())
		defer db.Close()
		Expect(sqliteTables(dbPath)).To(ContainElements("serial_a", "serial_b"))
		Expect(revisions(db, "?", approved[first])).To(Equal([]string{"succeeded"}))
		Expect(revisions(db, "?", newHash)).To(Equal([]string{"succeeded"}))
		Expect(revisions(db, "?", "")).To(Equal([]string{"succeeded", "succeeded"}), "two revisions in all, no failed one")
	})

	It("hands leadership over when the leader is killed, and the new leader reconciles", func() {
		// The manager's ServiceAccount may hold Leases in its own namespace
		// only (config/rbac's leader-election Role).
		leaseNS := namespace
		if deployed {
			leaseNS = deployedNamespace()
		}
		electing := []string{"--leader-elect", "--leader-election-namespace", leaseNS}
		// Only one process can serve the webhooks' port: the first leader
		// does not, so admission keeps working when it is killed.
		leader := startManager("leader-first", managerOptions{args: electing})
		// The Lease may still name a manager an earlier spec killed: read
		// the holder only once this one has taken it over.
		Eventually(leader.logText).Should(ContainSubstring("Successfully acquired lease"))
		firstHolder := leaseHolder(leaseNS)
		Expect(firstHolder).NotTo(BeEmpty())
		standby := startManager("leader-standby", managerOptions{webhooks: true, args: electing})
		Expect(leaseHolder(leaseNS)).To(Equal(firstHolder))

		dbPath := filepath.Join(GinkgoT().TempDir(), "leader.db")
		kubectlOKStdin(sqliteManifest("led-before", dbPath, "CREATE TABLE before_handover (id INTEGER PRIMARY KEY);"),
			as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("led-before", ".status.phase") }).Should(Equal("AwaitingApproval"))
		Expect(leaseHolder(leaseNS)).To(Equal(firstHolder))
		Expect(standby.logText()).To(ContainSubstring("Attempting to acquire leader lease"))
		Expect(standby.logText()).NotTo(ContainSubstring("Successfully acquired lease"), "one leader at a time")

		leader.kill()
		Eventually(func() string { return leaseHolder(leaseNS) }).ShouldNot(Equal(firstHolder))
		Eventually(standby.logText).Should(ContainSubstring("Successfully acquired lease"))

		kubectlOKStdin(sqliteManifest("led-after", dbPath, "CREATE TABLE after_handover (id INTEGER PRIMARY KEY);"),
			as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("led-after", ".status.phase") }).Should(Equal("AwaitingApproval"))
		kubectlOK(as(reviewer, "shift", "approve", "led-after", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("led-after", ".status.phase") }).Should(Equal("Succeeded"))
		Expect(sqliteTables(dbPath)).To(ContainElement("after_handover"))
	})
})

// sqliteManifest is a one-script migration of a SQLite file.
func sqliteManifest(name, dbPath, script string) string {
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

// sleepingOn counts the sessions on database dbName in pg_sleep: the apply
// is inside its transaction.
func sleepingOn(db *sql.DB, dbName string) (int, error) {
	var n int
	err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = $1 AND state = 'active' AND query ILIKE '%pg_sleep%' AND pid <> pg_backend_pid()`, dbName).Scan(&n)
	return n, err
}

// revisions lists the status of every kube_shift_revisions row for a plan
// hash (every row when hash is empty), oldest first. placeholder is the
// driver's bind parameter.
func revisions(db *sql.DB, placeholder, hash string) []string {
	GinkgoHelper()
	query := `SELECT status FROM kube_shift_revisions`
	var args []any
	if hash != "" {
		query += ` WHERE plan_hash = ` + placeholder
		args = append(args, hash)
	}
	rows, err := db.Query(query+` ORDER BY id`, args...)
	Expect(err).NotTo(HaveOccurred())
	defer rows.Close()
	statuses := []string{}
	for rows.Next() {
		var s string
		Expect(rows.Scan(&s)).To(Succeed())
		statuses = append(statuses, s)
	}
	Expect(rows.Err()).NotTo(HaveOccurred())
	return statuses
}

// leaseHolder is the holder of the manager's leader-election Lease in ns,
// empty when there is none.
func leaseHolder(ns string) string {
	out, err := kubectl("get", "lease", "kube-shift.database.mohitnagaraj.in", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}
