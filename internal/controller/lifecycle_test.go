package controller

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mohit-nagaraj/kube-shift/internal/metrics"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("the migration lifecycle", func() {
	const ns = "default"
	ctx := context.Background()

	condition := func(dbm *dbv1.DatabaseMigration, t string) func() string {
		return func() string {
			c := meta.FindStatusCondition(get(dbm).Status.Conditions, t)
			if c == nil {
				return ""
			}
			return string(c.Status) + "/" + c.Reason
		}
	}
	annotate := func(dbm *dbv1.DatabaseMigration, kv map[string]string) {
		GinkgoHelper()
		Eventually(func() error {
			get(dbm)
			patch := client.MergeFrom(dbm.DeepCopy())
			fixture.WithAnnotations(kv)(dbm)
			return k8sClient.Patch(ctx, dbm, patch)
		}).Should(Succeed())
	}
	approve := func(dbm *dbv1.DatabaseMigration, hash string) {
		GinkgoHelper()
		annotate(dbm, map[string]string{dbv1.AnnotationApprovedPlan: hash, dbv1.AnnotationApprovedBy: "rita"})
	}
	// grantPolicy records, as the mutating webhook does for a user allowed
	// to approve, that the migration's policy as stored was granted.
	grantPolicy := func(dbm *dbv1.DatabaseMigration) {
		GinkgoHelper()
		annotate(dbm, map[string]string{
			dbv1.AnnotationPolicyGrantedBy: "platform-admin",
			dbv1.AnnotationPolicyGranted:   dbv1.PolicyDigest(get(dbm).Spec.Policy),
		})
	}
	awaitPlan := func(dbm *dbv1.DatabaseMigration) *dbv1.PlanStatus {
		GinkgoHelper()
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		return get(dbm).Status.Plan
	}

	It("plans into status, applies the approved hash once, records the revision, and is Ready", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "happy", fixture.WithSQLite(path), fixture.WithScripts(
			fixture.InlineScript("customers", "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);"),
			fixture.InlineScript("orders", "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id));", "customers"),
		)))
		plan := awaitPlan(dbm)
		Expect(plan.Hash).To(HavePrefix("sha256:"))
		Expect(plan.Statements).To(HaveLen(2))
		Expect(plan.Statements[0]).To(ContainSubstring("CREATE TABLE customers"))
		Expect(plan.Scripts).To(HaveLen(2))
		Expect(get(dbm).Status.RollbackPlan.Statements).NotTo(BeEmpty())
		Expect(tables(path)).NotTo(ContainElement("customers"), "nothing runs before approval")

		hits := testutil.ToFloat64(metrics.PlanCache.WithLabelValues("hit"))
		approve(dbm, plan.Hash)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		Expect(testutil.ToFloat64(metrics.PlanCache.WithLabelValues("hit"))).To(BeNumerically(">", hits),
			"the apply took the plan it made from the planner's cache: it loads the input as the plan did")
		dbm = get(dbm)
		Expect(dbm.Status.LastApplied.PlanHash).To(Equal(plan.Hash))
		Expect(dbm.Status.LastApplied.ApprovedBy).To(Equal("rita"))
		Expect(dbm.Status.LastApplied.Revision).To(BeNumerically(">", 0))
		Expect(dbm.Status.Progress.PercentageComplete).To(Equal(int32(100)))
		Expect(dbm.Status.Metrics.Duration.Duration).To(BeNumerically(">", 0), "the apply's measured duration")
		Expect(meta.IsStatusConditionTrue(dbm.Status.Conditions, dbv1.ConditionReady)).To(BeTrue())
		Expect(tables(path)).To(ContainElements("customers", "orders"))
		Expect(revisionCount(path)).To(Equal(1))

		By("deleting: the finalizer lets go and the schema stays")
		Expect(k8sClient.Delete(ctx, dbm)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)) }).Should(BeTrue())
		Expect(tables(path)).To(ContainElements("customers", "orders"))
	})

	It("keeps a plan too large for status whole in a ConfigMap the migration owns", func() {
		filler := strings.Repeat("x", 30_000)
		var scripts []dbv1.MigrationScript
		for i := range 3 {
			scripts = append(scripts, fixture.InlineScript(fmt.Sprintf("t%d", i),
				fmt.Sprintf("CREATE TABLE t%d (id INTEGER PRIMARY KEY, note TEXT DEFAULT '%s');", i, filler)))
		}
		dbm := create(fixture.Migration(ns, "large", fixture.WithSQLite(sqlitePath()), fixture.WithScripts(scripts...)))
		plan := awaitPlan(dbm)
		Expect(plan.Truncated).To(BeTrue())
		Expect(plan.Statements).To(HaveLen(2), "whole statements while they fit in 64 KiB")
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: plan.ConfigMapName}, cm)).To(Succeed())
		Expect(cm.Data["plan.json"]).To(ContainSubstring(plan.Hash))
		Expect(strings.Count(cm.Data["plan.sql"], "CREATE TABLE")).To(Equal(3))
		Expect(cm.OwnerReferences).To(ContainElement(HaveField("UID", dbm.UID)))
	})

	It("records events with the condition's reason and counts plans in the metrics", func() {
		dbm := create(fixture.Migration(ns, "observed", fixture.WithSQLite(sqlitePath())))
		awaitPlan(dbm)
		Eventually(func() []string {
			var list eventsv1.EventList
			Expect(k8sClient.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				if e.Regarding.UID == dbm.UID {
					reasons = append(reasons, e.Reason)
				}
			}
			return reasons
		}).Should(ContainElement(dbv1.ReasonPlanReady))

		families, err := crmetrics.Registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, f := range families {
			names = append(names, f.GetName())
		}
		Expect(names).To(ContainElements("kube_shift_plans_total", "kube_shift_plan_duration_seconds", "kube_shift_migrations"))
	})

	It("detects drift of the live schema on the re-plan interval (declarative)", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "drift", fixture.WithSQLite(path),
			fixture.WithDesiredSchema("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"),
			fixture.WithPolicy(dbv1.Policy{Approval: dbv1.ApprovalAuto})))
		grantPolicy(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		applied := get(dbm).Status.LastApplied.PlanHash

		By("someone adds a column behind kube-shift's back")
		exec(path, "ALTER TABLE accounts ADD COLUMN rogue TEXT")
		Eventually(func() string { return get(dbm).Status.Plan.Hash }, 4*replanInterval+10*time.Second).ShouldNot(Equal(applied))
		dbm = get(dbm)
		Expect(dbm.Status.Plan.Changes).To(ContainElement(ContainSubstring("rogue")))
		Expect(dbm.Status.Plan.Destructive).To(BeTrue(), "taking the column out drops it")
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseBlocked))
	})

	It("ignores an approval of another hash and says why", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "wrong-hash", fixture.WithSQLite(path)))
		awaitPlan(dbm)
		approve(dbm, "sha256:"+strings.Repeat("0", 64))
		Eventually(condition(dbm, dbv1.ConditionApproved)).Should(Equal("False/" + dbv1.ReasonApprovalMismatch))
		Consistently(phase(dbm), "2s").Should(Equal(dbv1.PhaseAwaitingApproval))
		Expect(tables(path)).NotTo(ContainElement("widgets"))
	})

	It("does not apply when the live schema moved after approval, and shows the new plan", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "drifted", fixture.WithSQLite(path)))
		plan := awaitPlan(dbm)

		exec(path, "CREATE TABLE intruder (id INTEGER PRIMARY KEY)")
		approve(dbm, plan.Hash)
		Eventually(func() string {
			p := get(dbm).Status.Plan
			if p == nil {
				return ""
			}
			return p.Hash
		}).ShouldNot(Equal(plan.Hash))
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		Expect(condition(dbm, dbv1.ConditionApproved)()).To(HavePrefix("False/"))
		Expect(tables(path)).NotTo(ContainElement("widgets"), "the stale approval applied nothing")
		Expect(revisionCount(path)).To(Equal(0))
	})

	It("blocks a destructive plan under the block policy", func() {
		path := sqlitePath()
		exec(path, "CREATE TABLE legacy (id INTEGER PRIMARY KEY)")
		dbm := create(fixture.Migration(ns, "destructive", fixture.WithSQLite(path), fixture.WithScripts(
			fixture.InlineScript("drop-legacy", "DROP TABLE legacy;"))))
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseBlocked))
		dbm = get(dbm)
		Expect(dbm.Status.Plan.Destructive).To(BeTrue())
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonDestructiveBlocked))
		Expect(meta.IsStatusConditionTrue(dbm.Status.Conditions, dbv1.ConditionStalled)).To(BeTrue())
		Expect(tables(path)).To(ContainElement("legacy"))
	})

	It("re-plans when a referenced ConfigMap changes", func() {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "replan-scripts"},
			Data:       map[string]string{"001.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);"},
		}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, cm)
		dbm := create(fixture.Migration(ns, "replan", fixture.WithSQLite(sqlitePath()), fixture.WithScripts(
			dbv1.MigrationScript{Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://replan-scripts/001.sql"})))
		first := awaitPlan(dbm)

		cm.Data["001.sql"] = "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT);"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Eventually(func() string { return get(dbm).Status.Plan.Hash }).ShouldNot(Equal(first.Hash))
		Expect(get(dbm).Status.Plan.Statements[0]).To(ContainSubstring("name TEXT"))
	})

	It("takes a validation script changed after review out of the approval", func() {
		path := sqlitePath()
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checked-scripts"},
			Data:       map[string]string{"check.sql": "SELECT count(*) = 0 FROM gadgets;"},
		}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, cm)
		dbm := create(fixture.Migration(ns, "checked", fixture.WithSQLite(path), fixture.WithScripts(
			fixture.InlineScript("gadgets", "CREATE TABLE gadgets (id INTEGER PRIMARY KEY);"),
			dbv1.MigrationScript{Name: "check", Type: dbv1.ScriptTypeValidation, Source: "configmap://checked-scripts/check.sql", DependsOn: []string{"gadgets"}},
		)))
		shown := awaitPlan(dbm)

		By("the author swaps the check for another after the plan was shown")
		cm.Data["check.sql"] = "SELECT count(*) >= 0 FROM gadgets;"
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Eventually(func() string { return get(dbm).Status.Plan.Hash }).ShouldNot(Equal(shown.Hash))
		Expect(get(dbm).Status.Plan.Statements).To(Equal(shown.Statements), "the statements are the same; the hash is not")

		By("the approval of the plan as shown does not run the changed one")
		approve(dbm, shown.Hash)
		Eventually(condition(dbm, dbv1.ConditionApproved)).Should(Equal("False/" + dbv1.ReasonApprovalMismatch))
		Consistently(phase(dbm), "2s").Should(Equal(dbv1.PhaseAwaitingApproval))
		Expect(tables(path)).NotTo(ContainElement("gadgets"))
	})

	It("takes a strategy or rollback change after review out of the approval", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "restrategy", fixture.WithSQLite(path)))
		shown := awaitPlan(dbm)
		Eventually(func() error {
			get(dbm)
			patch := client.MergeFrom(dbm.DeepCopy())
			dbm.Spec.Migration.Strategy = dbv1.MigrationStrategyRolling
			automatic := true
			dbm.Spec.Rollback = &dbv1.RollbackConfig{Automatic: &automatic}
			return k8sClient.Patch(ctx, dbm, patch)
		}).Should(Succeed())
		Eventually(func() string { return get(dbm).Status.Plan.Hash }).ShouldNot(Equal(shown.Hash))
		approve(dbm, shown.Hash)
		Eventually(condition(dbm, dbv1.ConditionApproved)).Should(Equal("False/" + dbv1.ReasonApprovalMismatch))
		Expect(tables(path)).NotTo(ContainElement("widgets"))
	})

	It("waits for a ConfigMap that does not exist yet", func() {
		dbm := create(fixture.Migration(ns, "later", fixture.WithSQLite(sqlitePath()), fixture.WithScripts(
			dbv1.MigrationScript{Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://later-scripts/001.sql"})))
		Eventually(condition(dbm, dbv1.ConditionPlanned)).Should(Equal("False/" + dbv1.ReasonSourceNotFound))
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "later-scripts"},
			Data:       map[string]string{"001.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);"},
		}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, cm)
		awaitPlan(dbm)
	})

	It("reports a bad Secret and an unreachable database clearly, and recovers once they are fixed", func() {
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		password, _ := u.User.Password()

		// No host: the Secret's url names the server; the database is the
		// spec's whatever the url says.
		dbm := fixture.Migration(ns, "pg-recovers", fixture.WithServer(dbv1.DatabaseTypePostgreSQL, "pg-creds", "", strings.TrimPrefix(u.Path, "/")))
		dbm.Spec.Database.SSLMode = dbv1.SSLModeDisable
		dbm.Spec.Migration.Scripts = []dbv1.MigrationScript{fixture.InlineScript("accounts", "CREATE TABLE accounts (id bigserial PRIMARY KEY, owner text NOT NULL);")}
		create(dbm)

		By("no Secret: a permanent condition, no crash")
		Eventually(condition(dbm, dbv1.ConditionPlanned)).Should(Equal("False/" + dbv1.ReasonSecretInvalid))
		Expect(get(dbm).Status.Message).To(ContainSubstring(`pg-creds not found`))

		By("a Secret whose url has the password, but a port where nothing listens: unreachable, and the password never shows")
		nowhere := *u
		nowhere.Host = net.JoinHostPort(u.Hostname(), "1")
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg-creds"},
			StringData: map[string]string{"url": nowhere.String()}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, secret)
		Eventually(condition(dbm, dbv1.ConditionPlanned)).Should(Equal("False/" + dbv1.ReasonDatabaseUnreachable))
		Expect(fmt.Sprint(get(dbm).Status)).NotTo(ContainSubstring(password))

		By("a url of another database than the spec's: refused, the url only says how to connect")
		other := *u
		other.Path = "/postgres"
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
			secret.StringData = map[string]string{"url": other.String()}
			return k8sClient.Update(ctx, secret)
		}).Should(Succeed())
		Eventually(condition(dbm, dbv1.ConditionPlanned)).Should(Equal("False/" + dbv1.ReasonSecretInvalid))
		Expect(get(dbm).Status.Message).To(ContainSubstring(`names database "postgres"`))
		Expect(fmt.Sprint(get(dbm).Status)).NotTo(ContainSubstring(password))

		By("the url of the spec's database: planned and applied against PostgreSQL")
		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
			secret.StringData = map[string]string{"url": dbURL}
			return k8sClient.Update(ctx, secret)
		}).Should(Succeed())
		plan := awaitPlan(dbm)
		approve(dbm, plan.Hash)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))

		db, err := sql.Open("pgx", dbURL)
		Expect(err).NotTo(HaveOccurred())
		defer db.Close()
		var n int
		Expect(db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'accounts'`).Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1))
		Expect(db.QueryRow(`SELECT count(*) FROM kube_shift_revisions`).Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1))
	})

	It("fails the migration and rolls the plan back when a validation script returns false", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "validated", fixture.WithSQLite(path), fixture.WithScripts(
			fixture.InlineScript("widgets", "CREATE TABLE widgets (id INTEGER PRIMARY KEY);"),
			dbv1.MigrationScript{Name: "has-rows", Type: dbv1.ScriptTypeValidation, Source: "inline",
				SQL: "SELECT count(*) > 0 FROM widgets;", DependsOn: []string{"widgets"}},
		)))
		plan := awaitPlan(dbm)
		Expect(plan.Statements).To(HaveLen(1), "validation scripts are not part of the plan's statements")
		Expect(plan.Validations).To(Equal([]dbv1.PlannedValidation{{Name: "has-rows", SQL: "SELECT count(*) > 0 FROM widgets;"}}),
			"the plan shows the reviewer the validation scripts the apply runs")
		approve(dbm, plan.Hash)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		dbm = get(dbm)
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonValidationFailed))
		Expect(dbm.Status.Message).To(ContainSubstring(`validation script "has-rows": returned`))
		Expect(dbm.Status.Message).To(ContainSubstring("rolled back"))
		Expect(tables(path)).NotTo(ContainElement("widgets"))
		Expect(revisionCount(path)).To(Equal(0))
	})

	It("stops at the permissions pre-check when the user cannot change the schema, before anything is applied", func() {
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		admin, err := sql.Open("pgx", dbURL)
		Expect(err).NotTo(HaveOccurred())
		defer admin.Close()
		role := fmt.Sprintf("limited_%d", GinkgoRandomSeed()%100000)
		_, err = admin.Exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'limited-pw'", role))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _, _ = admin.Exec("DROP OWNED BY " + role); _, _ = admin.Exec("DROP ROLE " + role) })
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		u.User = url.UserPassword(role, "limited-pw")

		// The limited user could not create a scratch database; planning
		// needs none on the target's server: it replays on the dev server.
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "limited-creds"}, StringData: map[string]string{"url": u.String()}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, secret)
		dbm := fixture.Migration(ns, "limited", fixture.WithServer(dbv1.DatabaseTypePostgreSQL, "limited-creds", u.Hostname(), strings.TrimPrefix(u.Path, "/")))
		dbm.Spec.Database.Port = urlPort(u)
		dbm.Spec.Migration.Scripts = []dbv1.MigrationScript{fixture.InlineScript("t", "CREATE TABLE t (id int);")}
		dbm.Spec.Validation = &dbv1.ValidationConfig{PreChecks: []dbv1.PreCheck{{Type: dbv1.PreCheckConnection}, {Type: dbv1.PreCheckPermissions}}}
		create(dbm)
		plan := awaitPlan(dbm)
		approve(dbm, plan.Hash)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		Expect(get(dbm).Status.Reason).To(Equal(dbv1.ReasonPreCheckFailed))
		Expect(get(dbm).Status.Message).To(ContainSubstring("lacks CREATE on schema public"))
		Expect(get(dbm).Status.PreChecks).To(ConsistOf(
			SatisfyAll(HaveField("Type", dbv1.PreCheckConnection), HaveField("Outcome", dbv1.PreCheckPassed), HaveField("Message", ContainSubstring("PostgreSQL 15"))),
			SatisfyAll(HaveField("Type", dbv1.PreCheckPermissions), HaveField("Outcome", dbv1.PreCheckFailed)),
		))
		Expect(condition(dbm, dbv1.ConditionPreChecks)()).To(Equal("False/" + dbv1.ReasonPreCheckFailed))
		var n int
		Expect(admin.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_name IN ('t', 'kube_shift_revisions')`).Scan(&n)).To(Succeed())
		Expect(n).To(BeZero(), "nothing was applied, not even the revision table")
	})

	It("applies a safe plan without a reviewer under policy.approval auto, once granted", func() {
		path := sqlitePath()
		dbm := create(fixture.Migration(ns, "auto", fixture.WithSQLite(path), fixture.WithPolicy(dbv1.Policy{Approval: dbv1.ApprovalAuto})))

		By("set by its author alone, auto approves nothing")
		Eventually(condition(dbm, dbv1.ConditionApproved)).Should(Equal("False/" + dbv1.ReasonPolicyNotGranted))
		Expect(get(dbm).Status.Message).To(ContainSubstring("automatic approval was not granted"))
		Consistently(phase(dbm), "2s").Should(Equal(dbv1.PhaseAwaitingApproval))
		Expect(tables(path)).NotTo(ContainElement("widgets"))

		By("a grant for another policy does not count")
		annotate(dbm, map[string]string{
			dbv1.AnnotationPolicyGrantedBy: "platform-admin",
			dbv1.AnnotationPolicyGranted:   dbv1.PolicyDigest(dbv1.Policy{Approval: dbv1.ApprovalAuto, Destructive: dbv1.DestructiveAllowWithApproval}),
		})
		Consistently(phase(dbm), "2s").Should(Equal(dbv1.PhaseAwaitingApproval))

		By("granted by a user allowed to approve, it applies")
		grantPolicy(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		Expect(get(dbm).Status.LastApplied.ApprovedBy).To(Equal(approverAuto))
		Expect(tables(path)).To(ContainElement("widgets"))
	})

	It("does not let the grantor of policy.approval auto approve its own edit of a tracked source", func() {
		path := sqlitePath()
		// The stamps as the source webhooks write them: the grantor
		// changed the script.
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "auto-scripts", Labels: map[string]string{dbv1.LabelTrackedSource: "true"},
				Annotations: map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: `["dev","platform-admin"]`}},
			Data: map[string]string{"001.sql": "CREATE TABLE gadgets (id INTEGER PRIMARY KEY);"},
		}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, cm)
		dbm := create(fixture.Migration(ns, "auto-own-edit", fixture.WithSQLite(path), fixture.WithPolicy(dbv1.Policy{Approval: dbv1.ApprovalAuto}),
			fixture.WithScripts(dbv1.MigrationScript{Name: "gadgets", Type: dbv1.ScriptTypeSchema, Source: "configmap://auto-scripts/001.sql"})))
		grantPolicy(dbm)
		Eventually(func() string { return get(dbm).Status.Message }).Should(ContainSubstring(
			"platform-admin, who granted automatic approval, changed ConfigMap auto-scripts, which this plan reads"))
		Expect(condition(dbm, dbv1.ConditionApproved)()).To(Equal("False/" + dbv1.ReasonPolicyNotGranted))
		Consistently(phase(dbm), "2s").Should(Equal(dbv1.PhaseAwaitingApproval))
		Expect(tables(path)).NotTo(ContainElement("gadgets"))

		By("a reviewer's approval still applies it")
		approve(dbm, get(dbm).Status.Plan.Hash)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		Expect(tables(path)).To(ContainElement("gadgets"))
	})
})

// tables lists the tables of a SQLite file.
func tables(path string) []string {
	return dbtest.SQLiteTables(GinkgoTB(), path)
}

// revisionCount counts the revisions recorded in a SQLite file.
func revisionCount(path string) int {
	GinkgoHelper()
	if !slices.Contains(tables(path), "kube_shift_revisions") {
		return 0
	}
	db, err := sql.Open("sqlite", path)
	Expect(err).NotTo(HaveOccurred())
	defer db.Close()
	var n int
	Expect(db.QueryRow(`SELECT count(*) FROM kube_shift_revisions WHERE status = 'succeeded'`).Scan(&n)).To(Succeed())
	return n
}

func exec(path, stmt string) {
	GinkgoHelper()
	db, err := sql.Open("sqlite", path)
	Expect(err).NotTo(HaveOccurred())
	defer db.Close()
	_, err = db.Exec(stmt)
	Expect(err).NotTo(HaveOccurred())
}
