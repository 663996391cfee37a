package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"

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
		for _, crd := range foreignCRDs {
			out, err := exec.Command("go", "mod", "download", "-json", crd.module).Output()
			Expect(err).NotTo(HaveOccurred(), "go mod download %s", crd.module)
			var mod struct{ Dir string }
			Expect(json.Unmarshal(out, &mod)).To(Succeed())
			kubectlOK("apply", "--server-side", "-f", filepath.Join(mod.Dir, crd.dir))
		}
		// A dry run cannot create the namespace the rest goes into.
		_, _ = kubectl("create", "namespace", "kube-shift-system")
		manifests := kubectlOK("kustomize", filepath.Join(repoRoot, "config", "default"))
		Expect(manifests).To(ContainSubstring("kind: Deployment"))
		out := kubectlOKStdin(manifests, "apply", "--dry-run=server", "-f", "-")
		for _, kind := range []string{"deployment.apps/kube-shift-controller-manager", "certificate.cert-manager.io/kube-shift-serving-cert",
			"servicemonitor.monitoring.coreos.com/kube-shift-controller-manager-metrics-monitor",
			"validatingwebhookconfiguration.admissionregistration.k8s.io/kube-shift-validating-webhook-configuration"} {
			Expect(out).To(ContainSubstring(kind + " created (server dry run)"))
		}
	})
})
