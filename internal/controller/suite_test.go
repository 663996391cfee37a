package controller

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/notify"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/envtestutil"
)

// The suite runs the reconciler in a manager against a real kube-apiserver
// and etcd (envtest) with the generated CRDs installed.
var (
	cfg       *rest.Config
	k8sClient client.Client
	testEnv   *envtest.Environment
	cancel    context.CancelFunc
)

// replanInterval is the suite reconciler's drift-detection period.
const replanInterval = 2 * time.Second

// targetCheckInterval is short, so a target's Secret fixed in a test is
// seen at once; operatorNamespace holds ClusterDatabaseTargets' Secrets.
const (
	targetCheckInterval = 2 * time.Second
	operatorNamespace   = "kube-shift-system"
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(dbv1.AddToScheme(scheme.Scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: envtestutil.AssetsDir(GinkgoTB()),
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	Expect(err).NotTo(HaveOccurred())
	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	// The tests' SQLite files are in temporary directories.
	targets := &Targets{Reader: mgr.GetClient(), OperatorNamespace: operatorNamespace, SQLiteRoot: os.TempDir()}
	reconciler := &DatabaseMigrationReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("kube-shift"),
		Targets:  targets,
		Migrator: NewMigrator(targets, planner.Planner{DevServers: dbtest.DevServers(), LockWait: 2 * time.Second}),
		// Short, so the drift test sees a re-plan; a plan of an unchanged
		// database has the same hash, so the other tests do not notice.
		ReplanInterval: replanInterval,
		// As many as the reconcile workers: the applies test holds them
		// all and shows planning goes on.
		MaxConcurrentApplies: 4,
	}
	notifier := notify.New(mgr.GetClient(), notify.Options{
		Attempts: 3, Backoff: 50 * time.Millisecond, Timeout: 2 * time.Second, OnResult: reconciler.NotificationDelivered,
	})
	Expect(mgr.Add(notifier)).To(Succeed())
	reconciler.Notifier = notifier
	Expect(reconciler.SetupWithManager(ctx, mgr, 4)).To(Succeed())
	Expect((&DatabaseMigrationSetReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("kube-shift")}).SetupWithManager(mgr)).To(Succeed())
	Expect((&TargetReconciler{Client: mgr.GetClient(), Targets: targets, Interval: targetCheckInterval}).SetupWithManager(mgr)).To(Succeed())

	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// urlPort is the port of a test server's URL, for a spec that names the
// server the URL in its Secret connects to.
func urlPort(u *url.URL) int32 {
	port, err := strconv.Atoi(u.Port())
	Expect(err).NotTo(HaveOccurred())
	return int32(port)
}
