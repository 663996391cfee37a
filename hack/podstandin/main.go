// Command podstandin stands in for the kubelet of a node that would run one
// Deployment's pod, on a control plane with no nodes (the local control
// plane's deployed mode, hack/local-up.sh with LOCAL_DEPLOYED=1). It does for
// a local process what the kubelet does for the pod's container, and no more:
//
//   - requests a token of the pod's ServiceAccount (TokenRequest API) and
//     keeps it fresh in DIR/token, with DIR/kubeconfig naming it as its
//     tokenFile: the process authenticates as the ServiceAccount, never as
//     the admin that runs podstandin;
//   - writes each Secret volume the container mounts into DIR/volumes/NAME
//     as the kubelet does (files behind a ..data symlink swapped atomically),
//     and writes them again when the Secret changes, so a rotated
//     certificate reaches the files the process watches; emptyDir volumes
//     are empty directories;
//   - writes the container's args (DIR/container.args, one per line) with
//     every mount path turned into its local directory (and
//     --leader-election-namespace standing in for the ServiceAccount
//     volume's namespace file), and its env
//     (DIR/container.env, NAME=VALUE per line), each value of -env-file
//     replacing the value of the same name (in-cluster addresses that
//     resolve to nothing here);
//   - publishes an EndpointSlice for every Service that selects the pod,
//     with the address -pod-ip (this host's, loopback being refused by the
//     API server) and the container ports its target ports
//     name, so that the API server (--enable-aggregator-routing) reaches
//     the webhook Service, and a client the metrics Service, as in a
//     cluster.
//
// DIR/ready is written once all of that is in place. It runs until SIGINT
// or SIGTERM, then deletes its EndpointSlices.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// managedBy marks the EndpointSlices podstandin owns.
const managedBy = "podstandin.kube-shift.local"

type standin struct {
	client     kubernetes.Interface
	admin      *rest.Config
	namespace  string
	deployment string
	container  string
	dir        string
	podIP      string
	envFile    string
	tokenTTL   time.Duration

	tokenExpiry time.Time
	secrets     map[string]string // volume name -> resourceVersion written
	slices      []string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "podstandin:", err)
		os.Exit(1)
	}
}

func run() error {
	s := &standin{secrets: map[string]string{}}
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig podstandin itself uses (the kubelet's rights: read the Deployment and Secrets, request tokens, write EndpointSlices)")
	flag.StringVar(&s.namespace, "namespace", "", "namespace of the Deployment")
	flag.StringVar(&s.deployment, "deployment", "", "the Deployment whose pod to stand in for")
	flag.StringVar(&s.container, "container", "manager", "the container of the pod the local process is")
	flag.StringVar(&s.dir, "dir", "", "state directory (token, kubeconfig, volumes/, container.args, container.env, ready)")
	flag.StringVar(&s.podIP, "pod-ip", "", "the address published in the EndpointSlices, one the local process listens on (default: this host's first non-loopback IPv4 address; the API server refuses loopback endpoints)")
	flag.StringVar(&s.envFile, "env-file", "", "file of NAME=VALUE lines (`export` and quotes allowed) replacing the container's env values of the same names")
	flag.DurationVar(&s.tokenTTL, "token-ttl", time.Hour, "lifetime of the requested ServiceAccount tokens; each is renewed at 80% of it")
	interval := flag.Duration("sync-interval", time.Second, "how often Secrets and the token are checked")
	flag.Parse()
	if s.namespace == "" || s.deployment == "" || s.dir == "" {
		return errors.New("-namespace, -deployment and -dir are required")
	}
	if s.podIP == "" {
		ip, err := hostIP()
		if err != nil {
			return err
		}
		s.podIP = ip
	}
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return err
	}
	s.dir = dir
	if s.admin, err = clientcmd.BuildConfigFromFlags("", *kubeconfig); err != nil {
		return err
	}
	if s.client, err = kubernetes.NewForConfig(s.admin); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pod, ctr, err := s.podSpec(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "volumes"), 0o700); err != nil {
		return err
	}
	readyFile := filepath.Join(s.dir, "ready")
	_ = os.Remove(readyFile)
	defer func() { _ = os.Remove(readyFile) }()

	ready := false
	for {
		err := s.sync(ctx, pod, ctr)
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "podstandin:", err)
		case !ready:
			if err := os.WriteFile(readyFile, []byte("ready\n"), 0o644); err != nil {
				return err
			}
			ready = true
			fmt.Fprintf(os.Stderr, "podstandin: ready: %s/%s container %s as ServiceAccount %s\n", s.namespace, s.deployment, s.container, pod.Spec.ServiceAccountName)
		}
		select {
		case <-ctx.Done():
			return s.cleanup()
		case <-time.After(*interval):
		}
	}
}

// podSpec reads the Deployment's pod template and the container.
func (s *standin) podSpec(ctx context.Context) (corev1.PodTemplateSpec, corev1.Container, error) {
	d, err := s.client.AppsV1().Deployments(s.namespace).Get(ctx, s.deployment, metav1.GetOptions{})
	if err != nil {
		return corev1.PodTemplateSpec{}, corev1.Container{}, err
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == s.container {
			return d.Spec.Template, c, nil
		}
	}
	return corev1.PodTemplateSpec{}, corev1.Container{}, fmt.Errorf("deployment %s/%s has no container %q", s.namespace, s.deployment, s.container)
}

// sync does one round of the kubelet's work; everything in it is idempotent.
func (s *standin) sync(ctx context.Context, pod corev1.PodTemplateSpec, ctr corev1.Container) error {
	if err := s.refreshToken(ctx, pod.Spec.ServiceAccountName); err != nil {
		return err
	}
	mounts, err := s.syncVolumes(ctx, pod.Spec.Volumes, ctr.VolumeMounts)
	if err != nil {
		return err
	}
	if err := s.writeContainer(ctr, mounts); err != nil {
		return err
	}
	return s.syncEndpointSlices(ctx, pod, ctr)
}

// refreshToken requests a new ServiceAccount token when the current one has
// lived 80% of its time, and writes the kubeconfig that reads it.
func (s *standin) refreshToken(ctx context.Context, sa string) error {
	if sa == "" {
		sa = "default"
	}
	if time.Until(s.tokenExpiry) > s.tokenTTL/5 {
		return nil
	}
	ttl := int64(s.tokenTTL / time.Second)
	tr, err := s.client.CoreV1().ServiceAccounts(s.namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token of ServiceAccount %s/%s: %w", s.namespace, sa, err)
	}
	tokenFile := filepath.Join(s.dir, "token")
	if err := writeAtomic(tokenFile, []byte(tr.Status.Token), 0o600); err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{
		Server:                   s.admin.Host,
		CertificateAuthorityData: s.admin.CAData,
		CertificateAuthority:     s.admin.CAFile,
	}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{TokenFile: tokenFile}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: sa, Namespace: s.namespace}
	cfg.CurrentContext = "local"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(s.dir, "kubeconfig"), b, 0o600); err != nil {
		return err
	}
	s.tokenExpiry = tr.Status.ExpirationTimestamp.Time
	return nil
}

// mount is a container mount path and the local directory standing for it.
type mount struct{ path, dir string }

// syncVolumes writes the Secret and emptyDir volumes the container mounts
// and returns the mounts, longest path first.
func (s *standin) syncVolumes(ctx context.Context, volumes []corev1.Volume, mounts []corev1.VolumeMount) ([]mount, error) {
	var out []mount
	for _, m := range mounts {
		i := slices.IndexFunc(volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			return nil, fmt.Errorf("volume mount %s names no volume", m.Name)
		}
		v := volumes[i]
		dir := filepath.Join(s.dir, "volumes", v.Name)
		switch {
		case v.Secret != nil:
			if err := s.syncSecret(ctx, v.Name, v.Secret, dir); err != nil {
				return nil, err
			}
		case v.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("volume %s: only secret and emptyDir volumes are stood in for", v.Name)
		}
		out = append(out, mount{path: m.MountPath, dir: filepath.Join(dir, m.SubPath)})
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].path) > len(out[j].path) })
	return out, nil
}

// syncSecret writes a Secret volume as the kubelet's atomic writer does:
// the keys in a fresh timestamped directory, the ..data symlink swapped to
// it in one rename, each key a symlink through ..data.
func (s *standin) syncSecret(ctx context.Context, volume string, src *corev1.SecretVolumeSource, dir string) error {
	secret, err := s.client.CoreV1().Secrets(s.namespace).Get(ctx, src.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && src.Optional != nil && *src.Optional {
		secret, err = &corev1.Secret{}, nil
	}
	if err != nil {
		return fmt.Errorf("secret volume %s: %w", volume, err)
	}
	if s.secrets[volume] == secret.ResourceVersion && secret.ResourceVersion != "" {
		return nil
	}
	files := map[string][]byte{}
	if len(src.Items) == 0 {
		for k, v := range secret.Data {
			files[k] = v
		}
	}
	for _, it := range src.Items {
		v, ok := secret.Data[it.Key]
		if !ok {
			return fmt.Errorf("secret volume %s: secret %s has no key %s", volume, src.SecretName, it.Key)
		}
		files[it.Path] = v
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05.")) //nolint:usetesting // not a test
	if err != nil {
		return err
	}
	for name, data := range files {
		p := filepath.Join(ts, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(ts), tmpLink); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for name := range files {
		top := strings.SplitN(name, "/", 2)[0]
		link := filepath.Join(dir, top)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", top) {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			return err
		}
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	if s.secrets[volume] != "" {
		fmt.Fprintf(os.Stderr, "podstandin: secret %s changed (resourceVersion %s): volume %s rewritten\n", src.SecretName, secret.ResourceVersion, volume)
	}
	s.secrets[volume] = secret.ResourceVersion
	return nil
}

// writeContainer writes the container's args and env as the local process
// runs them.
func (s *standin) writeContainer(ctr corev1.Container, mounts []mount) error {
	local := func(arg string) string {
		for _, m := range mounts {
			// The path as a whole value or after "=": --flag=/mount/path/x.
			for _, sep := range []string{"", "="} {
				prefix, rest, ok := "", arg, true
				if sep != "" {
					prefix, rest, ok = strings.Cut(arg, sep)
					prefix += sep
				}
				if ok && (rest == m.path || strings.HasPrefix(rest, m.path+"/")) {
					return prefix + m.dir + strings.TrimPrefix(rest, m.path)
				}
			}
		}
		return arg
	}
	var args strings.Builder
	for _, a := range append(slices.Clone(ctr.Command[min(len(ctr.Command), 1):]), ctr.Args...) {
		if strings.Contains(a, "\n") {
			return fmt.Errorf("container arg %q has a newline", a)
		}
		args.WriteString(local(a) + "\n")
	}
	// The ServiceAccount volume's namespace file, which in-cluster clients
	// read for their own namespace (leader election does), cannot be at its
	// path here: its flag stands in for it, unless the args set it.
	if !strings.Contains(args.String(), "--leader-election-namespace") {
		args.WriteString("--leader-election-namespace=" + s.namespace + "\n")
	}
	if err := writeAtomic(filepath.Join(s.dir, "container.args"), []byte(args.String()), 0o600); err != nil {
		return err
	}

	overrides, err := readEnvFile(s.envFile)
	if err != nil {
		return err
	}
	var env strings.Builder
	for _, e := range ctr.Env {
		v := e.Value
		if e.ValueFrom != nil {
			if v, err = s.fieldValue(e, ctr); err != nil {
				return err
			}
		}
		if o, ok := overrides[e.Name]; ok {
			v = o
		}
		env.WriteString(e.Name + "=" + v + "\n")
	}
	// The container's /tmp, when a volume stands for it.
	for _, m := range mounts {
		if m.path == "/tmp" {
			env.WriteString("TMPDIR=" + m.dir + "\n")
		}
	}
	env.WriteString("KUBECONFIG=" + filepath.Join(s.dir, "kubeconfig") + "\n")
	return writeAtomic(filepath.Join(s.dir, "container.env"), []byte(env.String()), 0o600)
}

// fieldValue is what the kubelet gives an env var from the pod's own
// fields (the downward API): its namespace, name and address, and the
// container's resources. Other sources are not stood in for.
func (s *standin) fieldValue(e corev1.EnvVar, ctr corev1.Container) (string, error) {
	if ref := e.ValueFrom.ResourceFieldRef; ref != nil {
		return resourceValue(e.Name, ref, ctr)
	}
	ref := e.ValueFrom.FieldRef
	if ref == nil {
		return "", fmt.Errorf("env %s: only valueFrom.fieldRef and resourceFieldRef are stood in for", e.Name)
	}
	switch ref.FieldPath {
	case "metadata.namespace":
		return s.namespace, nil
	case "metadata.name":
		return s.deployment + "-standin", nil
	case "status.podIP":
		return s.podIP, nil
	}
	return "", fmt.Errorf("env %s: fieldRef %s is not stood in for", e.Name, ref.FieldPath)
}

// resourceValue is a container's request or limit as the kubelet gives
// it: the quantity over the divisor (1 by default), rounded up. A limit
// the container does not set would be the node's allocatable; the stand-in
// has no node, so it refuses it.
func resourceValue(name string, ref *corev1.ResourceFieldSelector, ctr corev1.Container) (string, error) {
	if ref.ContainerName != "" && ref.ContainerName != ctr.Name {
		return "", fmt.Errorf("env %s: resourceFieldRef of container %q, not %q", name, ref.ContainerName, ctr.Name)
	}
	kind, res, ok := strings.Cut(ref.Resource, ".")
	var list corev1.ResourceList
	switch kind {
	case "limits":
		list = ctr.Resources.Limits
	case "requests":
		list = ctr.Resources.Requests
	}
	q, set := list[corev1.ResourceName(res)]
	if !ok || list == nil || !set {
		return "", fmt.Errorf("env %s: resourceFieldRef %s is not set on the container, and the stand-in has no node to take it from", name, ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	// Exact for what a manifest sets: milli-units over milli-units.
	value := (q.MilliValue() + divisor.MilliValue() - 1) / divisor.MilliValue()
	return strconv.FormatInt(value, 10), nil
}

// syncEndpointSlices publishes the stand-in's address for every Service in
// the namespace whose selector matches the pod's labels.
func (s *standin) syncEndpointSlices(ctx context.Context, pod corev1.PodTemplateSpec, ctr corev1.Container) error {
	services, err := s.client.CoreV1().Services(s.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ready := true
	for _, svc := range services.Items {
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for _, p := range svc.Spec.Ports {
			port, ok := containerPort(p.TargetPort, p.Port, ctr)
			if !ok {
				continue
			}
			ports = append(ports, discoveryv1.EndpointPort{Name: &p.Name, Protocol: &p.Protocol, Port: &port})
		}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name:      svc.Name + "-podstandin",
				Namespace: s.namespace,
				Labels: map[string]string{
					discoveryv1.LabelServiceName: svc.Name,
					discoveryv1.LabelManagedBy:   managedBy,
				},
			},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{s.podIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
			Ports:       ports,
		}
		cur, err := s.client.DiscoveryV1().EndpointSlices(s.namespace).Get(ctx, slice.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := s.client.DiscoveryV1().EndpointSlices(s.namespace).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("endpointslice for service %s: %w", svc.Name, err)
			}
			fmt.Fprintf(os.Stderr, "podstandin: service %s -> %s %s\n", svc.Name, s.podIP, portList(ports))
		case err != nil:
			return err
		default:
			slice.ResourceVersion = cur.ResourceVersion
			if _, err := s.client.DiscoveryV1().EndpointSlices(s.namespace).Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		if !slices.Contains(s.slices, slice.Name) {
			s.slices = append(s.slices, slice.Name)
		}
	}
	return nil
}

// containerPort resolves a Service's target port against the container.
func containerPort(target intstr.IntOrString, servicePort int32, ctr corev1.Container) (int32, bool) {
	switch {
	case target.Type == intstr.String && target.StrVal != "":
		for _, p := range ctr.Ports {
			if p.Name == target.StrVal {
				return p.ContainerPort, true
			}
		}
		return 0, false
	case target.IntVal != 0:
		return target.IntVal, true
	default:
		return servicePort, true
	}
}

func portList(ports []discoveryv1.EndpointPort) string {
	var ss []string
	for _, p := range ports {
		ss = append(ss, strconv.Itoa(int(*p.Port)))
	}
	return strings.Join(ss, ",")
}

// cleanup deletes the EndpointSlices: the pod is gone.
func (s *standin) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, name := range s.slices {
		err := s.client.DiscoveryV1().EndpointSlices(s.namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readEnvFile reads NAME=VALUE lines; a leading `export` and quotes around
// the value are allowed, as in a file written for `source`.
func readEnvFile(path string) (map[string]string, error) {
	env := map[string]string{}
	if path == "" {
		return env, nil
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return env, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	return env, sc.Err()
}

// hostIP is this host's first non-loopback IPv4 address: the pod's address
// here. EndpointSlice validation refuses 127.0.0.0/8, and the container's
// listeners bind every interface as they would in a pod.
func hostIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address on this host to publish as the pod's address; pass -pod-ip")
}

// writeAtomic replaces path with data in one rename.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
