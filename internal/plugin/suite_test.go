package plugin_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/plugin"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/envtestutil"
	webhooks "github.com/mohit-nagaraj/kube-shift/webhooks/v1alpha1"
)

// The suite runs the plugin's cluster verbs in-process against a real
// kube-apiserver (envtest) with the CRD installed and the admission webhooks
// served from a manager in this process, each verb authenticated as a real
// user through its own kubeconfig file, as a reviewer's kubectl would be.
//
// No reconciler runs here: the tests write status.plan themselves with the
// admin client, standing in for the operator, so each test decides exactly
// which plan a verb sees and when it changes.
var (
	testEnv *envtest.Environment
	scheme  = runtime.NewScheme()
	admin   client.Client
	cancel  context.CancelFunc

	// kubeconfigs holds the kubeconfig file of each user: dev creates
	// migrations, rita reviews them (she holds the approve verb).
	kubeconfigs   = map[string]string{}
	kubeconfigDir string
)

const testNamespace = "team-a"

func TestPlugin(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl-shift cluster verbs")
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
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(webhooks.SetupWithManager(mgr, webhooks.Options{SQLiteRoot: os.TempDir()})).To(Succeed())

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
	grant(ctx, "developer", []string{"get", "list", "watch", "create", "update", "patch", "delete"}, "dev")
	grant(ctx, "reviewer", []string{"get", "list", "watch", "patch", "update", webhooks.ApproveVerb}, "rita")

	kubeconfigDir, err = os.MkdirTemp("", "kube-shift-plugin-test-")
	Expect(err).NotTo(HaveOccurred())
	addUser(cfg, "dev", "developers")
	addUser(cfg, "rita", "dba")
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

// grant binds a Role with verbs on databasemigrations in the test namespace
// to users.
func grant(ctx context.Context, role string, verbs []string, users ...string) {
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: role},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{dbv1.GroupVersion.Group}, Resources: []string{"databasemigrations", "databasemigrationsets"}, Verbs: verbs},
			// Application teams read the targets of their namespace.
			{APIGroups: []string{dbv1.GroupVersion.Group}, Resources: []string{"databasetargets"}, Verbs: []string{"get", "list", "watch"}},
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

// addUser provisions an authenticated user on the API server and writes its
// kubeconfig file, which the verbs run as that user read.
func addUser(base *rest.Config, name string, groups ...string) {
	user, err := testEnv.AddUser(envtest.User{Name: name, Groups: groups}, base)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(kubeconfigDir, name+".kubeconfig")
	Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
	kubeconfigs[name] = path
}

// userClient is a controller-runtime client acting as user, built from the
// same kubeconfig file the verbs use.
func userClient(user string) client.Client {
	cfg, err := configFlags(user).ToRESTConfig()
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

func configFlags(user string) *genericclioptions.ConfigFlags {
	path, ok := kubeconfigs[user]
	Expect(ok).To(BeTrue(), "no kubeconfig for user %q", user)
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = ptr.To(path)
	flags.Namespace = ptr.To(testNamespace)
	return flags
}

// shift runs `kubectl shift ARGS...` in-process as user, with stdin as the
// terminal (nil: an empty one), and returns what it wrote to stdout.
func shift(ctx context.Context, user string, stdin io.Reader, args ...string) (string, error) {
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	if stdin != nil {
		streams.In = stdin
	} else {
		in.Reset()
	}
	root := &cobra.Command{Use: "kubectl-shift", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(plugin.Commands(&plugin.Options{Flags: configFlags(user), Streams: streams})...)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	GinkgoWriter.Printf("$ kubectl shift %v (as %s)\n%s%s", args, user, out.String(), errOut.String())
	if err != nil {
		GinkgoWriter.Printf("error: %v\n", err)
	}
	return out.String(), err
}
