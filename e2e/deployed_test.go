package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Names config/default gives the install (namePrefix kube-shift-).
const (
	deployedName     = "kube-shift-controller-manager"
	webhookService   = "kube-shift-webhook-service"
	metricsService   = "kube-shift-controller-manager-metrics-service"
	servingCert      = "kube-shift-serving-cert"
	metricsReaderCRB = "kube-shift-metrics-reader"
)

// deployedNamespace is the namespace hack/deploy-local.sh deployed into.
func deployedNamespace() string {
	GinkgoHelper()
	b, err := os.ReadFile(localState("deployed"))
	Expect(err).NotTo(HaveOccurred(), "bin/local/deployed (hack/deploy-local.sh)")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NAMESPACE="); ok {
			return v
		}
	}
	Fail("bin/local/deployed names no NAMESPACE")
	return ""
}

// The install a user deploys, running for real: what cert-manager issued and
// injected, who the manager is, how the API server reaches it.
var _ = Describe("the deployed install (config/default with cert-manager)", Ordered, func() {
	var ns string
	BeforeAll(func() {
		if !deployed {
			Skip("the local control plane is not in the deployed mode (E2E_DEPLOYED=0 or E2E_KUBECONFIG)")
		}
		ns = deployedNamespace()
	})

	It("serves the webhooks through their Service with the certificate cert-manager issued, trusted through the CA cainjector injected", func() {
		for kind, name := range webhookConfigurations {
			services := strings.Fields(kubectlOK("get", kind, name, "-o", "jsonpath={.webhooks[*].clientConfig.service.name}"))
			Expect(services).NotTo(BeEmpty())
			Expect(services).To(HaveEach(webhookService), "every webhook of %s goes through the Service", name)
			Expect(strings.Fields(kubectlOK("get", kind, name, "-o", "jsonpath={.webhooks[*].clientConfig.caBundle}"))).To(HaveLen(len(services)),
				"cainjector injected every webhook of %s", name)
			Expect(kubectlOK("get", kind, name, "-o", "jsonpath={.webhooks[*].clientConfig.url}")).To(BeEmpty())
			bundle := kubectlOK("get", kind, name, "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}")
			pool := x509.NewCertPool()
			Expect(pool.AppendCertsFromPEM(decodeB64(bundle))).To(BeTrue(), "%s has no caBundle: cainjector injected nothing", name)
			Expect(managedFields(kind, name)).To(ContainSubstring("cert-manager-cainjector"), "cainjector wrote the caBundle")

			served := servedCertificate(webhookService, ns)
			_, err := served.Verify(x509.VerifyOptions{Roots: pool, DNSName: webhookService + "." + ns + ".svc"})
			Expect(err).NotTo(HaveOccurred(), "the certificate the webhook Service serves verifies against %s's caBundle", name)
		}
		issued := certFromSecret(ns)
		Expect(servedCertificate(webhookService, ns).Equal(issued)).To(BeTrue(), "the manager serves the certificate cert-manager wrote into the Secret")
	})

	It("runs the manager as the Deployment's ServiceAccount, from a token, not as the admin", func() {
		podKubeconfig := localState("pod", "kubeconfig")
		out, err := runOutput("", "kubectl", "auth", "whoami", "--kubeconfig", podKubeconfig, "-o", "jsonpath={.status.userInfo.username}")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal("system:serviceaccount:" + ns + ":" + deployedName))
		b, err := os.ReadFile(podKubeconfig)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).NotTo(ContainSubstring("client-certificate"), "no client certificate: the token alone")
		Expect(string(b)).To(ContainSubstring("tokenFile"))
	})

	It("serves metrics through the metrics Service over HTTPS to a ServiceAccount bound to metrics-reader, and 403 to one that is not", func() {
		kubectlOKStdin(fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: metrics-scraper, namespace: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: metrics-stranger, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-%[1]s-metrics-scraper}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[2]s}
subjects: [{kind: ServiceAccount, name: metrics-scraper, namespace: %[1]s}]
`, namespace, metricsReaderCRB), "apply", "-f", "-")
		DeferCleanup(func() { _, _ = kubectl("delete", "clusterrolebinding", "e2e-"+namespace+"-metrics-scraper") })

		get := func(sa string) (int, string) {
			token := strings.TrimSpace(kubectlOK("create", "token", sa, "-n", namespace))
			// The metrics server's certificate is self-signed (config/default
			// gives it none): a scraper configured as in config/prometheus
			// skips verification too. What is tested is authn/authz.
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
			}}
			req, err := http.NewRequest(http.MethodGet, "https://"+serviceEndpoint(metricsService, ns, "https")+"/metrics", nil)
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		Eventually(func(g Gomega) {
			code, body := get("metrics-scraper")
			g.Expect(code).To(Equal(http.StatusOK), body)
			g.Expect(body).To(ContainSubstring("controller_runtime_reconcile_total"))
		}).Should(Succeed())
		code, body := get("metrics-stranger")
		Expect(code).To(Equal(http.StatusForbidden), body)
	})

	It("keeps admitting across a renewal of the serving certificate: the manager picks the new one up without a restart", func() {
		before := servedCertificate(webhookService, ns)
		managerPid := suiteManagerPid()
		Expect(managerPid).NotTo(BeZero())

		var total, failed atomic.Int64
		var firstFailure atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer GinkgoRecover()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				manifest := sqliteManifest(fmt.Sprintf("rotation-%d", i), "/tmp/rotation.db", "CREATE TABLE t (id INTEGER PRIMARY KEY);")
				out, err := kubectlQuiet(manifest, as(developer, "create", "--dry-run=server", "-f", "-")...)
				total.Add(1)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, out)
				}
			}
		})
		defer func() {
			close(stop)
			wg.Wait()
		}()
		Eventually(total.Load).Should(BeNumerically(">=", 5), "dry-run creates are flowing before the renewal")

		By("renewing the Certificate as cmctl renew does: an Issuing condition on its status")
		gen := kubectlOK("get", "certificate", servingCert, "-n", ns, "-o", "jsonpath={.metadata.generation}")
		patch := fmt.Sprintf(`[{"op":"add","path":"/status/conditions/-","value":{"type":"Issuing","status":"True","reason":"ManuallyTriggered","message":"renewed by the e2e rotation spec","lastTransitionTime":%q,"observedGeneration":%s}}]`,
			time.Now().UTC().Format(time.RFC3339), gen)
		kubectlOK("patch", "certificate", servingCert, "-n", ns, "--subresource=status", "--type=json", "-p", patch)

		Eventually(func() bool { return !certFromSecret(ns).Equal(before) }).Should(BeTrue(), "cert-manager wrote a new certificate into the Secret")
		Eventually(func() bool { return servedCertificate(webhookService, ns).Equal(certFromSecret(ns)) }).
			Should(BeTrue(), "the manager serves the renewed certificate")
		// Connections the API server opened before the renewal go on
		// working whatever its caBundle says; a new one verifies the
		// renewed certificate against it, once cainjector has injected it.
		renewed := certFromSecret(ns)
		for kind, name := range webhookConfigurations {
			Eventually(func(g Gomega) {
				pool := x509.NewCertPool()
				bundle := kubectlOK("get", kind, name, "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}")
				g.Expect(pool.AppendCertsFromPEM(decodeB64(bundle))).To(BeTrue())
				_, err := renewed.Verify(x509.VerifyOptions{Roots: pool, DNSName: webhookService + "." + ns + ".svc"})
				g.Expect(err).NotTo(HaveOccurred())
			}).Should(Succeed(), "cainjector put the renewed certificate into %s's caBundle", name)
		}
		after := total.Load()
		Eventually(total.Load).Should(BeNumerically(">=", after+5), "dry-run creates keep flowing after the renewal")
		close(stop)
		wg.Wait()
		stop = make(chan struct{})

		Expect(suiteManagerPid()).To(Equal(managerPid), "the same manager process, not a restart")
		msg := fmt.Sprintf("certificate rotation: %d dry-run creates across the renewal, %d failed", total.Load(), failed.Load())
		fmt.Fprintln(GinkgoWriter, msg)
		AddReportEntry(msg)
		_, _ = fmt.Fprintln(os.Stdout, msg)
		Expect(failed.Load()).To(BeZero(), "first failure: %v", firstFailure.Load())
	})
})

// webhookConfigurations are config/default's webhook configurations, by
// kind.
var webhookConfigurations = map[string]string{
	"validatingwebhookconfiguration": "kube-shift-validating-webhook-configuration",
	"mutatingwebhookconfiguration":   "kube-shift-mutating-webhook-configuration",
}

// servedCertificate is the leaf certificate served at the Service's endpoint
// (the EndpointSlice the API server resolves it through).
func servedCertificate(service, ns string) *x509.Certificate {
	GinkgoHelper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", serviceEndpoint(service, ns, ""),
		&tls.Config{InsecureSkipVerify: true, ServerName: service + "." + ns + ".svc"}) //nolint:gosec // only reads the certificate
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	Expect(certs).NotTo(BeEmpty())
	return certs[0]
}

// serviceEndpoint is address:port of the Service's port named portName (the
// first port when empty), read from its EndpointSlices as kube-proxy would.
func serviceEndpoint(service, ns, portName string) string {
	GinkgoHelper()
	out := kubectlOK("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name="+service,
		"-o", `jsonpath={range .items[*]}{.endpoints[0].addresses[0]}{" "}{range .ports[*]}{.name}{"="}{.port}{" "}{end}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, p := range fields[1:] {
			name, port, _ := strings.Cut(p, "=")
			if portName == "" || name == portName {
				return net.JoinHostPort(fields[0], port)
			}
		}
	}
	Fail(fmt.Sprintf("service %s/%s has no endpoint with port %q:\n%s", ns, service, portName, out))
	return ""
}

// certFromSecret is the certificate in the Secret the serving Certificate
// names.
func certFromSecret(ns string) *x509.Certificate {
	GinkgoHelper()
	secret := kubectlOK("get", "certificate", servingCert, "-n", ns, "-o", "jsonpath={.spec.secretName}")
	crt := decodeB64(kubectlOK("get", "secret", secret, "-n", ns, "-o", `jsonpath={.data.tls\.crt}`))
	block, _ := pem.Decode(crt)
	Expect(block).NotTo(BeNil(), "secret %s has no tls.crt", secret)
	c, err := x509.ParseCertificate(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return c
}

func managedFields(kind, name string) string {
	return kubectlOK("get", kind, name, "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
}

func decodeB64(s string) []byte {
	GinkgoHelper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	Expect(err).NotTo(HaveOccurred())
	return b
}

// kubectlQuiet runs kubectl without writing its output to the spec's log
// (for a stream of calls).
func kubectlQuiet(stdin string, args ...string) (string, error) {
	return runOutput(stdin, "kubectl", append(args, "--kubeconfig", kubeconfig)...)
}

// runOutput runs a command and returns its combined output, trimmed.
func runOutput(stdin, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}
