package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/lint"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/envtestutil"
	webhooks "github.com/mohit-nagaraj/kube-shift/webhooks/v1alpha1"
)

// verdict is what admission said about one migration, in the terms both
// the API server's answer and the lint report carry.
type verdict struct {
	Errors   []string // "Type Field: Message"
	Warnings []string
}

// TestLintMatchesWebhook applies each input, as a user who may not
// approve, to a real API server whose admission webhooks are kube-shift's
// (server-side dry run for the migrations), and lints the same input
// offline: the verdicts, messages and exit codes must be the same.
func TestLintMatchesWebhook(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "*.yaml"))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	cases := []struct {
		name     string
		paths    []string
		errors   int // findings at error level, across the input
		exitCode int
	}{
		{name: "samples", paths: samples, errors: 0, exitCode: 0},
		{name: "destructive", paths: []string{"testdata/lint/destructive.yaml"}, errors: 2, exitCode: 1},
		{name: "bad dependsOn", paths: []string{"testdata/lint/bad-dependson.yaml"}, errors: 2, exitCode: 1},
		{name: "dependsOn cycle", paths: []string{"testdata/lint/cycle.yaml"}, errors: 1, exitCode: 1},
		{name: "checksum mismatch", paths: []string{"testdata/lint/checksum-mismatch.yaml"}, errors: 2, exitCode: 1},
		{name: "bad SQL", paths: []string{"testdata/lint/bad-sql.yaml"}, errors: 2, exitCode: 1},
		{name: "the CRD's schema and CEL rules", paths: []string{"testdata/lint/schema.yaml"}, errors: 6, exitCode: 1},
	}

	env := startWebhookEnv(t)
	scheme, err := lintScheme()
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			namespace := fmt.Sprintf("lint-%d", i)
			docs, err := lint.ReadPaths(scheme, tc.paths, false, nil)
			g.Expect(err).NotTo(HaveOccurred())

			fromWebhook := env.admit(t, namespace, docs)
			t.Logf("the webhook's verdicts: %+v", fromWebhook)
			report, err := lint.Run(context.Background(), scheme, docs, lint.Options{Namespace: namespace})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(verdictsOf(report)).To(Equal(fromWebhook))
			g.Expect(report.Errors()).To(Equal(tc.errors), "%+v", report.Findings)

			args := []string{"lint", "-n", namespace}
			for _, p := range tc.paths {
				args = append(args, "-f", p)
			}
			_, _, err = run(args...)
			g.Expect(exitCodeOf(err)).To(Equal(tc.exitCode))
		})
	}
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

func verdictsOf(r lint.Report) map[string]verdict {
	out := map[string]verdict{}
	for _, f := range r.Findings {
		v := out[f.Name]
		if f.Severity == lint.SeverityError {
			v.Errors = append(v.Errors, f.Type+" "+f.Field+": "+f.Message)
		} else {
			v.Warnings = append(v.Warnings, f.Message)
		}
		out[f.Name] = v
	}
	for name, v := range out {
		sort.Strings(v.Errors)
		sort.Strings(v.Warnings)
		out[name] = v
	}
	return out
}

type webhookEnv struct {
	admin    client.Client
	user     client.Client
	warnings *warningLog
}

// unknownField finds the fields a strict decoding error names.
var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// admit creates the input's other objects in a new namespace, then each
// migration by server-side dry run as the lint's user, and returns what
// the API server answered for each migration that it did not accept
// silently.
func (e *webhookEnv) admit(t *testing.T, namespace string, docs []lint.Document) map[string]verdict {
	g := NewWithT(t)
	ctx := context.Background()
	g.Expect(e.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
	var migrations []*unstructured.Unstructured
	for _, d := range docs {
		if d.GVK.Kind == "DatabaseMigration" {
			// The manifest as written, as kubectl sends it.
			u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(d.Fields)}
			u.SetNamespace(namespace)
			migrations = append(migrations, u)
			continue
		}
		obj := d.Object.(client.Object).DeepCopyObject().(client.Object)
		obj.SetNamespace(namespace)
		g.Expect(e.admin.Create(ctx, obj)).To(Succeed())
	}
	out := map[string]verdict{}
	for _, dbm := range migrations {
		e.warnings.reset()
		// kubectl apply validates fields strictly by default.
		err := e.user.Create(ctx, dbm, client.DryRunAll, client.FieldValidation("Strict"))
		var v verdict
		var status apierrors.APIStatus
		switch {
		case err == nil:
		case errors.As(err, &status) && apierrors.IsInvalid(err):
			for _, c := range status.Status().Details.Causes {
				v.Errors = append(v.Errors, string(c.Type)+" "+c.Field+": "+c.Message)
			}
		case apierrors.IsBadRequest(err) && strings.Contains(err.Error(), "strict decoding error"):
			for _, m := range unknownField.FindAllStringSubmatch(err.Error(), -1) {
				v.Errors = append(v.Errors, lint.TypeUnknownField+" "+m[1]+": strict decoding error: unknown field "+strconv.Quote(m[1]))
			}
		default:
			t.Fatalf("creating %s: %v", dbm.GetName(), err)
		}
		v.Warnings = e.warnings.take()
		sort.Strings(v.Errors)
		sort.Strings(v.Warnings)
		if len(v.Errors) > 0 || len(v.Warnings) > 0 {
			out[dbm.GetName()] = v
		}
	}
	return out
}

// startWebhookEnv runs a kube-apiserver with kube-shift's CRDs and its
// webhooks served by a manager, as the webhook suite does.
func startWebhookEnv(t *testing.T) *webhookEnv {
	g := NewWithT(t)
	scheme, err := lintScheme()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rbacv1.AddToScheme(scheme)).To(Succeed())
	testEnv := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: envtestutil.AssetsDir(t),
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join("..", "..", "config", "webhook")}},
	}
	cfg, err := testEnv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = testEnv.Stop() })

	wh := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(webhooks.SetupWithManager(mgr, webhooks.Options{SQLiteRoot: "/"})).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = mgr.Start(ctx) }()
	g.Eventually(func() error {
		conn, err := tls.Dial("tcp", net.JoinHostPort(wh.LocalServingHost, fmt.Sprint(wh.LocalServingPort)),
			&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only probing that the server listens
		if err != nil {
			return err
		}
		return conn.Close()
	}).WithTimeout(20 * time.Second).Should(Succeed())

	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	// The lint's user may write migrations, not approve them.
	g.Expect(admin.Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "migration-author"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{dbv1.GroupVersion.Group}, Resources: []string{"databasemigrations"},
			Verbs: []string{"get", "list", "create", "update", "patch"}}},
	})).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "migration-author"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "migration-author"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: lint.User}},
	})).To(Succeed())
	user, err := testEnv.AddUser(envtest.User{Name: lint.User, Groups: []string{"developers"}}, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	warnings := &warningLog{}
	userCfg := rest.CopyConfig(user.Config())
	userCfg.WarningHandler = warnings
	userClient, err := client.New(userCfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	return &webhookEnv{admin: admin, user: userClient, warnings: warnings}
}

// warningLog keeps the warnings the API server sends back.
type warningLog struct {
	mu   sync.Mutex
	list []string
}

var _ rest.WarningHandler = &warningLog{}

func (w *warningLog) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warningLog) reset() { w.mu.Lock(); w.list = nil; w.mu.Unlock() }

func (w *warningLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}
