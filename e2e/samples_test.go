package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// slackSink is an incoming-webhook endpoint that keeps what it is sent.
type slackSink struct {
	*httptest.Server
	mu       sync.Mutex
	messages []string
}

func newSlackSink() *slackSink {
	s := &slackSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(body, &msg)
		s.mu.Lock()
		s.messages = append(s.messages, string(body))
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	DeferCleanup(s.Close)
	return s
}

func (s *slackSink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.messages...)
}

// The original kube-shift's MySQL sample, field for field, pointed at the
// local MariaDB server: a rolling migration from a ConfigMap, with
// pre-checks, integrity checks, thresholds, a graceful automatic rollback
// and a Slack notification.
var _ = Describe("the original kube-shift sample manifests", func() {
	It("runs the MySQL rolling sample to Succeeded, and tells Slack", func() {
		dbURL := dbtest.NewMySQLDatabase(GinkgoTB())
		db := dbtest.OpenMySQL(GinkgoTB(), dbURL)
		for _, stmt := range []string{
			"CREATE TABLE orders (id int NOT NULL AUTO_INCREMENT, status varchar(20), total decimal(10,2), PRIMARY KEY (id))",
			"INSERT INTO orders (status, total) VALUES ('new', 10.00), (NULL, 20.00), ('shipped', 30.00), (NULL, 5.50)",
		} {
			_, err := db.Exec(stmt)
			Expect(err).NotTo(HaveOccurred())
		}
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		password, _ := u.User.Password()
		sink := newSlackSink()
		slackToken := fmt.Sprintf("e2e-slack-token-%d", time.Now().UnixNano())
		rememberSecret(slackToken)

		kubectlOK(as(developer, "create", "secret", "generic", "mysql-credentials", "-n", namespace,
			"--from-literal=username="+u.User.Username(), "--from-literal=password="+password)...)
		kubectlOK(as(developer, "create", "secret", "generic", "mysql-slack-webhook-secret", "-n", namespace,
			"--from-literal=url="+sink.URL+"/services/T000/B000/"+slackToken)...)
		kubectlOK(as(developer, "create", "configmap", "migrations", "-n", namespace,
			"--from-literal=mysql_001_add_index.sql=CREATE INDEX idx_orders_status ON orders (status);",
			"--from-literal=mysql_002_update_statuses.sql=UPDATE orders SET status = 'pending' WHERE status IS NULL;")...)
		manifest := fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  labels:
    app.kubernetes.io/name: kube-shift
    app.kubernetes.io/managed-by: kustomize
  name: mysql-migration-sample
  namespace: %s
spec:
  database:
    type: mysql
    connectionSecret: mysql-credentials
    host: %s
    port: %s
    database: %s
    sslMode: disable
  migration:
    strategy: rolling
    scripts:
      - name: add-order-status-index
        type: schema
        source: configmap://migrations/mysql_001_add_index.sql
        timeout: 3m
      - name: update-order-statuses
        type: data
        source: configmap://migrations/mysql_002_update_statuses.sql
        dependsOn: ["add-order-status-index"]
        timeout: 15m
    parallel: true
    batchSize: 500
  validation:
    preChecks:
      - type: connection
      - type: permissions
    dataIntegrityChecks:
      enabled: true
      samplePercentage: 5
    performanceThresholds:
      maxMigrationTime: 45m
      maxCpuUsage: 75%%
      maxMemoryUsage: 65%%
  rollback:
    automatic: true
    conditions:
      - timeout
      - performance-degradation
    strategy: graceful
    preserveBackup: true
  notifications:
    slack:
      webhook: mysql-slack-webhook-secret
`, namespace, u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"))
		out := kubectlOKStdin(manifest, as(developer, "apply", "-f", "-")...)
		Expect(out).To(ContainSubstring("maxCpuUsage is not checked"), "thresholds the engine cannot measure are said so at admission")

		Eventually(func() string { return jsonpath("mysql-migration-sample", ".status.phase") }).Should(Equal("AwaitingApproval"))
		kubectlOK(as(reviewer, "shift", "approve", "mysql-migration-sample", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("mysql-migration-sample", ".status.phase") }).Should(Equal("Succeeded"))
		Expect(jsonpath("mysql-migration-sample", ".status.rolling.phase")).To(Equal("Completed"))
		Expect(jsonpath("mysql-migration-sample", ".status.rolling.totalSteps")).To(Equal("2"))
		Expect(jsonpath("mysql-migration-sample", ".status.metrics.cpuUsage")).To(HavePrefix("not measured"))

		var pending int
		Expect(db.QueryRow("SELECT count(*) FROM orders WHERE status = 'pending'").Scan(&pending)).To(Succeed())
		Expect(pending).To(Equal(2))
		var index string
		Expect(db.QueryRow("SELECT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'orders' AND index_name = 'idx_orders_status' LIMIT 1").Scan(&index)).To(Succeed())

		if !startedLocal {
			// On a kind cluster the manager cannot reach this process.
			return
		}
		Eventually(sink.received).Should(ContainElements(
			SatisfyAll(ContainSubstring("mysql-migration-sample"), ContainSubstring("AwaitingApproval"), ContainSubstring("sha256:")),
			SatisfyAll(ContainSubstring("mysql-migration-sample"), ContainSubstring("Succeeded")),
		))
		for _, m := range sink.received() {
			Expect(m).NotTo(ContainSubstring(password))
			Expect(m).NotTo(ContainSubstring(slackToken))
		}
	})

	It("runs the PostgreSQL blue-green sample to Succeeded: green migrated and validated, switched on a reviewer's word", func() {
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		db := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		for _, stmt := range []string{
			"CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL)",
			"INSERT INTO products (name, price) SELECT 'product ' || g, g * 1.5 FROM generate_series(1, 500) g",
		} {
			_, err := db.Exec(stmt)
			Expect(err).NotTo(HaveOccurred())
		}
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		password, _ := u.User.Password()
		blue := strings.TrimPrefix(u.Path, "/")
		sink := newSlackSink()

		kubectlOK(as(developer, "create", "secret", "generic", "postgres-credentials", "-n", namespace,
			"--from-literal=username="+u.User.Username(), "--from-literal=password="+password)...)
		kubectlOK(as(developer, "create", "secret", "generic", "bluegreen-slack-webhook-secret", "-n", namespace,
			"--from-literal=url="+sink.URL+"/services/T000/B000/bluegreen-token")...)
		kubectlOK(as(developer, "create", "configmap", "bluegreen-migrations", "-n", namespace,
			"--from-literal=bluegreen_001_schema_v2.sql=ALTER TABLE products ADD COLUMN currency char(3) NOT NULL DEFAULT 'EUR';",
			"--from-literal=bluegreen_002_data_v2.sql=UPDATE products SET currency = 'USD' WHERE id % 2 = 0;",
			"--from-literal=bluegreen_003_validate_v2.sql=SELECT count(*) = 500 FROM products WHERE currency IN ('EUR', 'USD');")...)
		// The original sample, field for field, but for the database's
		// address, sslMode (the tests reach the server without TLS) and the
		// ConfigMap's name (the rolling sample's is also "migrations").
		manifest := fmt.Sprintf(`apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  labels:
    app.kubernetes.io/name: kube-shift
    app.kubernetes.io/managed-by: kustomize
  name: bluegreen-migration-sample
  namespace: %s
spec:
  database:
    type: postgresql
    connectionSecret: postgres-credentials
    host: %s
    port: %s
    database: %s
    sslMode: disable
  migration:
    strategy: blue-green
    scripts:
      - name: schema-upgrade-v2
        type: schema
        source: configmap://bluegreen-migrations/bluegreen_001_schema_v2.sql
        timeout: 10m
      - name: data-migration-v2
        type: data
        source: configmap://bluegreen-migrations/bluegreen_002_data_v2.sql
        dependsOn: ["schema-upgrade-v2"]
        timeout: 30m
      - name: final-validation
        type: validation
        source: configmap://bluegreen-migrations/bluegreen_003_validate_v2.sql
        dependsOn: ["data-migration-v2"]
        timeout: 5m
    parallel: false
    batchSize: 2000
  validation:
    preChecks:
      - type: connection
      - type: permissions
      - type: disk-space
        threshold: 50GB
    dataIntegrityChecks:
      enabled: true
      samplePercentage: 20
      checksumValidation: true
    performanceThresholds:
      maxMigrationTime: 60m
      maxDowntime: 0s
      maxCpuUsage: 70%%
      maxMemoryUsage: 60%%
  rollback:
    automatic: true
    conditions:
      - data-corruption
      - performance-degradation
      - timeout
    strategy: immediate
    preserveBackup: true
  notifications:
    slack:
      webhook: bluegreen-slack-webhook-secret
    email:
      recipients: ["dba@company.com", "devops@company.com", "cto@company.com"]
`, namespace, u.Hostname(), u.Port(), blue)
		kubectlOKStdin(manifest, as(developer, "apply", "-f", "-")...)

		Eventually(func() string { return jsonpath("bluegreen-migration-sample", ".status.phase") }).Should(Equal("AwaitingApproval"))
		kubectlOK(as(reviewer, "shift", "approve", "bluegreen-migration-sample", "--yes", "-n", namespace)...)
		Eventually(func() string { return jsonpath("bluegreen-migration-sample", ".status.phase") }).Should(Equal("AwaitingSwitch"))
		green := jsonpath("bluegreen-migration-sample", ".status.blueGreen.greenDatabase")
		DeferCleanup(func() { _ = dbtest.DropPostgresDatabase(dbURL, green) })
		Expect(jsonpath("bluegreen-migration-sample", ".status.blueGreen.validationPassed")).To(Equal("true"))
		Expect(jsonpath("bluegreen-migration-sample", ".status.blueGreen.rowsCopied")).To(Equal("500"))

		By("the author cannot switch; a reviewer can")
		hash := jsonpath("bluegreen-migration-sample", ".status.plan.hash")
		out, err := kubectl(as(developer, "annotate", "databasemigration", "bluegreen-migration-sample", "-n", namespace,
			"database.mohitnagaraj.in/switch-approved="+hash)...)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("created this migration"))
		kubectlOK(as(reviewer, "annotate", "databasemigration", "bluegreen-migration-sample", "-n", namespace,
			"database.mohitnagaraj.in/switch-approved="+hash)...)
		Eventually(func() string { return jsonpath("bluegreen-migration-sample", ".status.phase") }).Should(Equal("Succeeded"))
		Expect(jsonpath("bluegreen-migration-sample", ".status.blueGreen.trafficSwitched")).To(Equal("true"))
		Expect(jsonpath("bluegreen-migration-sample", ".status.message")).To(ContainSubstring("switched by " + reviewer))

		greenDB := dbtest.OpenPostgres(GinkgoTB(), strings.Replace(dbURL, "/"+blue, "/"+green, 1))
		var usd int
		Expect(greenDB.QueryRow("SELECT count(*) FROM products WHERE currency = 'USD'").Scan(&usd)).To(Succeed())
		Expect(usd).To(Equal(250))
		var n int
		Expect(db.QueryRow("SELECT count(*) FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'currency'").Scan(&n)).To(Succeed())
		Expect(n).To(BeZero(), "blue is as it was")

		if startedLocal {
			Eventually(sink.received).Should(ContainElement(SatisfyAll(ContainSubstring("bluegreen-migration-sample"), ContainSubstring("Succeeded"))))
		}
		// The sample's e-mail names no SMTP Secret: once its retries are
		// spent the failure shows; the migration never waited for it.
		Eventually(func() string {
			return jsonpath("bluegreen-migration-sample", `.status.conditions[?(@.type=="Notified")].message`)
		}).Should(ContainSubstring("email.smtpSecret names no Secret"))
	})
})
