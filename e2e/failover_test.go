package e2e

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// Faults the operator must survive with nothing lost (issue 18): the
// leader killed again and again under load, the API server gone while an
// apply runs, the manager killed in the middle of a rollback. Each case
// ends in a state a person can trust, checked from the database side, and
// prints one line of a results table as internal/planner's fault tests do.
var _ = Describe("faults survived with nothing lost", Ordered, Serial, func() {
	var results []string

	BeforeAll(func() {
		Expect(startedLocal).To(BeTrue(), "these specs kill managers and stop the API server: they need the local "+
			"control plane the suite starts itself (unset E2E_KUBECONFIG)")
		stopSuiteManager()
		DeferCleanup(restoreSuiteManager)
	})

	AfterAll(func() {
		header := fmt.Sprintf("%-8s %-14s %-9s %-34s %9s %14s", "fault", "strategy", "engine", "outcome", "rows lost", "double applies")
		for _, line := range append([]string{header}, results...) {
			GinkgoWriter.Println(line)
			fmt.Fprintln(os.Stdout, line)
		}
	})

	result := func(fault, strategy, engine, outcome string, lost, double int) {
		results = append(results, fmt.Sprintf("%-8s %-14s %-9s %-34s %9d %14d", fault, strategy, engine, outcome, lost, double))
	}

	It("applies 100 migrations over 20 databases once each, one at a time per database, while the leader is killed three times", func() {
		const databases, perDatabase, kills = 20, 5, 3
		leaseNS := namespace
		if deployed {
			leaseNS = deployedNamespace()
		}
		// Quicker reconciles than the defaults: 100 plans on two cores.
		electing := []string{"--leader-elect", "--leader-election-namespace", leaseNS,
			"--max-concurrent-reconciles", "8", "--max-concurrent-applies", "6"}
		managers := []*managerProcess{startManager("load-1", managerOptions{args: electing})}
		Eventually(managers[0].logText).Should(ContainSubstring("Successfully acquired lease"))
		// Only one process can serve the webhooks: not the first leader.
		webhooks := startManager("load-2", managerOptions{webhooks: true, args: electing})
		managers = append(managers, webhooks)

		By("making 20 databases, each with an audit table the migrations write their start and end to")
		var (
			target   *url.URL
			password string
			dbNames  []string
			dbs      []*sql.DB
		)
		for i := range databases {
			dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
			u, err := url.Parse(dbURL)
			Expect(err).NotTo(HaveOccurred())
			db := dbtest.OpenPostgres(GinkgoTB(), dbURL)
			_, err = db.Exec(`CREATE TABLE audit (migration text NOT NULL, what text NOT NULL, at timestamptz NOT NULL)`)
			Expect(err).NotTo(HaveOccurred())
			if i == 0 {
				target = u
				password, _ = u.User.Password()
			}
			dbNames, dbs = append(dbNames, strings.TrimPrefix(u.Path, "/")), append(dbs, db)
		}
		kubectlOK(as(developer, "create", "secret", "generic", "load-credentials", "-n", namespace,
			"--from-literal=username="+target.User.Username(), "--from-literal=password="+password)...)

		By("creating 100 migrations, five per database")
		var manifests []string
		names := map[string]string{} // migration -> database
		for d, dbName := range dbNames {
			for m := range perDatabase {
				name := fmt.Sprintf("load-%02d-%d", d, m)
				names[name] = dbName
				// One transaction: both rows commit with the revision, or
				// neither does. clock_timestamp, not now(): the
				// transaction's start would make every interval empty.
				script := fmt.Sprintf("INSERT INTO audit VALUES ('%[1]s', 'start', clock_timestamp()); SELECT pg_sleep(0.3); "+
					"INSERT INTO audit VALUES ('%[1]s', 'end', clock_timestamp());", name)
				manifests = append(manifests, fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: %s, namespace: %s, labels: {e2e-fault: failover}}
spec:
  database: {type: postgresql, connectionSecret: load-credentials, host: %q, port: %s, database: %q, sslMode: disable}
  migration:
    scripts:
    - {name: audit, type: data, source: inline, sql: %q}
`, name, namespace, target.Hostname(), target.Port(), dbName, script))
			}
		}
		kubectlOKStdin(strings.Join(manifests, "---\n"), as(developer, "apply", "-f", "-")...)
		started := time.Now()
		Eventually(func() map[string]int { return countPhases(loadPhases()) }, "150s", "2s").
			Should(Equal(map[string]int{"AwaitingApproval": databases * perDatabase}))
		GinkgoWriter.Printf("100 plans in %s\n", time.Since(started).Round(time.Second))

		By("sampling the server for two applies on one database at once, for as long as the specs run")
		sampler := newApplySampler(dbs[0], dbNames)
		defer sampler.stop()

		By("approving them all as the reviewer while the leader is killed whenever applies are in flight")
		approved := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(approved)
			approveAll(mapKeys(names))
		}()
		for k := range kills {
			Eventually(sampler.inFlight, "60s", "50ms").Should(BeNumerically(">", 0), "no apply in flight before kill %d", k+1)
			leader := currentLeader(managers)
			Expect(leader).NotTo(BeNil(), "no manager says it leads")
			leader.kill()
			GinkgoWriter.Printf("kill %d: %s, with %d apply(ies) in flight\n", k+1, leader.name, sampler.inFlight())
			replacement := managerOptions{args: electing}
			if leader == webhooks {
				replacement.webhooks = true
			}
			next := startManager(fmt.Sprintf("load-%d", len(managers)+1), replacement)
			if replacement.webhooks {
				webhooks = next
			}
			managers = append(managers, next)
			// The killed leader's lease runs out before another takes it.
			Eventually(func() *managerProcess { return currentLeader(managers) }, "60s").ShouldNot(BeNil())
		}
		Eventually(approved, "120s").Should(BeClosed())

		Eventually(func() map[string]int { return countPhases(loadPhases()) }, "150s", "2s").
			Should(Equal(map[string]int{"Succeeded": databases * perDatabase}))
		GinkgoWriter.Printf("100 applied %s after the first plan\n", time.Since(started).Round(time.Second))
		sampler.stop()

		By("checking every database: each migration's two audit rows once, intervals never overlapping, one succeeded revision per plan")
		phases := loadPhases()
		lost, double := 0, 0
		for d, dbName := range dbNames {
			db := dbs[d]
			rows := auditRows(db)
			var intervals []auditInterval
			for m := range perDatabase {
				name := fmt.Sprintf("load-%02d-%d", d, m)
				got := rows[name]
				switch {
				case len(got) < 2:
					lost += 2 - len(got)
				case len(got) > 2:
					double += (len(got) - 1) / 2
				}
				Expect(got).To(HaveLen(2), "migration %s's audit rows in %s", name, dbName)
				intervals = append(intervals, auditInterval{name, got[0], got[1]})
				hash := phases[name].hash
				Expect(hash).NotTo(BeEmpty())
				Expect(revisions(db, "$1", hash)).To(Equal([]string{"succeeded"}), "migration %s's plan in %s", name, dbName)
			}
			Expect(revisions(db, "$1", "")).To(HaveLen(perDatabase), "no other revision row in %s", dbName)
			Expect(overlapping(intervals)).To(BeEmpty(), "applies on %s ran at once", dbName)
		}
		Expect(sampler.maxPerDatabase()).To(BeNumerically("<=", 1), "two applies slept on one database at once")
		result("leader", "transactional", "postgres",
			fmt.Sprintf("100 succeeded, %d kills", kills), lost, double)
	})

	// apiServerCase is one strategy's slow apply, with 100 rows it writes.
	type apiServerCase struct {
		strategy, scripts, table string
	}
	for _, c := range []apiServerCase{
		{"transactional", `
    - name: slow
      type: schema
      source: inline
      sql: "CREATE TABLE slow (id int); INSERT INTO slow SELECT generate_series(1, 100); SELECT pg_sleep(6); ALTER TABLE slow ADD COLUMN note text;"`, "slow"},
		{"rolling", `
    - name: first
      type: schema
      source: inline
      sql: "CREATE TABLE first_step (id int);"
    - name: slow
      type: schema
      source: inline
      sql: "CREATE TABLE slow_step (id int); INSERT INTO slow_step SELECT generate_series(1, 100); SELECT pg_sleep(6);"
      dependsOn: [first]`, "slow_step"},
	} {
		It(fmt.Sprintf("finishes a %s apply once when the API server is stopped for 15s in the middle of it (PostgreSQL)", c.strategy), func() {
			const rows = 100
			m := startManager("apiserver-"+c.strategy, managerOptions{webhooks: true})
			dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
			name, secret := "apiserver-"+c.strategy, "apiserver-"+c.strategy+"-credentials"
			u, dbName := credentialsFor(secret, dbURL)
			db := dbtest.OpenPostgres(GinkgoTB(), dbURL)

			kubectlOKStdin(fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: %s, namespace: %s}
spec:
  database: {type: postgresql, connectionSecret: %s, host: %q, port: %s, database: %q, sslMode: disable}
  migration:
    strategy: %s
    scripts:%s
`, name, namespace, secret, u.Hostname(), u.Port(), dbName, c.strategy, c.scripts), as(developer, "apply", "-f", "-")...)
			Eventually(func() string { return jsonpath(name, ".status.phase") }).Should(Equal("AwaitingApproval"))
			hash := jsonpath(name, ".status.plan.hash")
			kubectlOK(as(reviewer, "shift", "approve", name, "--yes", "-n", namespace)...)
			By("waiting until the apply sleeps on the target, then stopping the API server")
			Eventually(func() (int, error) { return sleepingOn(db, dbName) }).Should(Equal(1))

			stopAPIServer()
			down := time.Now()
			stopped := true
			DeferCleanup(func() {
				if stopped {
					startAPIServer()
				}
			})
			By("the apply ends while the API server is down: its progress and its outcome find nobody to write to")
			Eventually(func() ([]string, error) { return succeededNow(db, hash) }, "14s", "200ms").Should(Equal([]string{"succeeded"}))
			time.Sleep(time.Until(down.Add(15 * time.Second)))
			Expect(m.running()).To(BeTrue(), "the manager rode the outage out:\n%s", m.logTail())
			startAPIServer()
			stopped = false
			GinkgoWriter.Printf("the API server was down for %s\n", time.Since(down).Round(time.Second))

			Eventually(func() string { return jsonpath(name, ".status.phase") }).Should(Equal("Succeeded"))
			Expect(jsonpath(name, ".status.lastApplied.planHash")).To(Equal(hash))
			Expect(jsonpath(name, `.status.conditions[?(@.type=="Applied")].reason`)).To(Equal("Applied"),
				"the outcome of the one apply was recorded, not found applied by a second")
			Expect(jsonpath(name, `.status.conditions[?(@.type=="Ready")].status`)).To(Equal("True"))
			Expect(m.running()).To(BeTrue())

			var n int
			Expect(db.QueryRow("SELECT count(*) FROM " + c.table).Scan(&n)).To(Succeed())
			succeeded := revisions(db, "$1", hash)
			Expect(succeeded).To(Equal([]string{"succeeded"}), "one revision for the plan, and it succeeded")
			Expect(n).To(Equal(rows), "the data script ran once")
			result("apiserver", c.strategy, "postgres", "applied once, API server down 15s", rows-n, len(succeeded)-1)
		})
	}

	It("leaves a MariaDB migration whose manager was killed in the middle of its rollback in a state a person can trust", func() {
		first := startManager("rollback-first", managerOptions{webhooks: true})
		dbURL := dbtest.NewMySQLDatabase(GinkgoTB())
		u, dbName := credentialsFor("rollback-credentials", dbURL)
		db := dbtest.OpenMySQL(GinkgoTB(), dbURL)
		const users = 100
		_, err := db.Exec("CREATE TABLE users (id int PRIMARY KEY, email varchar(100))")
		Expect(err).NotTo(HaveOccurred())
		for i := range users {
			// Two users share an address: a unique index on it fails.
			_, err = db.Exec("INSERT INTO users VALUES (?, ?)", i, fmt.Sprintf("u%d@example.com", min(i, users-2)))
			Expect(err).NotTo(HaveOccurred())
		}
		// Statement 1 creates a table, statement 2 leaves time to hold a
		// lock on it, statement 3 fails on the data: the rollback drops
		// the table, and waits for the lock the spec holds.
		kubectlOKStdin(fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: rollback-kill, namespace: %s}
spec:
  database: {type: mariadb, connectionSecret: rollback-credentials, host: %q, port: %s, database: %q, sslMode: disable}
  rollback: {automatic: true}
  migration:
    strategy: transactional
    scripts:
    - {name: add-log, type: schema, source: inline, sql: "CREATE TABLE audit_log (id int PRIMARY KEY);"}
    - {name: pause, type: schema, source: inline, sql: "SELECT SLEEP(4);", dependsOn: [add-log]}
    - {name: unique-email, type: schema, source: inline, sql: "ALTER TABLE users ADD UNIQUE INDEX users_email (email);", dependsOn: [pause]}
`, namespace, u.Hostname(), u.Port(), dbName), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("rollback-kill", ".status.phase") }).Should(Equal("AwaitingApproval"))
		hash := jsonpath("rollback-kill", ".status.plan.hash")
		kubectlOK(as(reviewer, "shift", "approve", "rollback-kill", "--yes", "-n", namespace)...)

		By("holding a read of the new table open, as an application would, once statement 1 ran")
		Eventually(func() (int, error) { return mysqlRunning(db, dbName, "SLEEP") }).Should(Equal(1))
		reader, err := db.Begin()
		Expect(err).NotTo(HaveOccurred())
		defer func() { _ = reader.Rollback() }()
		var n int
		Expect(reader.QueryRow("SELECT count(*) FROM audit_log").Scan(&n)).To(Succeed())

		By("killing the manager while its rollback waits on that read to drop the table")
		Eventually(func() string { return jsonpath("rollback-kill", ".status.phase") }, "30s").Should(Equal("RollingBack"))
		Eventually(func() (int, error) { return mysqlRunning(db, dbName, "DROP TABLE") }, "30s").Should(Equal(1))
		first.kill()
		// The server drops the dead client's session, and its DROP with it.
		Eventually(func() (int, error) { return mysqlRunning(db, dbName, "DROP TABLE") }, "30s").Should(BeZero())
		Expect(reader.Rollback()).To(Succeed())
		Expect(mysqlTables(db)).To(ContainElement("audit_log"), "the rollback was cut short before it dropped the table")

		startManager("rollback-second", managerOptions{webhooks: true})
		Eventually(func() string { return jsonpath("rollback-kill", ".status.phase") }, "120s").
			Should(Equal("Failed"), jsonpath("rollback-kill", ".status.message"))
		message := jsonpath("rollback-kill", ".status.message")
		GinkgoWriter.Printf("the migration says: %s\n", message)

		tables := mysqlTables(db)
		var uniques int
		Expect(db.QueryRow(`SELECT count(*) FROM information_schema.statistics
			WHERE table_schema = DATABASE() AND table_name = 'users' AND index_name = 'users_email'`).Scan(&uniques)).To(Succeed())
		Expect(uniques).To(BeZero(), "the failed statement left nothing")
		statuses := revisions(db, "?", hash)
		Expect(statuses).NotTo(ContainElement("running"), "no revision is left running")
		Expect(statuses).NotTo(ContainElement("succeeded"))
		outcome := ""
		if slices.Contains(tables, "audit_log") {
			// Statement 1 stays: the migration and the revision table
			// must both say so, not that the schema is back where it was.
			Expect(message).NotTo(ContainSubstring("rolled back to the schema"))
			Expect(message).To(ContainSubstring("stay applied"))
			Expect(statuses[len(statuses)-1]).To(Equal("failed"), "the revision does not claim a rollback that did not happen")
			outcome = "failed, says statement 1 stays"
		} else {
			Expect(statuses[len(statuses)-1]).To(Equal("rolled back"))
			outcome = "rolled back fully"
		}
		Expect(db.QueryRow("SELECT count(*) FROM users").Scan(&n)).To(Succeed())

		By("the next migration of the database takes the migration lock: nobody holds it")
		kubectlOKStdin(fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata: {name: after-rollback-kill, namespace: %s}
spec:
  database: {type: mariadb, connectionSecret: rollback-credentials, host: %q, port: %s, database: %q, sslMode: disable}
  migration:
    scripts:
    - {name: next, type: schema, source: inline, sql: "CREATE TABLE next_table (id int PRIMARY KEY);"}
`, namespace, u.Hostname(), u.Port(), dbName), as(developer, "apply", "-f", "-")...)
		Eventually(func() string { return jsonpath("after-rollback-kill", ".status.phase") }).Should(Equal("AwaitingApproval"))
		kubectlOK(as(reviewer, "shift", "approve", "after-rollback-kill", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("after-rollback-kill", ".status.phase") }).Should(Equal("Succeeded"))
		result("rbkill", "transactional", "mariadb", outcome, users-n, 0)
	})
})

// succeededNow lists the statuses of a plan's revision rows, as
// revisions does, but as an error while there is no revision table yet.
func succeededNow(db *sql.DB, hash string) ([]string, error) {
	rows, err := db.Query(`SELECT status FROM kube_shift_revisions WHERE plan_hash = $1 ORDER BY id`, hash)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var statuses []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		statuses = append(statuses, s)
	}
	return statuses, rows.Err()
}

// mysqlRunning counts the statements running on database dbName whose
// text contains what.
func mysqlRunning(db *sql.DB, dbName, what string) (int, error) {
	var n int
	err := db.QueryRow(`SELECT count(*) FROM information_schema.processlist
		WHERE db = ? AND command = 'Query' AND info LIKE ? AND id <> CONNECTION_ID()`, dbName, "%"+what+"%").Scan(&n)
	return n, err
}

// mysqlTables lists the tables of the connection's database.
func mysqlTables(db *sql.DB) []string {
	GinkgoHelper()
	return queryStrings(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name")
}

// loadStatus is a load migration's phase and the hash it applied.
type loadStatus struct{ phase, hash string }

// loadPhases reads the failover spec's migrations in one call.
func loadPhases() map[string]loadStatus {
	out, err := kubectl("get", "databasemigrations", "-n", namespace, "-l", "e2e-fault=failover", "-o",
		`jsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\t"}{.status.lastApplied.planHash}{"\n"}{end}`)
	if err != nil {
		return nil
	}
	phases := map[string]loadStatus{}
	for line := range strings.SplitSeq(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 {
			phases[f[0]] = loadStatus{f[1], f[2]}
		}
	}
	return phases
}

func countPhases(phases map[string]loadStatus) map[string]int {
	n := map[string]int{}
	for _, s := range phases {
		n[s.phase]++
	}
	return n
}

// approveAll approves each migration's plan as the reviewer, four at a
// time; an approval refused while the webhooks' manager is being
// replaced is tried again.
func approveAll(names []string) {
	GinkgoHelper()
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			defer GinkgoRecover()
			for name := range work {
				Eventually(func() error {
					_, err := quietKubectl(as(reviewer, "shift", "approve", name, "--yes", "-n", namespace)...)
					return err
				}, "60s", "1s").Should(Succeed(), "approving %s", name)
			}
		})
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
}

// quietKubectl is kubectl without echoing its output to GinkgoWriter:
// a hundred approvals would bury the rest.
func quietKubectl(args ...string) (string, error) {
	out, err := exec.Command("kubectl", append(args, "--kubeconfig", kubeconfig)...).CombinedOutput()
	return string(out), err
}

// currentLeader is the running manager whose log says it acquired the
// lease, nil when none has.
func currentLeader(managers []*managerProcess) *managerProcess {
	for _, m := range managers {
		if m.running() && strings.Contains(m.logText(), "Successfully acquired lease") {
			return m
		}
	}
	return nil
}

// applySampler polls pg_stat_activity for the applies sleeping on the
// specs' databases: how many now, and the most ever seen on one database
// at once. Transactions a killed manager left open count too: their rows
// vanish with the rollback, but they held the database all the same.
type applySampler struct {
	mu      sync.Mutex
	now     int
	max     int
	done    chan struct{}
	stopped sync.Once
}

func newApplySampler(db *sql.DB, dbNames []string) *applySampler {
	s := &applySampler{done: make(chan struct{})}
	quoted := make([]string, len(dbNames))
	for i, n := range dbNames {
		quoted[i] = "'" + n + "'"
	}
	query := `SELECT datname, count(*) FROM pg_stat_activity
		WHERE datname IN (` + strings.Join(quoted, ", ") + `) AND state = 'active' AND query ILIKE '%pg_sleep%'
		AND pid <> pg_backend_pid() GROUP BY datname`
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			rows, err := db.Query(query)
			if err != nil {
				continue
			}
			total, most := 0, 0
			for rows.Next() {
				var name string
				var n int
				if rows.Scan(&name, &n) == nil {
					total += n
					most = max(most, n)
				}
			}
			_ = rows.Close()
			s.mu.Lock()
			s.now, s.max = total, max(s.max, most)
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *applySampler) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *applySampler) maxPerDatabase() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

func (s *applySampler) stop() { s.stopped.Do(func() { close(s.done) }) }

// auditInterval is when one migration's apply ran, by its audit rows.
type auditInterval struct {
	migration  string
	start, end time.Time
}

// auditRows reads the audit table: each migration's rows by time.
func auditRows(db *sql.DB) map[string][]time.Time {
	GinkgoHelper()
	rows, err := db.Query(`SELECT migration, at FROM audit ORDER BY at`)
	Expect(err).NotTo(HaveOccurred())
	defer rows.Close()
	out := map[string][]time.Time{}
	for rows.Next() {
		var name string
		var at time.Time
		Expect(rows.Scan(&name, &at)).To(Succeed())
		out[name] = append(out[name], at)
	}
	Expect(rows.Err()).NotTo(HaveOccurred())
	return out
}

// overlapping names the pairs of applies whose intervals overlap.
func overlapping(intervals []auditInterval) []string {
	sort.Slice(intervals, func(i, j int) bool { return intervals[i].start.Before(intervals[j].start) })
	var out []string
	for i := 1; i < len(intervals); i++ {
		if prev := intervals[i-1]; intervals[i].start.Before(prev.end) {
			out = append(out, prev.migration+" and "+intervals[i].migration)
		}
	}
	return out
}

func mapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stopAPIServer stops the local control plane's kube-apiserver (etcd and
// everything else keep running) and waits until it refuses connections;
// startAPIServer starts it again with the same port, flags and
// certificates (hack/localcluster: SIGUSR1 and SIGUSR2).
func stopAPIServer() {
	GinkgoHelper()
	signalLocalCluster(syscall.SIGUSR1)
	Eventually(func() error {
		_, err := quietKubectl("get", "--raw", "/readyz")
		return err
	}, "60s").Should(HaveOccurred(), "the API server still answers")
	GinkgoWriter.Println("stopped kube-apiserver")
}

func startAPIServer() {
	GinkgoHelper()
	signalLocalCluster(syscall.SIGUSR2)
	Eventually(func() error {
		_, err := quietKubectl("get", "--raw", "/readyz")
		return err
	}, "90s").Should(Succeed(), "the API server does not serve again")
	GinkgoWriter.Println("kube-apiserver serves again")
}

func signalLocalCluster(sig syscall.Signal) {
	GinkgoHelper()
	b, err := os.ReadFile(localState("localcluster.pid"))
	Expect(err).NotTo(HaveOccurred())
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	Expect(err).NotTo(HaveOccurred())
	Expect(syscall.Kill(pid, sig)).To(Succeed())
}
