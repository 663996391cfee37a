package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// managerProcess is a kube-shift manager the specs run themselves, as a
// local process against the local control plane, so they can kill it at the
// moment they choose.
type managerProcess struct {
	name      string
	cmd       *exec.Cmd
	logPath   string
	probePort int
	exited    chan struct{}
}

// managerOptions say how to run a manager.
type managerOptions struct {
	// webhooks serves the admission webhooks the control plane registered;
	// only one manager at a time can hold their port.
	webhooks bool
	// args are further flags (--leader-elect, ...).
	args []string
}

// localState is the state directory of hack/local-up.sh.
func localState(parts ...string) string {
	return filepath.Join(append([]string{repoRoot, "bin", "local"}, parts...)...)
}

// webhookEnv reads bin/local/webhook.env: where the API server expects the
// webhook server and the certificate it trusts.
func webhookEnv() map[string]string {
	GinkgoHelper()
	f, err := os.Open(localState("webhook.env"))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	for _, k := range []string{"WEBHOOK_HOST", "WEBHOOK_PORT", "WEBHOOK_CERT_DIR"} {
		Expect(env).To(HaveKey(k), "webhook.env has no %s", k)
	}
	return env
}

// managerArgs are the flags hack/local-up.sh runs the manager with. In the
// deployed mode they are the Deployment container's (bin/local/pod/
// container.args), followed by the ones that let several managers run here
// at once: a probe port of its own, no metrics listener, no leader election
// unless o.args asks for it; the last of a repeated flag wins.
func managerArgs(probePort int, o managerOptions) []string {
	GinkgoHelper()
	if deployed {
		args := append(podFileLines("container.args"), "--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(probePort),
			"--metrics-bind-address=0", "--leader-elect=false", "--sqlite-root", os.TempDir())
		if !o.webhooks {
			args = append(args, "--enable-webhooks=false")
		}
		return append(args, o.args...)
	}
	// SQLite files are the tests' temporary ones, as local-up allows.
	args := []string{"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort), "--metrics-bind-address", "0", "--sqlite-root", os.TempDir()}
	if o.webhooks {
		env := webhookEnv()
		args = append(args, "--webhook-host", env["WEBHOOK_HOST"], "--webhook-port", env["WEBHOOK_PORT"],
			"--webhook-cert-dir", env["WEBHOOK_CERT_DIR"])
	} else {
		args = append(args, "--enable-webhooks=false")
	}
	return append(args, o.args...)
}

// podFileLines reads a file podstandin wrote for the manager's container
// (bin/local/pod/NAME), one entry per line.
func podFileLines(name string) []string {
	GinkgoHelper()
	b, err := os.ReadFile(localState("pod", name))
	Expect(err).NotTo(HaveOccurred(), "the deployed mode's pod files (hack/podstandin)")
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// managerEnv is the manager's environment: in the deployed mode the
// container's env, whose KUBECONFIG holds the ServiceAccount's token.
func managerEnv() []string {
	GinkgoHelper()
	if deployed {
		return append(os.Environ(), podFileLines("container.env")...)
	}
	return append(os.Environ(), "KUBECONFIG="+kubeconfig)
}

// startManager runs bin/manager (built by hack/local-up.sh from this tree)
// in bin/local/data, as local-up does, and waits until it reports ready.
func startManager(name string, o managerOptions) *managerProcess {
	GinkgoHelper()
	m := &managerProcess{name: name, probePort: freePort(), exited: make(chan struct{})}
	m.logPath = filepath.Join(GinkgoT().TempDir(), name+".log")
	logFile, err := os.Create(m.logPath)
	Expect(err).NotTo(HaveOccurred())
	defer logFile.Close()

	Expect(os.MkdirAll(localState("data"), 0o755)).To(Succeed())
	m.cmd = exec.Command(filepath.Join(repoRoot, "bin", "manager"), managerArgs(m.probePort, o)...)
	m.cmd.Dir = localState("data")
	m.cmd.Env = managerEnv()
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	// Its own process group: an interrupt of the test run is not its signal.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	Expect(m.cmd.Start()).To(Succeed())
	go func() {
		_ = m.cmd.Wait()
		close(m.exited)
	}()
	GinkgoWriter.Printf("started manager %s (pid %d, log %s)\n", name, m.cmd.Process.Pid, m.logPath)
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			m.dumpLog()
		}
		m.kill()
		// What a spec's own manager logged is gone with its directory.
		expectNoSecretsInFile(m.logPath)
	})

	Eventually(func(g Gomega) {
		g.Expect(m.running()).To(BeTrue(), "manager %s exited:\n%s", name, m.logTail())
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", m.probePort))
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	}).Should(Succeed(), "manager %s is not ready", name)
	if o.webhooks {
		// Ready is not yet trusted: right after a renewal of the serving
		// certificate (the deployed suite renews it), the API server's
		// caBundle can lag the certificate this manager loaded.
		probe := sqliteManifest("admission-probe", filepath.Join(os.TempDir(), "admission-probe.db"), "CREATE TABLE probe (id INTEGER PRIMARY KEY);")
		Eventually(func() error {
			if out, err := kubectlStdin(probe, "create", "--dry-run=server", "-f", "-"); err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
			return nil
		}).Should(Succeed(), "the API server does not admit through manager %s's webhooks", name)
	}
	return m
}

func (m *managerProcess) pid() int { return m.cmd.Process.Pid }

func (m *managerProcess) running() bool {
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// kill ends the manager with SIGKILL, as an OOM kill or a lost node would:
// no deferred function, no lease release, no goodbye to the database.
func (m *managerProcess) kill() {
	GinkgoHelper()
	if !m.running() {
		return
	}
	Expect(m.cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
	Eventually(m.exited).Should(BeClosed(), "manager %s survived SIGKILL", m.name)
	GinkgoWriter.Printf("killed manager %s (pid %d)\n", m.name, m.pid())
}

// logText is the manager's whole log so far.
func (m *managerProcess) logText() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

func (m *managerProcess) logTail() string {
	lines := strings.Split(strings.TrimRight(m.logText(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

func (m *managerProcess) dumpLog() {
	GinkgoWriter.Printf("--- last lines of manager %s's log ---\n%s\n", m.name, m.logTail())
}

// stopSuiteManager stops the manager hack/local-up.sh started, so that only
// the specs' own managers reconcile. restoreSuiteManager puts one back.
func stopSuiteManager() {
	GinkgoHelper()
	pid := suiteManagerPid()
	if pid == 0 {
		return
	}
	Expect(syscall.Kill(pid, syscall.SIGTERM)).To(Succeed())
	Eventually(func() bool { return processAlive(pid) }).WithTimeout(60*time.Second).Should(BeFalse(),
		"the suite's manager (pid %d) did not stop", pid)
	GinkgoWriter.Printf("stopped the suite's manager (pid %d)\n", pid)
}

// restoreSuiteManager starts a manager as hack/local-up.sh does (which only
// says "already running" while the control plane is up), detached from the
// test process, with its pid in bin/local/manager.pid so that
// hack/local-down.sh stops it with the rest.
func restoreSuiteManager() {
	GinkgoHelper()
	if suiteManagerPid() != 0 {
		return
	}
	probePort := freePort()
	args := managerArgs(probePort, managerOptions{webhooks: true})
	if deployed {
		// As the Deployment runs it (its probe and metrics ports), with
		// the SQLite root deploy-local gives it.
		args = append(podFileLines("container.args"), "--sqlite-root", os.TempDir())
		b, err := os.ReadFile(localState("manager.probe-port"))
		Expect(err).NotTo(HaveOccurred())
		probePort, err = strconv.Atoi(strings.TrimSpace(string(b)))
		Expect(err).NotTo(HaveOccurred())
	}
	logFile, err := os.OpenFile(localState("manager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	Expect(err).NotTo(HaveOccurred())
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(repoRoot, "bin", "manager"), args...)
	cmd.Dir = localState("data")
	cmd.Env = managerEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	Expect(cmd.Start()).To(Succeed())
	pid := cmd.Process.Pid
	// Reap it if it exits while the suite still runs; local-down stops it.
	go func() { _ = cmd.Wait() }()
	Expect(os.WriteFile(localState("manager.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644)).To(Succeed())
	Expect(os.WriteFile(localState("manager.probe-port"), []byte(strconv.Itoa(probePort)+"\n"), 0o644)).To(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(processAlive(pid)).To(BeTrue(), "the restored manager exited; see bin/local/manager.log")
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort))
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	}).Should(Succeed())
	GinkgoWriter.Printf("restored the suite's manager (pid %d)\n", pid)
}

// suiteManagerPid is the pid in bin/local/manager.pid when that process is
// alive and still a manager, else 0.
func suiteManagerPid() int {
	GinkgoHelper()
	b, err := os.ReadFile(localState("manager.pid"))
	if os.IsNotExist(err) {
		return 0
	}
	Expect(err).NotTo(HaveOccurred())
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	Expect(err).NotTo(HaveOccurred(), "bin/local/manager.pid")
	if !processAlive(pid) {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "manager") {
		return 0
	}
	return pid
}

// processAlive: the process exists and is not a zombie waiting to be reaped
// (the suite's manager is not our child, so we cannot reap it).
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// freePort asks the kernel for a loopback port nobody listens on.
func freePort() int {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
