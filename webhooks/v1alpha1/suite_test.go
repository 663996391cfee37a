package v1alpha1

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/envtestutil"
	"github.com/mohit-nagaraj/kube-shift/internal/webhookserver"
)

// The suite serves the webhooks from a manager over TLS and registers them
// with a real kube-apiserver (envtest), so every request goes through the
// API server as a user's would: authenticated as one of the users below.
var (
	testEnv *envtest.Environment
	scheme  = runtime.NewScheme()
	admin   client.Client
	cancel  context.CancelFunc

	// dev creates migrations; rita may approve them; bob may edit but not
	// approve.
	dev, rita, bob client.Client
	kubeconfigs    = map[string]string{}
	// operatorUser is who the manager authenticates as.
	operatorUser  string
	kubeconfigDir string
)

const testNamespace = "team-a"

func TestWebhooks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Webhook Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(dbv1.AddToScheme(scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: envtestutil.AssetsDir(GinkgoTB()),
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join("..", "..", "config", "webhook")},
		},
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	wh := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// The manager's own webhook server (cmd/main.go), with its defaults.
		WebhookServer: webhookserver.New(webhookserver.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
	})
	Expect(err).NotTo(HaveOccurred())
	// The manager runs as the admin here: that is the operator's user.
	operatorUser, err = OperatorIdentity(context.Background(), admin)
	Expect(err).NotTo(HaveOccurred())
	Expect(SetupWithManager(mgr, Options{SQLiteRoot: os.TempDir(), OperatorUser: operatorUser})).To(Succeed())

	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Eventually(func() error {
		conn, err := tls.Dial("tcp", net.JoinHostPort(wh.LocalServingHost, fmt.Sprint(wh.LocalServingPort)),
			&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only probing that the server listens
		if err != nil {
			return err
		}
		return conn.Close()
	}).WithTimeout(20 * time.Second).Should(Succeed())

	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}})).To(Succeed())
	grant(ctx, "editor", []string{"get", "list", "watch", "create", "update", "patch", "delete"}, "dev", "bob")
	grant(ctx, "approver", []string{"get", "patch", "update", ApproveVerb}, "rita")
	kubeconfigDir, err = os.MkdirTemp("", "kube-shift-webhook-test-")
	Expect(err).NotTo(HaveOccurred())
	dev = userClient(cfg, "dev", "developers")
	rita = userClient(cfg, "rita", "dba")
	bob = userClient(cfg, "bob", "developers")
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
	if kubeconfigDir != "" {
		Expect(os.RemoveAll(kubeconfigDir)).To(Succeed())
	}
})

// grant gives users the verbs on databasemigrations (and ConfigMaps, for
// scripts) in the test namespace.
func grant(ctx context.Context, role string, verbs []string, users ...string) {
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: role},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{dbv1.GroupVersion.Group}, Resources: []string{"databasemigrations", "databasemigrationsets"}, Verbs: verbs},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: verbs},
		},
	})).To(Succeed())
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
	}
	for _, u := range users {
		binding.Subjects = append(binding.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	Expect(admin.Create(ctx, binding)).To(Succeed())
}

// grantForSpec gives user the rule in the test namespace for the running
// spec, and waits until the API server's authorizer says so.
func grantForSpec(ctx context.Context, name string, rule rbacv1.PolicyRule, user string) {
	GinkgoHelper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}, Rules: []rbacv1.PolicyRule{rule}}
	Expect(admin.Create(ctx, role)).To(Succeed())
	DeferCleanup(admin.Delete, ctx, role)
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
	Expect(admin.Create(ctx, binding)).To(Succeed())
	DeferCleanup(admin.Delete, ctx, binding)
	Eventually(func() bool {
		review := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: testNamespace, Verb: rule.Verbs[0], Group: rule.APIGroups[0], Resource: rule.Resources[0]}}}
		Expect(admin.Create(ctx, review)).To(Succeed())
		return review.Status.Allowed
	}).Should(BeTrue())
}

// createPlanned creates dbm as dev and writes a plan of hash into its
// status, as the reconciler would.
func createPlanned(ctx context.Context, dbm *dbv1.DatabaseMigration, hash string) {
	GinkgoHelper()
	Expect(dev.Create(ctx, dbm)).To(Succeed())
	DeferCleanup(admin.Delete, ctx, dbm)
	dbm.Status.Plan = &dbv1.PlanStatus{Hash: hash, Statements: []string{"CREATE TABLE a (id int)"}}
	Expect(admin.Status().Update(ctx, dbm)).To(Succeed())
}

// userClient provisions an authenticated user on the API server and returns
// a client acting as it; its kubeconfig is kept for the kubectl tests.
func userClient(base *rest.Config, name string, groups ...string) client.Client {
	user, err := testEnv.AddUser(envtest.User{Name: name, Groups: groups}, base)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(kubeconfigDir, name+".kubeconfig")
	Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
	kubeconfigs[name] = path
	c, err := client.New(user.Config(), client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}
