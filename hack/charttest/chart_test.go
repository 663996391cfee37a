package charttest

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

const certDirArg = "--webhook-cert-dir=/tmp/k8s-webhook-server/serving-certs"

// memoryLimitEnv passes the container's memory limit to the manager's
// garbage collector (internal/gcpolicy).
var memoryLimitEnv = map[string]any{"name": "KUBE_SHIFT_MEMORY_LIMIT", "valueFrom": map[string]any{
	"resourceFieldRef": map[string]any{"containerName": "manager", "resource": "limits.memory"}}}

// The chart's CRDs are the generated ones, byte for byte: `make manifests`
// copies them and `make verify` fails when the copy is stale.
func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	g := NewWithT(t)
	generated, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(generated).NotTo(BeEmpty())
	inChart, err := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	names := func(paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = filepath.Base(p)
		}
		return out
	}
	g.Expect(names(inChart)).To(Equal(names(generated)), "run make manifests")
	for _, path := range generated {
		want, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		got, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(path)))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(got)).To(Equal(string(want)), "%s is stale: run make manifests", filepath.Base(path))
	}
}

// Installed as release "kube-shift" in "kube-shift-system", the chart makes
// the objects config/default makes, with the same names, rules, webhooks,
// ports, containers and dev servers; so neither can drift from the other
// (nor from the generated role.yaml and webhook manifests) unseen.
func TestChartIsTheKustomizeInstall(t *testing.T) {
	g := NewWithT(t)
	chart := helmTemplate(t, kustomizeRelease, kustomizeNamespace, "serviceMonitor.enabled=true")
	kust := kustomizeBuild(t)

	// Everything but the Namespace: Helm installs into the release's
	// (helm install --create-namespace).
	var want []string
	for _, obj := range kust {
		if obj.GetKind() != "Namespace" {
			want = append(want, key(obj))
		}
	}
	g.Expect(chart.keys()).To(ConsistOf(want))

	for _, k := range kust {
		if k.GetKind() == "Namespace" {
			continue
		}
		c := chart.get(t, k.GetKind(), k.GetName())
		at := key(k)
		switch k.GetKind() {
		case "CustomResourceDefinition":
			g.Expect(c.Object).To(Equal(k.Object), at)
		case "ClusterRole", "Role":
			g.Expect(c.Object["rules"]).To(Equal(k.Object["rules"]), at)
		case "ClusterRoleBinding", "RoleBinding":
			g.Expect(c.Object["roleRef"]).To(Equal(k.Object["roleRef"]), at)
			g.Expect(c.Object["subjects"]).To(Equal(k.Object["subjects"]), at)
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			g.Expect(c.Object["webhooks"]).To(Equal(k.Object["webhooks"]), at)
			g.Expect(c.GetAnnotations()).To(HaveKeyWithValue("cert-manager.io/inject-ca-from",
				k.GetAnnotations()["cert-manager.io/inject-ca-from"]), at)
		case "Service":
			g.Expect(field(t, c, "spec.ports")).To(Equal(field(t, k, "spec.ports")), at)
			expectSuperset(g, field(t, c, "spec.selector"), field(t, k, "spec.selector"), at)
		case "Deployment":
			compareDeployment(t, g, chart, c, k)
		case "NetworkPolicy":
			for _, f := range []string{"spec.policyTypes", "spec.egress", "spec.podSelector.matchExpressions"} {
				g.Expect(field(t, c, f)).To(Equal(field(t, k, f)), at+" "+f)
			}
			expectSuperset(g, field(t, c, "spec.ingress.0.from.0.podSelector.matchLabels"),
				field(t, k, "spec.ingress.0.from.0.podSelector.matchLabels"), at)
		case "ServiceMonitor":
			g.Expect(field(t, c, "spec.endpoints")).To(Equal(field(t, k, "spec.endpoints")), at)
		case "Certificate":
			for _, f := range []string{"spec.dnsNames", "spec.issuerRef", "spec.privateKey"} {
				g.Expect(field(t, c, f)).To(Equal(field(t, k, f)), at+" "+f)
			}
		case "Issuer":
			g.Expect(c.Object["spec"]).To(Equal(k.Object["spec"]), at)
		case "ServiceAccount":
		default:
			t.Errorf("%s: no comparison for this kind; add one", at)
		}
	}
}

func compareDeployment(t *testing.T, g *WithT, chart objects, c, k *unstructured.Unstructured) {
	t.Helper()
	at := key(k)
	g.Expect(field(t, c, "spec.replicas")).To(Equal(field(t, k, "spec.replicas")), at)
	expectSuperset(g, field(t, c, "spec.template.metadata.labels"), field(t, k, "spec.selector.matchLabels"), at)
	cPod, kPod := field(t, c, "spec.template.spec"), field(t, k, "spec.template.spec")
	if strings.HasSuffix(at, "controller-manager") {
		cc, kc := field(t, cPod, "containers.name=manager"), field(t, kPod, "containers.name=manager")
		// The chart says more (--metrics-secure, --webhook-port), never less.
		g.Expect(strs(t, field(t, cc, "args"))).To(ContainElements(strs(t, field(t, kc, "args"))), at)
		g.Expect(field(t, cc, "ports")).To(ConsistOf(field(t, kc, "ports")), at)
		for _, f := range []string{"command", "env", "livenessProbe", "readinessProbe", "resources", "volumeMounts"} {
			g.Expect(field(t, cc, f)).To(Equal(field(t, kc, f)), at+" "+f)
		}
		expectSuperset(g, field(t, cc, "securityContext"), field(t, kc, "securityContext"), at)
		for _, f := range []string{"securityContext", "serviceAccountName", "volumes.name=tmp"} {
			g.Expect(field(t, cPod, f)).To(Equal(field(t, kPod, f)), at+" "+f)
		}
		// The serving certificate is the one cert-manager writes.
		cert := chart.ofKind("Certificate")[0]
		g.Expect(field(t, cPod, "volumes.name=webhook-certs.secret.secretName")).To(Equal(field(t, cert, "spec.secretName")), at)
		return
	}
	// The same dev servers; the chart only lets the pull policy be set.
	containers := field(t, cPod, "containers").([]any)
	for _, c := range containers {
		delete(c.(map[string]any), "imagePullPolicy")
	}
	g.Expect(containers).To(Equal(field(t, kPod, "containers")), at)
	for _, f := range []string{"securityContext", "volumes", "automountServiceAccountToken"} {
		g.Expect(field(t, cPod, f)).To(Equal(field(t, kPod, f)), at+" "+f)
	}
	g.Expect(field(t, c, "spec.strategy")).To(Equal(field(t, k, "spec.strategy")), at)
}

// expectSuperset: every key of want is in got with the same value.
func expectSuperset(g *WithT, got, want any, at string) {
	g.Expect(got).To(BeAssignableToTypeOf(map[string]any{}), at)
	for k, v := range want.(map[string]any) {
		g.Expect(got).To(HaveKeyWithValue(k, v), at)
	}
}

// In any release and namespace, with cert-manager or chart-generated
// certificates, both webhook configurations call the webhook Service of the
// release on the manager's paths, the Service reaches the manager's webhook
// port, and the API server trusts the certificate the manager serves.
func TestChartWebhooksReachTheManager(t *testing.T) {
	const release, namespace = "shift", "db-ops"
	generated := decode(t, mustRead(t, filepath.Join(repoRoot, "config", "webhook", "manifests.yaml")))
	paths := map[string]string{}
	for _, cfg := range generated {
		for _, w := range field(t, cfg, "webhooks").([]any) {
			paths[field(t, w, "name").(string)] = field(t, w, "clientConfig.service.path").(string)
		}
	}

	for _, certManager := range []bool{true, false} {
		name := map[bool]string{true: "cert-manager", false: "generated certificates"}[certManager]
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			set := "certManager.enabled=false"
			if certManager {
				set = "certManager.enabled=true"
			}
			objs := helmTemplate(t, release, namespace, set)

			manager := objs.get(t, "Deployment", "shift-kube-shift-controller-manager")
			pod := field(t, manager, "spec.template.spec")
			container := field(t, pod, "containers.name=manager")
			args := strs(t, field(t, container, "args"))
			g.Expect(args).To(ContainElements(certDirArg, "--webhook-port=9443",
				"--metrics-bind-address=:8443", "--metrics-secure=true", "--health-probe-bind-address=:8081"))
			g.Expect(field(t, container, "ports.name=webhook-server.containerPort")).To(BeEquivalentTo(9443))
			g.Expect(field(t, container, "volumeMounts.name=webhook-certs.mountPath")).To(Equal(strings.TrimPrefix(certDirArg, "--webhook-cert-dir=")))
			secretName := field(t, pod, "volumes.name=webhook-certs.secret.secretName").(string)

			svc := objs.get(t, "Service", "shift-kube-shift-webhook-service")
			g.Expect(svc.GetNamespace()).To(Equal(namespace))
			g.Expect(field(t, svc, "spec.ports.0.port")).To(BeEquivalentTo(443))
			g.Expect(field(t, svc, "spec.ports.0.targetPort")).To(BeEquivalentTo(9443))
			expectSuperset(g, field(t, manager, "spec.template.metadata.labels"), field(t, svc, "spec.selector"), "webhook Service selector")

			configs := append(objs.ofKind("MutatingWebhookConfiguration"), objs.ofKind("ValidatingWebhookConfiguration")...)
			g.Expect(configs).To(HaveLen(2))
			var caBundles []string
			total := 0
			for _, cfg := range configs {
				webhooks := field(t, cfg, "webhooks").([]any)
				total += len(webhooks)
				for _, w := range webhooks {
					g.Expect(field(t, w, "clientConfig.service")).To(SatisfyAll(
						HaveKeyWithValue("name", svc.GetName()),
						HaveKeyWithValue("namespace", namespace),
						HaveKeyWithValue("path", paths[field(t, w, "name").(string)]),
						Not(HaveKey("port")), // 443, the Service's port
					), cfg.GetName())
					if ca, ok := field(t, w, "clientConfig").(map[string]any)["caBundle"]; ok {
						caBundles = append(caBundles, ca.(string))
					}
				}
			}
			g.Expect(total).To(Equal(len(paths)), "every generated webhook, once")

			if certManager {
				cert := objs.get(t, "Certificate", "shift-kube-shift-serving-cert")
				g.Expect(cert.GetNamespace()).To(Equal(namespace))
				g.Expect(field(t, cert, "spec.secretName")).To(Equal(secretName))
				g.Expect(strs(t, field(t, cert, "spec.dnsNames"))).To(ContainElement("shift-kube-shift-webhook-service.db-ops.svc"))
				issuer := objs.get(t, "Issuer", field(t, cert, "spec.issuerRef.name").(string))
				g.Expect(issuer.GetNamespace()).To(Equal(namespace))
				for _, cfg := range configs {
					g.Expect(cfg.GetAnnotations()).To(HaveKeyWithValue("cert-manager.io/inject-ca-from", "db-ops/shift-kube-shift-serving-cert"))
				}
				g.Expect(caBundles).To(BeEmpty(), "cert-manager's CA injector sets the caBundle")
				g.Expect(objs.ofKind("Secret")).To(BeEmpty())
				return
			}

			g.Expect(objs.kinds()).NotTo(HaveKey("Certificate"))
			g.Expect(objs.kinds()).NotTo(HaveKey("Issuer"))
			for _, cfg := range configs {
				g.Expect(cfg.GetAnnotations()).NotTo(HaveKey("cert-manager.io/inject-ca-from"))
			}
			secret := objs.get(t, "Secret", secretName)
			g.Expect(secret.GetNamespace()).To(Equal(namespace))
			g.Expect(secret.Object["type"]).To(Equal("kubernetes.io/tls"))
			data := field(t, secret, "data").(map[string]any)
			g.Expect(caBundles).To(HaveLen(len(paths)))
			g.Expect(caBundles).To(HaveEach(data["ca.crt"]), "the caBundle is the CA in the Secret")

			// The serving certificate chains to that CA for the Service's name.
			roots := x509.NewCertPool()
			g.Expect(roots.AppendCertsFromPEM(b64(t, caBundles[0]))).To(BeTrue())
			block, _ := pem.Decode(b64(t, data["tls.crt"].(string)))
			g.Expect(block).NotTo(BeNil())
			serving, err := x509.ParseCertificate(block.Bytes)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = serving.Verify(x509.VerifyOptions{
				Roots:     roots,
				DNSName:   "shift-kube-shift-webhook-service.db-ops.svc",
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			g.Expect(err).NotTo(HaveOccurred())
			key, _ := pem.Decode(b64(t, data["tls.key"].(string)))
			g.Expect(key).NotTo(BeNil())
		})
	}
}

// Each value reaches the flag, environment or objects it names.
func TestChartValues(t *testing.T) {
	appVersion := regexp.MustCompile(`(?m)^appVersion: "?([^"\n]+)"?$`).FindSubmatch(mustRead(t, filepath.Join(chartDir, "Chart.yaml")))
	if appVersion == nil {
		t.Fatal("Chart.yaml has no appVersion")
	}
	const manager = "kube-shift-controller-manager"

	cases := []struct {
		name  string
		set   []string
		check func(t *testing.T, g *WithT, objs objects, args []string, container any)
	}{{
		name: "defaults",
		check: func(t *testing.T, g *WithT, objs objects, args []string, container any) {
			g.Expect(objs.kinds()).To(Equal(map[string]int{
				"CustomResourceDefinition": 4, "ServiceAccount": 1,
				"ClusterRole": 9, "ClusterRoleBinding": 2, "Role": 1, "RoleBinding": 1,
				"Deployment": 3, "Service": 4, "NetworkPolicy": 1,
				"Issuer": 1, "Certificate": 1,
				"MutatingWebhookConfiguration": 1, "ValidatingWebhookConfiguration": 1,
			}))
			g.Expect(field(t, container, "image")).To(Equal("ghcr.io/mohit-nagaraj/kube-shift:" + string(appVersion[1])))
			g.Expect(args).To(ContainElement("--leader-elect"))
			g.Expect(args).NotTo(ContainElement("--allow-auto-approval"))
			g.Expect(args).NotTo(ContainElement("--require-tracked-sources"))
			g.Expect(args).NotTo(ContainElement(HavePrefix("--allow-sql")))
			g.Expect(field(t, objs.get(t, "Deployment", manager), "spec.replicas")).To(BeEquivalentTo(2))
			// Restricted: what the restricted Pod Security Standard asks.
			g.Expect(field(t, container, "securityContext")).To(Equal(map[string]any{
				"runAsNonRoot": true, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
				"capabilities":   map[string]any{"drop": []any{"ALL"}},
				"seccompProfile": map[string]any{"type": "RuntimeDefault"},
			}))
			g.Expect(field(t, container, "env")).To(ConsistOf(
				map[string]any{"name": "POD_NAMESPACE", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.namespace"}}},
				memoryLimitEnv,
				map[string]any{"name": "KUBE_SHIFT_DEV_DATABASE_POSTGRES", "value": "postgres://postgres@kube-shift-devdb-postgres:5432/postgres?sslmode=disable"},
				map[string]any{"name": "KUBE_SHIFT_DEV_DATABASE_MYSQL", "value": "mysql://root@kube-shift-devdb-mariadb:3306/"},
			))
		},
	}, {
		name: "image, replicas, scheduling",
		set: []string{"image.repository=registry.example/kube-shift", "image.tag=v9.9.9", "replicas=3",
			"nodeSelector.pool=system", "tolerations[0].key=dedicated", "tolerations[0].operator=Exists"},
		check: func(t *testing.T, g *WithT, objs objects, _ []string, container any) {
			deploy := objs.get(t, "Deployment", manager)
			g.Expect(field(t, container, "image")).To(Equal("registry.example/kube-shift:v9.9.9"))
			g.Expect(field(t, deploy, "spec.replicas")).To(BeEquivalentTo(3))
			g.Expect(field(t, deploy, "spec.template.spec.nodeSelector")).To(Equal(map[string]any{"pool": "system"}))
			g.Expect(field(t, deploy, "spec.template.spec.tolerations")).To(Equal([]any{map[string]any{"key": "dedicated", "operator": "Exists"}}))
		},
	}, {
		name: "approval, SQL kinds and extra flags",
		set:  []string{"allowAutoApproval=true", "allowSQL={role,file}", "requireTrackedSources=true", "extraArgs={--zap-log-level=debug}"},
		check: func(t *testing.T, g *WithT, _ objects, args []string, _ any) {
			g.Expect(args).To(ContainElements("--allow-auto-approval", "--allow-sql=role,file", "--require-tracked-sources", "--zap-log-level=debug"))
		},
	}, {
		name: "no leader election",
		set:  []string{"leaderElection.enabled=false", "replicas=1"},
		check: func(t *testing.T, g *WithT, objs objects, args []string, _ any) {
			g.Expect(args).NotTo(ContainElement("--leader-elect"))
			g.Expect(objs.kinds()).NotTo(HaveKey("Role"))
			g.Expect(objs.kinds()).NotTo(HaveKey("RoleBinding"))
		},
	}, {
		name: "no metrics",
		set:  []string{"metrics.enabled=false", "serviceMonitor.enabled=true"},
		check: func(t *testing.T, g *WithT, objs objects, args []string, _ any) {
			g.Expect(args).To(ContainElement("--metrics-bind-address=0"))
			g.Expect(objs.keys()).NotTo(ContainElement(ContainSubstring("metrics")))
			g.Expect(objs.kinds()).NotTo(HaveKey("ServiceMonitor"))
		},
	}, {
		name: "plain HTTP metrics with a ServiceMonitor",
		set:  []string{"metrics.secure=false", "metrics.port=8080", "serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom"},
		check: func(t *testing.T, g *WithT, objs objects, args []string, container any) {
			g.Expect(args).To(ContainElements("--metrics-bind-address=:8080", "--metrics-secure=false"))
			g.Expect(field(t, container, "ports.name=http-metrics.containerPort")).To(BeEquivalentTo(8080))
			svc := objs.get(t, "Service", "kube-shift-controller-manager-metrics-service")
			g.Expect(field(t, svc, "spec.ports.0")).To(Equal(map[string]any{"name": "http", "port": int64(8080), "protocol": "TCP", "targetPort": int64(8080)}))
			monitor := objs.get(t, "ServiceMonitor", "kube-shift-controller-manager-metrics-monitor")
			g.Expect(monitor.GetLabels()).To(HaveKeyWithValue("release", "prom"))
			g.Expect(field(t, monitor, "spec.endpoints.0")).To(Equal(map[string]any{"path": "/metrics", "port": "http", "scheme": "http"}))
			// Nothing to authorize: no token or access reviews for scrapes.
			g.Expect(objs.keys()).NotTo(ContainElement(ContainSubstring("metrics-auth")))
		},
	}, {
		name: "external dev servers from a Secret",
		set:  []string{"devDatabases.postgres.enabled=false", "devDatabases.mariadb.enabled=false", "devDatabases.external.secretName=dev-urls"},
		check: func(t *testing.T, g *WithT, objs objects, _ []string, container any) {
			g.Expect(objs.ofKind("Deployment").keys()).To(Equal([]string{"Deployment/kube-shift-system/" + manager}))
			g.Expect(objs.kinds()).NotTo(HaveKey("NetworkPolicy"))
			g.Expect(objs.keys()).NotTo(ContainElement(ContainSubstring("devdb")))
			ref := func(key string) map[string]any {
				return map[string]any{"secretKeyRef": map[string]any{"name": "dev-urls", "key": key, "optional": true}}
			}
			g.Expect(field(t, container, "env")).To(ConsistOf(
				map[string]any{"name": "POD_NAMESPACE", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.namespace"}}},
				memoryLimitEnv,
				map[string]any{"name": "KUBE_SHIFT_DEV_DATABASE_POSTGRES", "valueFrom": ref("postgres")},
				map[string]any{"name": "KUBE_SHIFT_DEV_DATABASE_MYSQL", "valueFrom": ref("mysql")},
			))
		},
	}, {
		name: "one engine's dev server external",
		set:  []string{"devDatabases.mariadb.enabled=false", "devDatabases.external.secretName=dev-urls"},
		check: func(t *testing.T, g *WithT, objs objects, _ []string, container any) {
			g.Expect(objs.keys()).NotTo(ContainElement(ContainSubstring("devdb-mariadb")))
			objs.get(t, "Deployment", "kube-shift-devdb-postgres")
			objs.get(t, "NetworkPolicy", "kube-shift-devdb-from-manager-only")
			g.Expect(field(t, container, "env.name=KUBE_SHIFT_DEV_DATABASE_POSTGRES.value")).To(ContainSubstring("kube-shift-devdb-postgres"))
			g.Expect(field(t, container, "env.name=KUBE_SHIFT_DEV_DATABASE_MYSQL.valueFrom.secretKeyRef.name")).To(Equal("dev-urls"))
		},
	}, {
		name: "an existing issuer",
		set:  []string{"certManager.issuerRef.kind=ClusterIssuer", "certManager.issuerRef.name=corp-ca"},
		check: func(t *testing.T, g *WithT, objs objects, _ []string, _ any) {
			g.Expect(objs.kinds()).NotTo(HaveKey("Issuer"))
			cert := objs.get(t, "Certificate", "kube-shift-serving-cert")
			g.Expect(field(t, cert, "spec.issuerRef")).To(Equal(map[string]any{"kind": "ClusterIssuer", "name": "corp-ca"}))
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := helmTemplate(t, kustomizeRelease, kustomizeNamespace, tc.set...)
			container := field(t, objs.get(t, "Deployment", manager), "spec.template.spec.containers.name=manager")
			tc.check(t, NewWithT(t), objs, strs(t, field(t, container, "args")), container)
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// allowSQL's schema names the kinds the manager's --allow-sql accepts, so a
// typo fails at helm install rather than crash-looping the manager.
func TestChartSchemaKnowsTheSQLKinds(t *testing.T) {
	g := NewWithT(t)
	var schema struct {
		Properties struct {
			AllowSQL struct {
				Items struct {
					Enum []string `json:"enum"`
				} `json:"items"`
			} `json:"allowSQL"`
		} `json:"properties"`
	}
	g.Expect(json.Unmarshal(mustRead(t, filepath.Join(chartDir, "values.schema.json")), &schema)).To(Succeed())
	kinds := make([]string, len(sqlstatic.AllReaches))
	for i, r := range sqlstatic.AllReaches {
		kinds[i] = string(r)
	}
	g.Expect(schema.Properties.AllowSQL.Items.Enum).To(Equal(kinds))
}
