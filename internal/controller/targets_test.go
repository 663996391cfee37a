package controller

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("database targets", func() {
	ctx := context.Background()

	// namespace makes a namespace with labels, gone when the spec ends.
	namespace := func(name string, labels map[string]string) string {
		GinkgoHelper()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		err := k8sClient.Create(ctx, ns)
		if !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
		return name
	}
	// secret holds a database URL.
	secret := func(ns, name, dbURL string) {
		GinkgoHelper()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"url": dbURL}}
		Expect(k8sClient.Create(ctx, s)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, s)
	}
	// targetSpec is the spec of a target on the database at dbURL, its
	// credentials in the Secret secretName.
	targetSpec := func(t dbv1.DatabaseType, dbURL, secretName string) dbv1.DatabaseTargetSpec {
		GinkgoHelper()
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		port, _ := strconv.Atoi(u.Port())
		return dbv1.DatabaseTargetSpec{
			Type: t, Host: u.Hostname(), Port: int32(port), Database: strings.TrimPrefix(u.Path, "/"), SSLMode: dbv1.SSLModeDisable,
			ConnectionSecret: &dbv1.TargetSecretRef{Name: secretName},
		}
	}
	onTarget := func(ns, name string, ref dbv1.TargetRef) *dbv1.DatabaseMigration {
		dbm := fixture.Migration(ns, name)
		dbm.Spec.Database, dbm.Spec.TargetRef = nil, &ref
		return dbm
	}
	ready := func(obj client.Object, conds func() []metav1.Condition) func() string {
		return func() string {
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err.Error()
			}
			c := meta.FindStatusCondition(conds(), dbv1.ConditionReady)
			if c == nil {
				return ""
			}
			return string(c.Status) + "/" + c.Reason
		}
	}

	It("plans, approves and applies a migration through a DatabaseTarget, and counts it", func() {
		ns := namespace("team-pg", nil)
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		secret(ns, "pg-creds", dbURL)
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders"}, Spec: targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, "pg-creds")}
		Expect(k8sClient.Create(ctx, dt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dt)
		Eventually(ready(dt, func() []metav1.Condition { return dt.Status.Conditions })).Should(Equal("True/" + dbv1.ReasonTargetReachable))
		Expect(dt.Status.ServerVersion).To(ContainSubstring("PostgreSQL"))

		dbm := create(onTarget(ns, "add-widgets", dbv1.TargetRef{Name: "orders"}))
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		dbm = get(dbm)
		Expect(dbm.Status.Plan.DatabaseType).To(Equal(dbv1.DatabaseTypePostgreSQL))
		Expect(dbm.Status.LastApplied.Revision).NotTo(BeZero())
		var tables int
		Expect(dbtest.OpenPostgres(GinkgoTB(), dbURL).QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_name = 'widgets'").Scan(&tables)).To(Succeed())
		Expect(tables).To(Equal(1))

		Eventually(func() int64 {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dt), dt)).To(Succeed())
			return dt.Status.LastAppliedRevision
		}).Should(Equal(dbm.Status.LastApplied.Revision))
		Expect(dt.Status.Migrations).To(BeEquivalentTo(1))
	})

	It("applies through a ClusterDatabaseTarget to the namespaces it admits, and refuses the others", func() {
		admitted := namespace("team-admitted", map[string]string{"tier": "internal"})
		other := namespace("team-other", nil)
		namespace(operatorNamespace, nil)
		dbURL := dbtest.NewMySQLDatabase(GinkgoTB())
		secret(operatorNamespace, "shared-mariadb", dbURL)
		cdt := &dbv1.ClusterDatabaseTarget{ObjectMeta: metav1.ObjectMeta{Name: "shared-mariadb"}, Spec: dbv1.ClusterDatabaseTargetSpec{
			DatabaseTargetSpec: targetSpec(dbv1.DatabaseTypeMariaDB, dbURL, "shared-mariadb"),
			AllowedNamespaces:  dbv1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "internal"}}},
		}}
		Expect(k8sClient.Create(ctx, cdt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, cdt)
		Eventually(ready(cdt, func() []metav1.Condition { return cdt.Status.Conditions })).Should(Equal("True/" + dbv1.ReasonTargetReachable))

		ref := dbv1.TargetRef{Kind: dbv1.KindClusterDatabaseTarget, Name: "shared-mariadb"}
		dbm := create(onTarget(admitted, "add-widgets", ref))
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		Expect(get(dbm).Status.Plan.DatabaseType).To(Equal(dbv1.DatabaseTypeMariaDB))

		By("a namespace the target does not admit waits with the reason, and nothing is planned")
		refused := create(onTarget(other, "add-widgets", ref))
		Eventually(phase(refused)).Should(Equal(dbv1.PhaseFailed))
		refused = get(refused)
		Expect(refused.Status.Reason).To(Equal(dbv1.ReasonTargetNotAllowed))
		Expect(refused.Status.Message).To(ContainSubstring("does not list namespace team-other"))
		Expect(refused.Status.Plan).To(BeNil())
	})

	It("applies through a SQLite DatabaseTarget under the root", func() {
		ns := namespace("team-sqlite", nil)
		path := sqlitePath()
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"},
			Spec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypeSQLite, Database: path}}
		Expect(k8sClient.Create(ctx, dt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dt)
		Eventually(ready(dt, func() []metav1.Condition { return dt.Status.Conditions })).Should(Equal("True/" + dbv1.ReasonTargetReachable))
		dbm := create(onTarget(ns, "add-widgets", dbv1.TargetRef{Name: "shop"}))
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		Expect(get(dbm).Status.Plan.DatabaseType).To(Equal(dbv1.DatabaseTypeSQLite))
	})

	It("keeps fifty migrations on one target within its connection limit", func() {
		const migrations, limit = 50, 2
		ns := namespace("team-fifty", nil)
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		secret(ns, "pg-creds", dbURL)
		spec := targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, "pg-creds")
		spec.MaxConnections = limit
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "busy"}, Spec: spec}
		Expect(k8sClient.Create(ctx, dt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dt)

		// The server's own count of connections to the target's database,
		// sampled from its admin database (not counted) until the end.
		admin := dbtest.OpenPostgres(GinkgoTB(), dbtest.PostgresURL(GinkgoTB()))
		var peak atomic.Int64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(sampled)
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				var n int64
				if err := admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", spec.Database).Scan(&n); err != nil {
					return
				}
				if n > peak.Load() {
					peak.Store(n)
				}
			}
		}()
		var all []*dbv1.DatabaseMigration
		for i := range migrations {
			all = append(all, create(onTarget(ns, fmt.Sprintf("m-%02d", i), dbv1.TargetRef{Name: "busy"})))
		}
		for _, dbm := range all {
			Eventually(phase(dbm), "120s").Should(Equal(dbv1.PhaseAwaitingApproval))
		}
		close(stop)
		<-sampled
		GinkgoWriter.Printf("fifty migrations planned on one target: at most %d connections to it at once (limit %d)\n", peak.Load(), limit)
		Expect(peak.Load()).To(BeNumerically(">", 0), "the sampler saw the plans")
		Expect(peak.Load()).To(BeNumerically("<=", limit))
		Eventually(func() int32 {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dt), dt)).To(Succeed())
			return dt.Status.Migrations
		}).Should(BeEquivalentTo(migrations))
	})

	It("reaches its server over TLS verified with the CA from its caSecret, applies through it, and is not Ready when the CA does not verify the server or cannot be read", func() {
		ns := namespace("team-tls", nil)
		namespace(operatorNamespace, nil)
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		ca := dbtest.PostgresCA(GinkgoTB())
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		password, _ := u.User.Password()
		secretData := func(ns, name string, data map[string][]byte) {
			GinkgoHelper()
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
			Expect(k8sClient.Create(ctx, s)).To(Succeed())
			DeferCleanup(k8sClient.Delete, ctx, s)
		}
		creds := map[string][]byte{"username": []byte(u.User.Username()), "password": []byte(password)}
		secretData(ns, "pg-creds", creds)
		secretData(ns, "pg-ca", map[string][]byte{"ca.crt": ca})
		secretData(ns, "other-ca", map[string][]byte{"ca.crt": dbtest.UntrustedCA(GinkgoTB())})
		secretData(ns, "garbled-ca", map[string][]byte{"ca.crt": []byte("secret-text-that-is-no-certificate")})
		secret(ns, "plain-url", dbURL)
		// tlsTarget is a target on the database by host, with the
		// credentials in the Secret creds, verified with the CA in ca.
		tlsTarget := func(name, host string, mode dbv1.SSLMode, creds string, ca dbv1.CASecretRef) *dbv1.DatabaseTarget {
			GinkgoHelper()
			spec := targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, creds)
			spec.Host, spec.SSLMode, spec.CASecret = host, mode, &ca
			dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
			Expect(k8sClient.Create(ctx, dt)).To(Succeed())
			DeferCleanup(k8sClient.Delete, ctx, dt)
			return dt
		}
		pgCA := dbv1.CASecretRef{Name: "pg-ca"}
		readyOf := func(dt *dbv1.DatabaseTarget) func() string {
			return ready(dt, func() []metav1.Condition { return dt.Status.Conditions })
		}
		messageOf := func(dt *dbv1.DatabaseTarget) string {
			return meta.FindStatusCondition(dt.Status.Conditions, dbv1.ConditionReady).Message
		}

		verified := tlsTarget("orders", "127.0.0.1", dbv1.SSLModeVerifyFull, "pg-creds", pgCA)
		Eventually(readyOf(verified)).Should(Equal("True/" + dbv1.ReasonTargetReachable))
		dbm := create(onTarget(ns, "add-widgets", dbv1.TargetRef{Name: "orders"}))
		approvePlan(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		var tables int
		Expect(dbtest.OpenPostgres(GinkgoTB(), dbURL).QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_name = 'widgets'").Scan(&tables)).To(Succeed())
		Expect(tables).To(Equal(1))

		By("verify-ca accepts the server by a name its certificate lacks; verify-full does not")
		Eventually(readyOf(tlsTarget("by-name-ca", "localhost", dbv1.SSLModeVerifyCA, "pg-creds", pgCA))).Should(Equal("True/" + dbv1.ReasonTargetReachable))
		byName := tlsTarget("by-name-full", "localhost", dbv1.SSLModeVerifyFull, "pg-creds", pgCA)
		Eventually(readyOf(byName)).Should(Equal("False/" + dbv1.ReasonTargetUnreachable))
		Expect(messageOf(byName)).To(Equal("cannot reach target DatabaseTarget team-tls/by-name-full: TLS"))

		By("a CA that did not sign the server's certificate")
		untrusted := tlsTarget("untrusted", "127.0.0.1", dbv1.SSLModeVerifyFull, "pg-creds", dbv1.CASecretRef{Name: "other-ca"})
		Eventually(readyOf(untrusted)).Should(Equal("False/" + dbv1.ReasonTargetUnreachable))
		Expect(messageOf(untrusted)).To(Equal("cannot reach target DatabaseTarget team-tls/untrusted: TLS"), "the class, not the verifier's words")
		refused := create(onTarget(ns, "on-untrusted", dbv1.TargetRef{Name: "untrusted"}))
		Eventually(func() string { return get(refused).Status.Reason }).Should(Equal(dbv1.ReasonTargetNotReady))

		By("a CA Secret that is missing, lacks its key or holds no certificate, and a url that verifies nothing")
		for _, tc := range []struct {
			name, creds string
			ca          dbv1.CASecretRef
			want        string
		}{
			{"missing", "pg-creds", dbv1.CASecretRef{Name: "no-such-ca"}, "CA Secret team-tls/no-such-ca not found"},
			{"wrong-key", "pg-creds", dbv1.CASecretRef{Name: "pg-ca", Key: "root.pem"}, `CA Secret team-tls/pg-ca has no key "root.pem"`},
			{"garbled", "pg-creds", dbv1.CASecretRef{Name: "garbled-ca"}, `CA Secret team-tls/garbled-ca key "ca.crt": holds no PEM certificate`},
			{"plain-url", "plain-url", pgCA, `CA Secret team-tls/pg-ca key "ca.crt": a CA verifies the server's certificate only under sslMode verify-ca or verify-full; the connection's is "disable"`},
		} {
			dt := tlsTarget(tc.name, "127.0.0.1", dbv1.SSLModeVerifyFull, tc.creds, tc.ca)
			Eventually(readyOf(dt)).Should(Equal("False/"+dbv1.ReasonCAInvalid), tc.name)
			Expect(messageOf(dt)).To(Equal(tc.want), tc.name)
			Expect(messageOf(dt)).NotTo(ContainSubstring("secret-text"))
			Expect(messageOf(dt)).NotTo(ContainSubstring(password))
		}

		By("a ClusterDatabaseTarget finds its CA Secret in the operator's namespace")
		secretData(operatorNamespace, "tls-creds", creds)
		secretData(operatorNamespace, "tls-ca", map[string][]byte{"ca.crt": ca})
		spec := targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, "tls-creds")
		spec.SSLMode, spec.CASecret = dbv1.SSLModeVerifyFull, &dbv1.CASecretRef{Name: "tls-ca"}
		cdt := &dbv1.ClusterDatabaseTarget{ObjectMeta: metav1.ObjectMeta{Name: "shared-tls"}, Spec: dbv1.ClusterDatabaseTargetSpec{
			DatabaseTargetSpec: spec, AllowedNamespaces: dbv1.AllowedNamespaces{Names: []string{ns}},
		}}
		Expect(k8sClient.Create(ctx, cdt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, cdt)
		Eventually(ready(cdt, func() []metav1.Condition { return cdt.Status.Conditions })).Should(Equal("True/" + dbv1.ReasonTargetReachable))
	})

	It("waits for a target that is missing or not ready, naming it, and goes on once it is", func() {
		ns := namespace("team-waits", nil)
		dbm := create(onTarget(ns, "early", dbv1.TargetRef{Name: "later"}))
		Eventually(func() string { return get(dbm).Status.Reason }).Should(Equal(dbv1.ReasonTargetNotFound))
		Expect(get(dbm).Status.Message).To(ContainSubstring("DatabaseTarget team-waits/later"))

		By("the target arrives with a wrong password")
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		wrong := *u
		wrong.User = url.UserPassword(u.User.Username(), "not-the-password")
		secret(ns, "wrong-creds", wrong.String())
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "later"}, Spec: targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, "wrong-creds")}
		Expect(k8sClient.Create(ctx, dt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dt)
		Eventually(ready(dt, func() []metav1.Condition { return dt.Status.Conditions })).Should(Equal("False/" + dbv1.ReasonTargetUnreachable))
		message := meta.FindStatusCondition(dt.Status.Conditions, dbv1.ConditionReady).Message
		Expect(message).NotTo(ContainSubstring("not-the-password"))
		Expect(message).To(Equal("cannot reach target DatabaseTarget team-waits/later: auth"), "the class, not the driver's words")
		Eventually(func() string { return get(dbm).Status.Reason }).Should(Equal(dbv1.ReasonTargetNotReady))
		Expect(get(dbm).Status.Message).To(ContainSubstring("DatabaseTarget team-waits/later"))

		By("the platform team fixes the Secret")
		secret(ns, "right-creds", dbURL)
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dt), dt)).To(Succeed())
			dt.Spec.ConnectionSecret.Name = "right-creds"
			return k8sClient.Update(ctx, dt)
		}).Should(Succeed())
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
	})

	It("is not ready while its user lacks what a migration needs, and says what", func() {
		ns := namespace("team-limited", nil)
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		server := dbtest.OpenPostgres(GinkgoTB(), dbtest.PostgresURL(GinkgoTB()))
		role := fmt.Sprintf("kst_limited_%d", time.Now().UnixNano())
		_, err := server.Exec("CREATE ROLE " + role + " LOGIN PASSWORD 'limited'")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _, _ = server.Exec("DROP ROLE IF EXISTS " + role) })
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		limited := *u
		limited.User = url.UserPassword(role, "limited")
		secret(ns, "limited", limited.String())
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "limited"}, Spec: targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, "limited")}
		Expect(k8sClient.Create(ctx, dt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dt)
		Eventually(ready(dt, func() []metav1.Condition { return dt.Status.Conditions })).Should(Equal("False/" + dbv1.ReasonTargetPrivileges))
		Expect(dt.Status.MissingPrivileges).To(ContainElement("CREATE on schema public"))
		Expect(meta.FindStatusCondition(dt.Status.Conditions, dbv1.ConditionReady).Message).To(ContainSubstring("its user lacks what a migration needs: CREATE on schema public"))
	})

	It("refuses a Secret whose url names another server than the target", func() {
		ns := namespace("team-elsewhere", nil)
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		elsewhere := *u
		elsewhere.Path = "/postgres"
		secret(ns, "elsewhere", elsewhere.String())
		// The driver would connect to a host in the query, whatever the
		// URL's host says (192.0.2.1 is reserved for documentation): the
		// parameter is refused.
		redirected := *u
		q := redirected.Query()
		q.Set("host", "192.0.2.1")
		redirected.RawQuery = q.Encode()
		secret(ns, "redirected", redirected.String())
		dtr := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "redirected"}, Spec: targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, "redirected")}
		Expect(k8sClient.Create(ctx, dtr)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dtr)
		Eventually(ready(dtr, func() []metav1.Condition { return dtr.Status.Conditions })).Should(Equal("False/" + dbv1.ReasonSecretInvalid))
		Expect(meta.FindStatusCondition(dtr.Status.Conditions, dbv1.ConditionReady).Message).To(ContainSubstring("parameter host is refused"))
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pinned"}, Spec: targetSpec(dbv1.DatabaseTypePostgreSQL, dbURL, "elsewhere")}
		Expect(k8sClient.Create(ctx, dt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dt)
		Eventually(ready(dt, func() []metav1.Condition { return dt.Status.Conditions })).Should(Equal("False/" + dbv1.ReasonSecretInvalid))
		Expect(meta.FindStatusCondition(dt.Status.Conditions, dbv1.ConditionReady).Message).To(ContainSubstring(`it names database "postgres", the spec`))
	})

	It("refuses SQLite files outside the root, and every SQLite file without one", func() {
		outside := fixture.Migration("default", "outside", fixture.WithSQLite("/etc/kube-shift-test.db"))
		_, err := (&Targets{Reader: k8sClient, SQLiteRoot: os.TempDir()}).open(ctx, &binding{config: *outside.Spec.Database})
		Expect(err).To(MatchError(database.ErrSQLitePathOutsideRoot))
		Expect(classify(err, false).reason).To(Equal(dbv1.ReasonTargetNotAllowed))
		_, err = (&Targets{Reader: k8sClient}).open(ctx, &binding{config: dbv1.DatabaseConfig{Type: dbv1.DatabaseTypeSQLite, Database: sqlitePath()}})
		Expect(err).To(MatchError(ContainSubstring("the manager runs without --sqlite-root")))
		Expect(classify(err, false).reason).To(Equal(dbv1.ReasonTargetNotAllowed))

		By("a migration outside the root fails at planning, naming the file and the rule")
		dbm := create(fixture.Migration("default", "sqlite-outside", fixture.WithSQLite("/etc/kube-shift-test.db")))
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		Expect(get(dbm).Status.Reason).To(Equal(dbv1.ReasonTargetNotAllowed))
		Expect(get(dbm).Status.Message).To(ContainSubstring(`"/etc/kube-shift-test.db" is not a file under`))
	})

	It("refuses an inline database when target refs are required", func() {
		t := &Targets{Reader: k8sClient, RequireTargetRef: true}
		_, err := t.bind(ctx, fixture.Migration("default", "inline"))
		Expect(err).To(MatchError(ErrInlineDatabase))
		Expect(classify(err, false).reason).To(Equal(dbv1.ReasonTargetNotAllowed))
	})
})
