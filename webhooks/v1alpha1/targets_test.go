package v1alpha1

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("admission of migrations on targets", func() {
	ctx := context.Background()

	target := func(name string, policy *dbv1.TargetPolicy) {
		GinkgoHelper()
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}, Spec: dbv1.DatabaseTargetSpec{
			Type: dbv1.DatabaseTypePostgreSQL, Host: "orders.db.internal", Database: "orders",
			ConnectionSecret: &dbv1.TargetSecretRef{Name: "orders-creds"}, Policy: policy,
		}}
		Expect(admin.Create(ctx, dt)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dt)
	}
	onTarget := func(name string, ref dbv1.TargetRef, opts ...fixture.Option) *dbv1.DatabaseMigration {
		dbm := fixture.Migration(testNamespace, name, opts...)
		dbm.Spec.Database, dbm.Spec.TargetRef = nil, &ref
		return dbm
	}

	It("admits a migration on a DatabaseTarget of its namespace and lints it as the target's engine", func() {
		target("orders", nil)
		dbm := onTarget("on-orders", dbv1.TargetRef{Name: "orders"})
		Expect(dev.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dbm)
		Expect(dbm.Spec.TargetRef.Kind).To(BeEquivalentTo(dbv1.KindDatabaseTarget), "defaulted")

		bad := onTarget("on-orders-bad", dbv1.TargetRef{Name: "orders"}, fixture.WithScripts(
			fixture.InlineScript("x", "ALTER SYSTEM SET work_mem = '1GB';")))
		err := dev.Create(ctx, bad)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.migration.scripts[0]"))
	})

	It("refuses a target that does not exist, naming the ones the namespace may use", func() {
		target("billing", nil)
		err := dev.Create(ctx, onTarget("nowhere", dbv1.TargetRef{Name: "nowhere"}))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.targetRef.name"))
		Expect(err.Error()).To(ContainSubstring("may use: DatabaseTarget billing"))
	})

	It("refuses a ClusterDatabaseTarget that does not admit the namespace, and a dev database of the migration's own", func() {
		cdt := &dbv1.ClusterDatabaseTarget{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: dbv1.ClusterDatabaseTargetSpec{
			DatabaseTargetSpec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypeMySQL, Host: "shared.db.internal", Database: "app",
				ConnectionSecret: &dbv1.TargetSecretRef{Name: "shared"}},
			AllowedNamespaces: dbv1.AllowedNamespaces{Names: []string{"someone-else"}},
		}}
		Expect(admin.Create(ctx, cdt)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, cdt)
		dbm := onTarget("shared", dbv1.TargetRef{Kind: dbv1.KindClusterDatabaseTarget, Name: "shared"})
		dbm.Spec.Planning = &dbv1.PlanningConfig{DevDatabase: &dbv1.SecretKeyRef{Name: "my-dev"}}
		err := dev.Create(ctx, dbm)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("ClusterDatabaseTarget shared does not admit namespace " + testNamespace))
		Expect(err.Error()).To(ContainSubstring("spec.planning.devDatabase"))

		By("once the platform team admits the namespace by label")
		ns := &corev1.Namespace{}
		Expect(admin.Get(ctx, client.ObjectKey{Name: testNamespace}, ns)).To(Succeed())
		patch := client.MergeFrom(ns.DeepCopy())
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels["tier"] = "internal"
		Expect(admin.Patch(ctx, ns, patch)).To(Succeed())
		patch = client.MergeFrom(cdt.DeepCopy())
		cdt.Spec.AllowedNamespaces.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "internal"}}
		Expect(admin.Patch(ctx, cdt, patch)).To(Succeed())
		dbm = onTarget("shared", dbv1.TargetRef{Kind: dbv1.KindClusterDatabaseTarget, Name: "shared"})
		Expect(dev.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dbm)
	})

	It("holds approvals to the target's reviewers too", func() {
		target("reviewed", &dbv1.TargetPolicy{Reviewers: []dbv1.Reviewer{{Kind: dbv1.SubjectUser, Name: "dba"}}})
		dbm := onTarget("reviewed", dbv1.TargetRef{Name: "reviewed"})
		Expect(dev.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dbm)
		plan := dbv1.PlanStatus{Hash: "sha256:" + strings.Repeat("c", 64), Statements: []string{"CREATE TABLE t (id int)"}}
		dbm.Status.Plan = &plan
		Expect(admin.Status().Update(ctx, dbm)).To(Succeed())
		patch := client.MergeFrom(dbm.DeepCopy())
		fixture.WithAnnotations(map[string]string{dbv1.AnnotationApprovedPlan: plan.Hash})(dbm)
		err := rita.Patch(ctx, dbm, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`"rita" is not among spec.policy.reviewers (narrowed by the target's policy.reviewers)`))
	})

	It("refuses an inline database when the platform requires target refs, naming the usable targets", func() {
		target("inventory", nil)
		v := &Validator{Reader: admin, RequireTargetRef: true, SQLiteRoot: os.TempDir()}
		errs, _ := v.validateSpec(ctx, fixture.Migration(testNamespace, "inline"))
		Expect(errs.ToAggregate().Error()).To(ContainSubstring("this cluster requires spec.targetRef"))
		Expect(errs.ToAggregate().Error()).To(ContainSubstring("DatabaseTarget inventory"))
	})

	It("refuses a SQLite file outside the manager's root, and every SQLite file without a root", func() {
		link := filepath.Join(GinkgoT().TempDir(), "escape.db")
		Expect(os.Symlink("/etc/passwd", link)).To(Succeed())
		for _, path := range []string{"/etc/kube-shift.db", "../../etc/kube-shift.db", link} {
			err := dev.Create(ctx, fixture.Migration(testNamespace, "outside", fixture.WithSQLite(path)))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: got %v", path, err)
			Expect(err.Error()).To(ContainSubstring("spec.database.database"))
			Expect(err.Error()).To(ContainSubstring("is not a file under"))
		}
		errs, _ := (&Validator{Reader: admin}).validateSpec(ctx, fixture.Migration(testNamespace, "no-root"))
		Expect(errs.ToAggregate().Error()).To(ContainSubstring("SQLite files are refused: the manager runs without --sqlite-root"))
	})

	It("admits a SQLite target only under the root, and a ClusterDatabaseTarget only with a selector that parses", func() {
		outside := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "sqlite-outside"},
			Spec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypeSQLite, Database: "/etc/kube-shift.db"}}
		err := admin.Create(ctx, outside)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.database"))
		Expect(err.Error()).To(ContainSubstring("is not a file under"))

		inside := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "sqlite-inside"},
			Spec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypeSQLite, Database: filepath.Join(GinkgoT().TempDir(), "shop.db")}}
		Expect(admin.Create(ctx, inside)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, inside)

		bad := &dbv1.ClusterDatabaseTarget{ObjectMeta: metav1.ObjectMeta{Name: "bad-selector"}, Spec: dbv1.ClusterDatabaseTargetSpec{
			DatabaseTargetSpec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypeSQLite, Database: filepath.Join(GinkgoT().TempDir(), "x.db")},
			AllowedNamespaces: dbv1.AllowedNamespaces{Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: "Near", Values: []string{"internal"}}}}},
		}}
		err = admin.Create(ctx, bad)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.allowedNamespaces.selector"))
	})

	It("refuses a caSecret with an sslMode that verifies nothing, and warns of a CA Secret that is missing or holds no certificate", func() {
		withCA := func(name string, mode dbv1.SSLMode) *dbv1.DatabaseTarget {
			return &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}, Spec: dbv1.DatabaseTargetSpec{
				Type: dbv1.DatabaseTypePostgreSQL, Host: "orders.db.internal", Database: "orders", SSLMode: mode,
				ConnectionSecret: &dbv1.TargetSecretRef{Name: "orders-creds"}, CASecret: &dbv1.CASecretRef{Name: "orders-ca"},
			}}
		}
		for mode, says := range map[dbv1.SSLMode]string{
			"":                  "sslMode require (the default) encrypts but checks no certificate",
			dbv1.SSLModeDisable: "sslMode disable connects without TLS",
			dbv1.SSLModePrefer:  "sslMode prefer may connect without TLS and checks no certificate",
			dbv1.SSLModeRequire: "sslMode require encrypts but checks no certificate",
		} {
			name := "ca-default"
			if mode != "" {
				name = "ca-" + string(mode)
			}
			err := admin.Create(ctx, withCA(name, mode))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "sslMode %q: got %v", mode, err)
			Expect(err.Error()).To(ContainSubstring("spec.sslMode"))
			Expect(err.Error()).To(ContainSubstring("caSecret is set, but " + says + ": set sslMode to verify-full"))
		}
		sqlite := withCA("ca-sqlite", dbv1.SSLModeVerifyFull)
		sqlite.Spec.Type, sqlite.Spec.Host, sqlite.Spec.Database, sqlite.Spec.ConnectionSecret = dbv1.DatabaseTypeSQLite, "", filepath.Join(GinkgoT().TempDir(), "shop.db"), nil
		err := admin.Create(ctx, sqlite)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.caSecret: Forbidden: a SQLite file has no server certificate to verify"))
		elsewhere := withCA("ca-elsewhere", dbv1.SSLModeVerifyFull)
		elsewhere.Spec.CASecret.Namespace = "kube-shift-system"
		err = admin.Create(ctx, elsewhere)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("a DatabaseTarget's caSecret is in its own namespace"))

		By("verify-ca and verify-full are admitted, the CA Secret checked for a warning")
		for _, mode := range []dbv1.SSLMode{dbv1.SSLModeVerifyCA, dbv1.SSLModeVerifyFull} {
			dt := withCA("ca-"+string(mode), mode)
			Expect(admin.Create(ctx, dt)).To(Succeed())
			DeferCleanup(admin.Delete, ctx, dt)
		}
		// What kubectl prints as "Warning: ...", for a dry run of each kind
		// of target (a ClusterDatabaseTarget's Secret named in its
		// namespace, the suite's manager having no namespace of its own).
		recorder := &warningRecorder{}
		recording := rest.CopyConfig(testEnv.Config)
		recording.WarningHandlerWithContext = recorder
		c, err := client.New(recording, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		warnings := func(key string) []string {
			GinkgoHelper()
			dt := withCA("orders", dbv1.SSLModeVerifyFull)
			dt.Spec.CASecret.Key = key
			recorder.texts = nil
			Expect(c.Create(ctx, dt, client.DryRunAll)).To(Succeed())
			w := recorder.texts
			recorder.texts = nil
			cdt := &dbv1.ClusterDatabaseTarget{ObjectMeta: metav1.ObjectMeta{Name: "orders"}, Spec: dbv1.ClusterDatabaseTargetSpec{
				DatabaseTargetSpec: *dt.Spec.DeepCopy(), AllowedNamespaces: dbv1.AllowedNamespaces{Names: []string{testNamespace}},
			}}
			cdt.Spec.CASecret.Namespace = testNamespace
			Expect(c.Create(ctx, cdt, client.DryRunAll)).To(Succeed())
			Expect(recorder.texts).To(Equal(w), "the ClusterDatabaseTarget's warnings")
			return w
		}
		Expect(warnings("")).To(ConsistOf("spec.caSecret: Secret team-a/orders-ca does not exist (yet): the target is not Ready until it does"))
		ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "orders-ca"}, Data: map[string][]byte{
			"ca.crt": []byte("secret-text-that-is-no-certificate"), "root.pem": dbtest.UntrustedCA(GinkgoTB()),
		}}
		Expect(admin.Create(ctx, ca)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, ca)
		Expect(warnings("")).To(ConsistOf(`spec.caSecret: key "ca.crt" of Secret team-a/orders-ca holds no PEM certificate: the target is not Ready until it holds the CA's certificate`))
		Expect(warnings("tls.crt")).To(ConsistOf(`spec.caSecret: Secret team-a/orders-ca has no key "tls.crt": the target is not Ready until it has`))
		Expect(warnings("root.pem")).To(BeEmpty())
	})

	It("refuses, in the schema, a migration with both or neither of database and targetRef", func() {
		both := fixture.Migration(testNamespace, "both")
		both.Spec.TargetRef = &dbv1.TargetRef{Name: "orders"}
		err := dev.Create(ctx, both)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("set exactly one of spec.database and spec.targetRef"))
	})
})

// warningRecorder keeps the warnings the API server returns.
type warningRecorder struct{ texts []string }

func (r *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _, text string) {
	r.texts = append(r.texts, text)
}
