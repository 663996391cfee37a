package notify_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/notify"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/envtestutil"
)

// k8s is a client of a real API server, where the tests keep their Secrets.
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env := &envtest.Environment{BinaryAssetsDirectory: envtestutil.AssetsDir(&testing.T{})}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(cfg, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

const dbPassword = "db-password-never-sent"

// connectionSecret creates the Secret the migrations' database names, so
// a message that quoted it would be caught.
func connectionSecret(t *testing.T) {
	t.Helper()
	secret(t, "pg-creds", map[string]string{"username": "app", "password": dbPassword, "url": "postgres://app:" + dbPassword + "@pg.example/shop"})
}

// migration is an object in phase with a plan and notifications.
func migration(name string, phase dbv1.MigrationPhase, n *dbv1.NotificationConfig) *dbv1.DatabaseMigration {
	return &dbv1.DatabaseMigration{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: dbv1.DatabaseMigrationSpec{
			Database:      &dbv1.DatabaseConfig{Type: dbv1.DatabaseTypePostgreSQL, Host: "pg.example", Database: "shop", ConnectionSecret: "pg-creds"},
			Notifications: n,
		},
		Status: dbv1.DatabaseMigrationStatus{
			Phase: phase, Reason: "PlanReady", Message: "plan ready for review",
			Plan: &dbv1.PlanStatus{Hash: "sha256:abc123", Statements: []string{"CREATE TABLE a (id int)", "CREATE TABLE b (id int)"},
				Changes: []string{"add table a", "add table b", "c1", "c2", "c3", "c4", "c5"}},
		},
	}
}

func secret(t *testing.T, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, StringData: data}
	NewWithT(t).Expect(k8s.Create(context.Background(), s)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), s) })
}

// started runs a Notifier with fast retries until the test ends.
func started(t *testing.T, opts notify.Options) *notify.Notifier {
	t.Helper()
	if opts.Backoff == 0 {
		opts.Backoff, opts.MaxBackoff, opts.Timeout = 10*time.Millisecond, 50*time.Millisecond, 2*time.Second
	}
	n := notify.New(k8s, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = n.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func delivery(n *notify.Notifier, name, channel string) func() notify.Result {
	return func() notify.Result {
		for _, r := range n.Delivery(types.NamespacedName{Namespace: "default", Name: name}) {
			if r.Channel == channel {
				return r
			}
		}
		return notify.Result{}
	}
}

func TestSlackReceivesTheMessageAndNoSecret(t *testing.T) {
	g := NewWithT(t)
	var bodies []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	hook := srv.URL + "/services/T1/B1/secret-token"
	secret(t, "slack-ok", map[string]string{"url": hook})
	connectionSecret(t)
	n := started(t, notify.Options{})

	n.Notify(context.Background(), migration("slack-ok", dbv1.PhaseAwaitingApproval, &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "slack-ok"}}))
	g.Eventually(delivery(n, "slack-ok", notify.ChannelSlack)).Should(HaveField("Attempts", 1))
	g.Expect(delivery(n, "slack-ok", notify.ChannelSlack)().Err).To(BeEmpty())
	mu.Lock()
	defer mu.Unlock()
	g.Expect(bodies).To(HaveLen(1))
	var payload struct{ Text string }
	g.Expect(json.Unmarshal([]byte(bodies[0]), &payload)).To(Succeed())
	g.Expect(payload.Text).To(SatisfyAll(
		ContainSubstring("default/slack-ok AwaitingApproval"),
		ContainSubstring("Plan sha256:abc123: 2 statement(s)"),
		ContainSubstring("add table a"), ContainSubstring("and 2 more"),
		ContainSubstring("kubectl shift status slack-ok"),
	))
	g.Expect(payload.Text).To(ContainSubstring("postgresql shop on pg.example"))
	g.Expect(bodies[0]).To(ContainSubstring(`"blocks"`))
	g.Expect(bodies[0]).NotTo(ContainSubstring("secret-token"))
	g.Expect(bodies[0]).NotTo(ContainSubstring(dbPassword))
}

func TestPhasesNobodyHearsAboutAreNotSent(t *testing.T) {
	g := NewWithT(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	// A Secret with one key, whatever its name, holds the URL.
	secret(t, "slack-quiet", map[string]string{"endpoint": srv.URL})
	// One worker sends in queue order: had Planning or Running been sent,
	// they would have been before Succeeded.
	n := started(t, notify.Options{Workers: 1})
	cfg := &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "slack-quiet"}}
	n.Notify(context.Background(), migration("quiet", dbv1.PhasePlanning, cfg))
	n.Notify(context.Background(), migration("quiet", dbv1.PhaseRunning, cfg))
	n.Notify(context.Background(), migration("quiet", dbv1.PhaseSucceeded, cfg))
	n.Notify(context.Background(), migration("quiet", dbv1.PhaseSucceeded, nil))
	g.Eventually(delivery(n, "quiet", notify.ChannelSlack)).Should(HaveField("Phase", dbv1.PhaseSucceeded))
	g.Expect(delivery(n, "quiet", notify.ChannelSlack)().Err).To(BeEmpty())
	g.Expect(hits.Load()).To(Equal(int32(1)))
}

// A failing endpoint is retried, the failure recorded without the URL,
// and counted; Notify itself only queues.
func TestAFailingEndpointIsRetriedAndReportedWithoutTheURL(t *testing.T) {
	g := NewWithT(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	secret(t, "slack-500", map[string]string{"url": srv.URL + "/token-500"})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	deadAddr := closed.Addr().String()
	_ = closed.Close()
	secret(t, "slack-dead", map[string]string{"webhook": "http://" + deadAddr + "/token-dead"})
	deadHost, deadPort, _ := net.SplitHostPort(deadAddr)
	secret(t, "smtp-dead", map[string]string{"host": deadHost, "port": deadPort, "from": "ops@example.com", "tls": "none"})

	failures := testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelSlack, "failure"))
	mailFailures := testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelEmail, "failure"))
	var changed atomic.Int32
	n := started(t, notify.Options{Attempts: 3, OnResult: func(types.NamespacedName) { changed.Add(1) }})
	// Notify only queues: these return although no endpoint answers.
	n.Notify(context.Background(), migration("fails", dbv1.PhaseFailed, &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "slack-500"}}))
	n.Notify(context.Background(), migration("dead", dbv1.PhaseFailed, &dbv1.NotificationConfig{
		Slack: &dbv1.SlackConfig{Webhook: "slack-dead"},
		Email: &dbv1.EmailConfig{Recipients: []string{"dba@example.com"}, SMTPSecret: "smtp-dead"},
	}))

	g.Eventually(delivery(n, "fails", notify.ChannelSlack)).Should(HaveField("Attempts", 3))
	g.Expect(hits.Load()).To(Equal(int32(3)))
	g.Expect(delivery(n, "fails", notify.ChannelSlack)().Err).To(Equal("the webhook answered 500 Internal Server Error"))
	g.Eventually(delivery(n, "dead", notify.ChannelSlack)).Should(HaveField("Attempts", 3))
	dead := delivery(n, "dead", notify.ChannelSlack)().Err
	g.Expect(dead).To(ContainSubstring("posting to the webhook"))
	g.Expect(dead).NotTo(ContainSubstring("token-dead"))
	g.Eventually(delivery(n, "dead", notify.ChannelEmail)).Should(HaveField("Attempts", 3))
	g.Expect(delivery(n, "dead", notify.ChannelEmail)().Err).To(ContainSubstring("connecting to the SMTP server"))
	g.Expect(testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelSlack, "failure")) - failures).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelEmail, "failure")) - mailFailures).To(Equal(1.0))
	g.Expect(changed.Load()).To(BeNumerically(">=", 2))
}

// A server that never answers costs each attempt its Timeout; the failure
// is recorded without the URL's token.
func TestAHangingEndpointTimesOutAndIsReported(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1); <-release }))
	defer srv.Close()
	defer close(release)
	secret(t, "slack-slow", map[string]string{"url": srv.URL + "/token-hang"})
	failures := testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelSlack, "failure"))
	n := started(t, notify.Options{Attempts: 2, Timeout: 200 * time.Millisecond, Backoff: time.Millisecond})
	n.Notify(context.Background(), migration("slow", dbv1.PhaseRollingBack, &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "slack-slow"}}))
	g.Eventually(delivery(n, "slow", notify.ChannelSlack)).Should(HaveField("Attempts", 2))
	r := delivery(n, "slow", notify.ChannelSlack)()
	g.Expect(r.Phase).To(Equal(dbv1.PhaseRollingBack))
	g.Expect(r.Err).To(SatisfyAll(ContainSubstring("posting to the webhook"), ContainSubstring("deadline exceeded"), Not(ContainSubstring("token-hang"))))
	g.Expect(hits.Load()).To(Equal(int32(2)))
	g.Expect(testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelSlack, "failure")) - failures).To(Equal(1.0))
}

// While a worker is held by a hanging server, Notify still returns: a full
// queue drops the message, records it and counts it, rather than block.
func TestAFullQueueDropsRatherThanBlocks(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	secret(t, "slack-hang", map[string]string{"url": srv.URL})
	droppedBefore := testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelSlack, "dropped"))
	n := started(t, notify.Options{Attempts: 1, Workers: 1, QueueSize: 1, Timeout: time.Minute, Backoff: time.Millisecond})
	cfg := &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "slack-hang"}}
	for i := range 5 {
		n.Notify(context.Background(), migration(fmt.Sprintf("hang-%d", i), dbv1.PhaseFailed, cfg))
	}
	// One is held by the worker, at most one waits: the rest were dropped.
	dropped := 0
	for i := range 5 {
		if r := delivery(n, fmt.Sprintf("hang-%d", i), notify.ChannelSlack)(); r.Err == "dropped: the notification queue is full" {
			dropped++
		}
	}
	g.Expect(dropped).To(BeNumerically(">=", 3))
	g.Expect(testutil.ToFloat64(notify.Deliveries.WithLabelValues(notify.ChannelSlack, "dropped")) - droppedBefore).To(Equal(float64(dropped)))
}

func TestMissingSecretsAreNamedNotShown(t *testing.T) {
	g := NewWithT(t)
	secret(t, "slack-nokey", map[string]string{"a": "x", "b": "y"})
	secret(t, "smtp-bad", map[string]string{"host": "localhost", "port": "seventy", "from": "ops@example.com", "password": "smtp-pw"})
	secret(t, "smtp-nohost", map[string]string{"from": "ops@example.com", "password": "smtp-pw"})
	n := started(t, notify.Options{Attempts: 1})
	n.Notify(context.Background(), migration("missing", dbv1.PhaseSucceeded, &dbv1.NotificationConfig{Slack: &dbv1.SlackConfig{Webhook: "nope"}}))
	n.Notify(context.Background(), migration("nokey", dbv1.PhaseSucceeded, &dbv1.NotificationConfig{
		Slack: &dbv1.SlackConfig{Webhook: "slack-nokey"},
		Email: &dbv1.EmailConfig{Recipients: []string{"dba@example.com"}, SMTPSecret: "smtp-bad"},
	}))
	n.Notify(context.Background(), migration("nohost", dbv1.PhaseSucceeded, &dbv1.NotificationConfig{
		Email: &dbv1.EmailConfig{Recipients: []string{"dba@example.com"}, SMTPSecret: "smtp-nohost"},
	}))
	g.Eventually(delivery(n, "missing", notify.ChannelSlack)).Should(HaveField("Err", "the Secret default/nope was not found"))
	g.Eventually(delivery(n, "nokey", notify.ChannelSlack)).Should(HaveField("Err", "the Slack Secret default/slack-nokey has no key url (nor webhook, nor a single key)"))
	g.Eventually(delivery(n, "nokey", notify.ChannelEmail)).Should(HaveField("Err", "the SMTP Secret default/smtp-bad: key port is not a port number"))
	g.Eventually(delivery(n, "nohost", notify.ChannelEmail)).Should(HaveField("Err", "the SMTP Secret default/smtp-nohost has no key host"))
	for _, name := range []string{"missing", "nokey", "nohost"} {
		for _, r := range n.Delivery(types.NamespacedName{Namespace: "default", Name: name}) {
			g.Expect(r.Err).NotTo(SatisfyAny(ContainSubstring("smtp-pw"), ContainSubstring("ops@example.com")))
		}
	}
}

// smtpSink is an SMTP server that keeps the messages it is given.
// With rejectAuth it refuses every AUTH, quoting the credentials back, as
// a careless server might.
type smtpSink struct {
	net.Listener
	rejectAuth bool
	mu         sync.Mutex
	auth       string
	from       string
	to         []string
	data       string
}

func newSMTPSink(t *testing.T, rejectAuth bool) *smtpSink {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{Listener: l, rejectAuth: rejectAuth}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpSink) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = fmt.Fprintf(c, "%s\r\n", line) }
	say("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-sink")
			say("250 AUTH PLAIN")
		case strings.HasPrefix(cmd, "AUTH"):
			s.mu.Lock()
			s.auth = strings.TrimSpace(line)
			s.mu.Unlock()
			if s.rejectAuth {
				say("535 5.7.8 bad credentials: " + strings.TrimSpace(line))
				continue
			}
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			s.mu.Lock()
			s.from = strings.TrimSpace(line[len("MAIL FROM:"):])
			s.mu.Unlock()
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			s.mu.Lock()
			s.to = append(s.to, strings.TrimSpace(line[len("RCPT TO:"):]))
			s.mu.Unlock()
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			s.data = b.String()
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func TestEmailReachesAnSMTPServer(t *testing.T) {
	g := NewWithT(t)
	sink := newSMTPSink(t, false)
	host, port, _ := net.SplitHostPort(sink.Addr().String())
	connectionSecret(t)
	secret(t, "smtp-ok", map[string]string{"host": host, "port": port, "from": "kube-shift@example.com", "username": "mailer", "password": "smtp-secret-pw", "tls": "none"})
	n := started(t, notify.Options{})
	n.Notify(context.Background(), migration("mailed", dbv1.PhaseSucceeded, &dbv1.NotificationConfig{
		Email: &dbv1.EmailConfig{Recipients: []string{"dba@example.com", "ops@example.com"}, SMTPSecret: "smtp-ok"},
	}))
	g.Eventually(delivery(n, "mailed", notify.ChannelEmail)).Should(HaveField("Attempts", 1))
	g.Expect(delivery(n, "mailed", notify.ChannelEmail)().Err).To(BeEmpty())
	sink.mu.Lock()
	defer sink.mu.Unlock()
	// PLAIN over plain TCP is allowed to localhost only (net/smtp's rule).
	g.Expect(sink.auth).To(Equal("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00mailer\x00smtp-secret-pw"))))
	g.Expect(sink.from).To(Equal("<kube-shift@example.com>"))
	g.Expect(sink.to).To(Equal([]string{"<dba@example.com>", "<ops@example.com>"}))
	g.Expect(sink.data).To(SatisfyAll(
		ContainSubstring("Subject: [kube-shift] default/mailed Succeeded"),
		ContainSubstring("DatabaseMigration default/mailed is Succeeded"),
		ContainSubstring("Plan sha256:abc123"),
		ContainSubstring("postgresql shop on pg.example"),
	))
	g.Expect(sink.data).To(ContainSubstring("\r\n  - and 2 more\r\n"))
	g.Expect(sink.data).NotTo(SatisfyAny(ContainSubstring("smtp-secret-pw"), ContainSubstring(dbPassword)))
}

// A server that refuses the login and quotes it back: the failure says
// so, without the password in any form.
func TestARefusedSMTPLoginIsReportedWithoutThePassword(t *testing.T) {
	g := NewWithT(t)
	sink := newSMTPSink(t, true)
	host, port, _ := net.SplitHostPort(sink.Addr().String())
	secret(t, "smtp-refused", map[string]string{"host": host, "port": port, "from": "kube-shift@example.com", "username": "mailer", "password": "smtp-refused-pw", "tls": "none"})
	n := started(t, notify.Options{Attempts: 2})
	n.Notify(context.Background(), migration("refused", dbv1.PhaseFailed, &dbv1.NotificationConfig{
		Email: &dbv1.EmailConfig{Recipients: []string{"dba@example.com"}, SMTPSecret: "smtp-refused"},
	}))
	g.Eventually(delivery(n, "refused", notify.ChannelEmail)).Should(HaveField("Attempts", 2))
	r := delivery(n, "refused", notify.ChannelEmail)()
	g.Expect(r.Err).To(SatisfyAll(HavePrefix("SMTP authentication failed: 535"), ContainSubstring("bad credentials: AUTH PLAIN [redacted]")))
	g.Expect(r.Err).NotTo(SatisfyAny(
		ContainSubstring("smtp-refused-pw"),
		ContainSubstring(base64.StdEncoding.EncodeToString([]byte("\x00mailer\x00smtp-refused-pw"))),
	))
	sink.mu.Lock()
	defer sink.mu.Unlock()
	g.Expect(sink.data).To(BeEmpty())
}

func TestMessageFor(t *testing.T) {
	changes := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("change %d", i+1)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		mutate   func(*dbv1.DatabaseMigration)
		changes  []string
		body     []string
		notInAny []string
	}{{
		name:    "five changes are quoted whole",
		mutate:  func(d *dbv1.DatabaseMigration) { d.Status.Plan.Changes = changes(5) },
		changes: changes(5),
		body:    []string{"  - change 5\n", "Plan sha256:abc123: 2 statement(s)\n"},
	}, {
		name:     "more are cut with a count",
		mutate:   func(d *dbv1.DatabaseMigration) { d.Status.Plan.Changes = changes(12) },
		changes:  append(changes(5), "and 7 more"),
		notInAny: []string{"change 6"},
	}, {
		name:    "a destructive plan says so",
		mutate:  func(d *dbv1.DatabaseMigration) { d.Status.Plan.Destructive, d.Status.Plan.Changes = true, nil },
		body:    []string{"2 statement(s), destructive\n", "is AwaitingApproval (PlanReady).\n", "kubectl shift status m -n default"},
		changes: nil,
	}, {
		name: "no plan, a SQLite file",
		mutate: func(d *dbv1.DatabaseMigration) {
			d.Status.Plan, d.Status.Phase = nil, dbv1.PhaseFailed
			d.Spec.Database = &dbv1.DatabaseConfig{Type: dbv1.DatabaseTypeSQLite, Database: "/data/app.db"}
		},
		body:     []string{"is Failed (PlanReady).\n", "Database: sqlite /data/app.db\n"},
		notInAny: []string{"Plan ", "kubectl shift"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			dbm := migration("m", dbv1.PhaseAwaitingApproval, nil)
			tc.mutate(dbm)
			m := notify.MessageFor(dbm)
			g.Expect(m.Changes).To(Equal(tc.changes))
			g.Expect(m.Subject()).To(Equal("[kube-shift] default/m " + string(dbm.Status.Phase)))
			for _, want := range tc.body {
				g.Expect(m.Body()).To(ContainSubstring(want))
			}
			for _, not := range tc.notInAny {
				g.Expect(m.Body()).NotTo(ContainSubstring(not))
			}
			g.Expect(m.Body()).NotTo(ContainSubstring("pg-creds"))
		})
	}
}
