package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The CRDs config/default needs besides ours, taken from the Go modules of
// the projects that publish them (the module proxy is reachable where the
// release downloads are not).
var foreignCRDs = []struct{ module, dir string }{
	{"github.com/cert-manager/cert-manager@v1.21.2", "deploy/crds"},
	{"github.com/prometheus-operator/prometheus-operator@v0.85.0", "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
}

var _ = Describe("the deployable manifests", func() {
	It("are accepted by the API server: kustomize build config/default | kubectl apply --dry-run=server", func() {
		installForeignCRDs()
		// A dry run cannot create the namespace the rest goes into.
		_, _ = kubectl("create", "namespace", "kube-shift-system")
		manifests := kubectlOK("kustomize", filepath.Join(repoRoot, "config", "default"))
		Expect(manifests).To(ContainSubstring("kind: Deployment"))
		out := kubectlOKStdin(manifests, "apply", "--dry-run=server", "-f", "-")
		for _, kind := range []string{"deployment.apps/kube-shift-controller-manager", "certificate.cert-manager.io/kube-shift-serving-cert",
			"servicemonitor.monitoring.coreos.com/kube-shift-controller-manager-metrics-monitor",
			"validatingwebhookconfiguration.admissionregistration.k8s.io/kube-shift-validating-webhook-configuration"} {
			// In the deployed mode config/default is installed already.
			Expect(out).To(MatchRegexp(regexp.QuoteMeta(kind) + ` (created|configured|unchanged) \(server dry run\)`))
		}
	})

	It("include a Helm chart the API server accepts, with cert-manager and with generated certificates", func() {
		helm := helmBinary()
		installForeignCRDs()
		_, _ = kubectl("create", "namespace", "kube-shift-helm")
		for _, certManager := range []string{"true", "false"} {
			cmd := exec.Command(helm, "template", "shift", filepath.Join(repoRoot, "charts", "kube-shift"), "--namespace", "kube-shift-helm",
				"--set", "certManager.enabled="+certManager, "--set", "serviceMonitor.enabled=true")
			rendered, err := cmd.Output()
			Expect(err).NotTo(HaveOccurred(), "helm template")
			manifests := string(rendered)
			out := kubectlOKStdin(manifests, "apply", "--dry-run=server", "-f", "-")
			for _, kind := range []string{"deployment.apps/shift-kube-shift-controller-manager", "networkpolicy.networking.k8s.io/shift-kube-shift-devdb-from-manager-only",
				"servicemonitor.monitoring.coreos.com/shift-kube-shift-controller-manager-metrics-monitor",
				"mutatingwebhookconfiguration.admissionregistration.k8s.io/shift-kube-shift-mutating-webhook-configuration",
				"validatingwebhookconfiguration.admissionregistration.k8s.io/shift-kube-shift-validating-webhook-configuration"} {
				Expect(out).To(ContainSubstring(kind+" created (server dry run)"), "certManager.enabled="+certManager)
			}
			if certManager == "true" {
				Expect(out).To(ContainSubstring("certificate.cert-manager.io/shift-kube-shift-serving-cert created (server dry run)"))
			} else {
				Expect(out).To(ContainSubstring("secret/shift-kube-shift-webhook-generated-cert created (server dry run)"))
			}
		}
	})
})

// installForeignCRDs installs cert-manager's and the ServiceMonitor CRDs.
func installForeignCRDs() {
	GinkgoHelper()
	for _, crd := range foreignCRDs {
		out, err := exec.Command("go", "mod", "download", "-json", crd.module).Output()
		Expect(err).NotTo(HaveOccurred(), "go mod download %s", crd.module)
		var mod struct{ Dir string }
		Expect(json.Unmarshal(out, &mod)).To(Succeed())
		kubectlOK("apply", "--server-side", "-f", filepath.Join(mod.Dir, crd.dir))
	}
}

// helmBinary is bin/helm-<HELM_VERSION from the Makefile>, built by `make
// helm`; without it the spec is skipped, or fails in CI.
func helmBinary() string {
	GinkgoHelper()
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	Expect(err).NotTo(HaveOccurred())
	m := regexp.MustCompile(`(?m)^HELM_VERSION \?= (\S+)$`).FindSubmatch(makefile)
	Expect(m).NotTo(BeNil(), "the Makefile pins no HELM_VERSION")
	path := filepath.Join(repoRoot, "bin", "helm-"+string(m[1]))
	if _, err := os.Stat(path); err != nil {
		msg := path + " is not built: run `make helm`"
		if os.Getenv("CI") == "true" {
			Fail(msg)
		}
		Skip(msg)
	}
	return path
}
