// Command localcluster runs a local Kubernetes control plane (etcd and
// kube-apiserver, no nodes) for people and for the e2e tests in local mode.
//
// It uses controller-runtime's envtest with the binaries that
// hack/envtest-assets.sh builds, installs the CRDs found in config/crd/bases
// (none if that directory is missing or empty), provisions an admin user
// (group system:masters) and writes, under the state directory (bin/local by
// default):
//
//	kubeconfig          admin kubeconfig for the API server
//	ready               written once the API server serves and the CRDs are in
//	etcd/               etcd data (kept across restarts)
//	certs/              API server certificates (made fresh on every start)
//	kube-apiserver.log  API server output
//	etcd.log            etcd output
//	webhook.env         WEBHOOK_HOST, WEBHOOK_PORT and WEBHOOK_CERT_DIR for
//	                    the manager, when webhook manifests were registered
//
// With -aggregator-routing the API server resolves a webhook Service through
// its EndpointSlices, as the deployed mode needs (pass empty -crds and
// -webhooks there: config/default installs both).
//
// It then blocks until SIGINT or SIGTERM and stops the control plane.
// hack/local-up.sh and hack/local-down.sh start and stop it in the background.
//
// Meanwhile SIGUSR1 kills kube-apiserver alone (SIGKILL, as a crash or a
// lost node would: a graceful stop waits for its clients' requests for
// many seconds; etcd keeps running) and SIGUSR2 starts it again with the
// same flags, port and certificates, so that every client (the manager,
// kubectl, the admin kubeconfig) reconnects to it as it was: the e2e tests
// take the API server away in the middle of an apply that way. The file
// apiserver-stopped in the state directory is there while it is stopped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dir     = flag.String("dir", filepath.Join("bin", "local"), "state directory (kubeconfig, ready marker, etcd data, certificates, logs)")
		assets  = flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory holding kube-apiserver, etcd and kubectl (default $KUBEBUILDER_ASSETS)")
		crdDir  = flag.String("crds", filepath.Join("config", "crd", "bases"), "directory of CRD manifests to install (skipped when missing or empty)")
		hookDir = flag.String("webhooks", filepath.Join("config", "webhook"), "directory of webhook manifests to register against a local webhook server (skipped when missing)")
		timeout = flag.Duration("start-timeout", time.Minute, "how long etcd and the API server may each take to start")
		routing = flag.Bool("aggregator-routing", false, "start kube-apiserver with --enable-aggregator-routing=true, so that it calls webhook Services at their endpoints (the deployed mode: no kube-proxy here)")
	)
	flag.Parse()
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr)))

	if *assets == "" {
		return errors.New("no binaries: pass -assets or set KUBEBUILDER_ASSETS (see hack/envtest-assets.sh)")
	}
	stateDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	readyFile := filepath.Join(stateDir, "ready")
	kubeconfigFile := filepath.Join(stateDir, "kubeconfig")
	certDir := filepath.Join(stateDir, "certs")
	dataDir := filepath.Join(stateDir, "etcd")

	// A stale ready marker or kubeconfig must not be mistaken for this run's.
	// The certificates are always made fresh: envtest reuses a serving
	// certificate it finds but then no longer knows the CA that signed it.
	for _, p := range []string{readyFile, kubeconfigFile, certDir} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	for _, d := range []string{certDir, dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}

	apiserverLog, err := os.Create(filepath.Join(stateDir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	defer closeQuietly(apiserverLog)
	etcdLog, err := os.Create(filepath.Join(stateDir, "etcd.log"))
	if err != nil {
		return err
	}
	defer closeQuietly(etcdLog)

	env := &envtest.Environment{
		BinaryAssetsDirectory: *assets,
		CRDDirectoryPaths:     []string{*crdDir},
		ErrorIfCRDPathMissing: false,
		ControlPlane: envtest.ControlPlane{
			Etcd: &envtest.Etcd{
				DataDir: dataDir,
				Out:     etcdLog,
				Err:     etcdLog,
			},
			APIServer: &envtest.APIServer{
				CertDir: certDir,
				Out:     apiserverLog,
				Err:     apiserverLog,
			},
		},
		ControlPlaneStartTimeout: *timeout,
		WebhookInstallOptions:    localWebhooks(*hookDir),
		ControlPlaneStopTimeout:  30 * time.Second,
	}

	if *routing {
		env.ControlPlane.APIServer.Configure().Append("enable-aggregator-routing", "true")
	}

	// Catch signals from the start, so a TERM during start-up still stops
	// what has been started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintf(os.Stderr, "localcluster: starting etcd and kube-apiserver from %s\n", *assets)
	if _, err := env.Start(); err != nil {
		return errors.Join(fmt.Errorf("starting the control plane: %w", err), stopEnv(env))
	}
	for _, crd := range env.CRDs {
		fmt.Fprintf(os.Stderr, "localcluster: installed CRD %s\n", crd.Name)
	}
	if len(env.CRDs) == 0 {
		fmt.Fprintf(os.Stderr, "localcluster: no CRDs in %s, none installed\n", *crdDir)
	}

	admin, err := env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return errors.Join(fmt.Errorf("provisioning the admin user: %w", err), stopEnv(env))
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return errors.Join(fmt.Errorf("rendering the admin kubeconfig: %w", err), stopEnv(env))
	}
	if err := os.WriteFile(kubeconfigFile, kubeconfig, 0o600); err != nil {
		return errors.Join(err, stopEnv(env))
	}

	// The manager runs as its own process (hack/local-up.sh starts it); it
	// serves the webhooks registered above with the certificate envtest
	// made, signed by a CA only this API server trusts.
	if wh := env.WebhookInstallOptions; len(wh.Paths) > 0 {
		hookEnv := fmt.Sprintf("WEBHOOK_HOST=%s\nWEBHOOK_PORT=%d\nWEBHOOK_CERT_DIR=%s\n", wh.LocalServingHost, wh.LocalServingPort, wh.LocalServingCertDir)
		if err := os.WriteFile(filepath.Join(stateDir, "webhook.env"), []byte(hookEnv), 0o600); err != nil {
			return errors.Join(err, stopEnv(env))
		}
		fmt.Fprintf(os.Stderr, "localcluster: webhooks registered at https://%s:%d\n", wh.LocalServingHost, wh.LocalServingPort)
	}

	if ctx.Err() != nil { // stopped while starting
		return stopEnv(env)
	}
	server := admin.Config().Host
	if err := os.WriteFile(readyFile, []byte(server+"\n"), 0o644); err != nil {
		return errors.Join(err, stopEnv(env))
	}
	fmt.Fprintf(os.Stderr, "localcluster: ready, API server %s, kubeconfig %s\n", server, kubeconfigFile)

	control := make(chan os.Signal, 1)
	signal.Notify(control, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(control)
	stopped := filepath.Join(stateDir, "apiserver-stopped")
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case sig := <-control:
			if err := toggleAPIServer(env.ControlPlane.APIServer, sig == syscall.SIGUSR2, stopped); err != nil {
				fmt.Fprintln(os.Stderr, "localcluster:", err)
			}
		}
	}
	stop()
	fmt.Fprintln(os.Stderr, "localcluster: stopping")
	_ = os.Remove(readyFile)
	if _, err := os.Stat(stopped); err == nil {
		// Stopped on request: envtest stops etcd alone.
		_ = os.Remove(stopped)
	}
	if err := stopEnv(env); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "localcluster: stopped")
	return nil
}

// toggleAPIServer stops kube-apiserver (start false) or starts it again.
// envtest keeps what the restart needs: its secure port, the certificate
// directory with the serving certificate, the service-account keys and the
// client CA every user's certificate is signed by; the flags are built from
// them again as they were. stopped marks the stop for whoever waits on it.
func toggleAPIServer(apiServer *envtest.APIServer, start bool, stopped string) error {
	_, err := os.Stat(stopped)
	isStopped := err == nil
	switch {
	case start && isStopped:
		fmt.Fprintln(os.Stderr, "localcluster: starting kube-apiserver again")
		if err := apiServer.Start(); err != nil {
			return fmt.Errorf("starting kube-apiserver again: %w", err)
		}
		fmt.Fprintln(os.Stderr, "localcluster: kube-apiserver serves again")
		return os.Remove(stopped)
	case !start && !isStopped:
		fmt.Fprintln(os.Stderr, "localcluster: killing kube-apiserver (SIGUSR2 starts it again)")
		if err := killChild("kube-apiserver"); err != nil {
			return err
		}
		// envtest reaps it and forgets it, so that Start starts anew.
		if err := apiServer.Stop(); err != nil {
			return fmt.Errorf("stopping kube-apiserver: %w", err)
		}
		fmt.Fprintln(os.Stderr, "localcluster: kube-apiserver stopped")
		return os.WriteFile(stopped, nil, 0o644)
	}
	return nil
}

// killChild sends SIGKILL to this process's child whose command is name:
// envtest keeps its process to itself.
func killChild(name string) error {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return err
	}
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after it.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		open := strings.IndexByte(s, '(')
		if i < 0 || open < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || s[open+1:i] != name[:min(len(name), 15)] || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
		if err != nil {
			continue
		}
		return syscall.Kill(pid, syscall.SIGKILL)
	}
	return fmt.Errorf("no %s process to kill", name)
}

// localWebhooks registers the webhook configurations in dir, rewritten by
// envtest to call a server on loopback with a self-signed certificate.
func localWebhooks(dir string) envtest.WebhookInstallOptions {
	if _, err := os.Stat(dir); err != nil {
		return envtest.WebhookInstallOptions{}
	}
	return envtest.WebhookInstallOptions{Paths: []string{dir}, LocalServingHost: "127.0.0.1"}
}

// stopEnv stops whatever part of the control plane is running.
func stopEnv(env *envtest.Environment) error {
	if err := env.Stop(); err != nil {
		return fmt.Errorf("stopping the control plane: %w", err)
	}
	return nil
}

func closeQuietly(c io.Closer) { _ = c.Close() }
