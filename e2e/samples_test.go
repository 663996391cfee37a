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

		kubectlOK(as(developer, "create", "secret", "generic", "mysql-credentials", "-n", namespace,
			"--from-literal=username="+u.User.Username(), "--from-literal=password="+password)...)
		kubectlOK(as(developer, "create", "secret", "generic", "mysql-slack-webhook-secret", "-n", namespace,
			"--from-literal=url="+sink.URL+"/services/T000/B000/not-a-real-token")...)
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
			Expect(m).NotTo(ContainSubstring("not-a-real-token"))
		}
	})
})
