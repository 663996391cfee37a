// Package e2e drives kube-shift as its users do: real kubectl and the
// kubectl-shift plugin against a cluster running the manager and its
// webhooks, with real databases behind it.
//
// It is cluster-agnostic: E2E_KUBECONFIG names the cluster (a kind cluster
// with config/default deployed, say). Without it the suite starts the local
// control plane and manager itself (hack/local-up.sh) and stops them after,
// in the deployed mode (hack/deploy-local.sh: cert-manager, config/default
// applied unchanged, the manager as its Deployment's ServiceAccount behind
// the webhook Service) unless E2E_DEPLOYED=0 asks for the manager with the
// admin kubeconfig and webhooks the control plane registered itself.
package e2e

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var (
	repoRoot   string
	kubeconfig string
	namespace  string
	// startedLocal is true when the suite brought the local cluster up and
	// so must take it down.
	startedLocal bool
	// deployed is true when that local cluster runs the deployed mode.
	deployed bool
)

// Users the suite acts as, through impersonation by the admin kubeconfig:
// a developer who writes migrations and a reviewer who approves them.
const (
	developer = "dev-dana"
	reviewer  = "dba-rita"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(90 * time.Second)
	SetDefaultEventuallyPollingInterval(500 * time.Millisecond)
	RunSpecs(t, "kube-shift e2e")
}

var _ = BeforeSuite(func() {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..")

	kubeconfig = os.Getenv("E2E_KUBECONFIG")
	if kubeconfig == "" {
		deployed = os.Getenv("E2E_DEPLOYED") != "0"
		if deployed {
			By("starting the local control plane in the deployed mode: cert-manager, config/default, the manager as its ServiceAccount")
			Expect(os.Setenv("LOCAL_DEPLOYED", "1")).To(Succeed())
		} else {
			By("starting the local control plane with the manager and its webhooks")
		}
		run(repoRoot, "hack/local-up.sh")
		startedLocal = true
		kubeconfig = filepath.Join(repoRoot, "bin", "local", "kubeconfig")
	}

	By("putting kubectl-shift on PATH so `kubectl shift` works")
	binDir := GinkgoT().TempDir()
	run(repoRoot, "go", "build", "-o", filepath.Join(binDir, "kubectl-shift"), "./cmd/kubectl-shift")
	Expect(os.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))).To(Succeed())

	namespace = fmt.Sprintf("e2e-%d", time.Now().UnixNano()%1_000_000)
	kubectlOK("create", "namespace", namespace)
	kubectlOKStdin(rbac(namespace), "apply", "-f", "-")
})

var _ = AfterSuite(func() {
	if startedLocal {
		By("looking for every secret the suite gave the operator in its logs, events and statuses")
		scanForSecrets()
	}
	if namespace != "" && kubeconfig != "" {
		_, _ = kubectl("delete", "namespace", namespace, "--wait=false")
	}
	if startedLocal {
		run(repoRoot, "hack/local-down.sh")
	}
})

// rbac lets the developer write migrations and the reviewer approve them.
func rbac(ns string) string {
	return fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-developer, namespace: %[1]s}
rules:
- apiGroups: [database.mohitnagaraj.in]
  resources: [databasemigrations, databasemigrationsets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [database.mohitnagaraj.in]
  resources: [databasetargets]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get, list, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-developer, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-developer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: %[2]s}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-reviewer, namespace: %[1]s}
rules:
- apiGroups: [database.mohitnagaraj.in]
  resources: [databasemigrations, databasemigrationsets]
  verbs: [get, list, watch, patch, approve]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-reviewer, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-reviewer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: %[3]s}]
`, ns, developer, reviewer)
}

// kubectl runs the real kubectl against the suite's cluster.
func kubectl(args ...string) (string, error) {
	return kubectlStdin("", args...)
}

func kubectlStdin(stdin string, args ...string) (string, error) {
	// Flags go last: kubectl finds a plugin (`kubectl shift ...`) only when
	// its name comes before any flag, and passes the flags on to it.
	cmd := exec.Command("kubectl", append(args, "--kubeconfig", kubeconfig)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

func kubectlOK(args ...string) string {
	GinkgoHelper()
	out, err := kubectl(args...)
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

func kubectlOKStdin(stdin string, args ...string) string {
	GinkgoHelper()
	out, err := kubectlStdin(stdin, args...)
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

// as runs kubectl impersonating a user, as that user's own kubeconfig would.
func as(user string, args ...string) []string {
	return append(args, "--as", user)
}

// credentialsFor stores the user and password of the database dbURL names
// in the Secret secret, as a developer would, and returns the URL and the
// database's name for a manifest.
func credentialsFor(secret, dbURL string) (*url.URL, string) {
	GinkgoHelper()
	u, err := url.Parse(dbURL)
	Expect(err).NotTo(HaveOccurred())
	password, _ := u.User.Password()
	kubectlOK(as(developer, "create", "secret", "generic", secret, "-n", namespace,
		"--from-literal=username="+u.User.Username(), "--from-literal=password="+password)...)
	return u, strings.TrimPrefix(u.Path, "/")
}

func run(dir string, name string, args ...string) {
	GinkgoHelper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s %s: %s", name, strings.Join(args, " "), out)
}

// jsonpath reads one field of a migration.
func jsonpath(name, path string) string {
	out, _ := kubectl("get", "databasemigration", name, "-n", namespace, "-o", "jsonpath={"+path+"}")
	return strings.TrimSpace(out)
}
