package main

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// machine is what a reader needs to weigh the figures: where and when
// they were measured, under which load, against which versions.
type machine struct {
	date                 time.Time
	took                 time.Duration
	cores                int
	cpu, memory          string
	loadStart, loadEnd   string
	goVersion            string
	postgres, mariadb    string
	sqlite               string
	psql, mysql, sqlite3 string
}

func describeMachine(root string) *machine {
	m := &machine{
		date:      time.Now().UTC(),
		cores:     runtime.NumCPU(),
		cpu:       procField("/proc/cpuinfo", "model name"),
		memory:    memory(),
		loadStart: loadAverage(),
		goVersion: firstLine(command(root, "go", "env", "GOVERSION")),
		sqlite:    strings.TrimPrefix(firstLine(command(root, "go", "list", "-m", "modernc.org/sqlite")), "modernc.org/sqlite "),
		psql:      firstLine(command(root, pgTool("psql"), "--version")),
		mysql:     firstLine(command(root, "mysql", "--version")),
		sqlite3:   strings.Join(first(strings.Fields(command(root, "sqlite3", "--version")), 2), " "),
	}
	m.postgres = firstLine(command(root, pgTool("psql"), os.Getenv("KUBE_SHIFT_TEST_POSTGRES_URL"), "-Atc", "SHOW server_version"))
	m.mariadb = mysqlVersion(root, os.Getenv("KUBE_SHIFT_TEST_MYSQL_URL"))
	return m
}

func (m *machine) finish(took time.Duration) {
	m.took = took
	m.loadEnd = loadAverage()
}

// procField is the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memory is the machine's memory in GiB.
func memory() string {
	var kb float64
	if _, err := fmt.Sscanf(procField("/proc/meminfo", "MemTotal"), "%f kB", &kb); err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.0f GiB", kb/(1<<20))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// loadAverage is the 1, 5 and 15-minute load average.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// command runs name in dir and returns its output, or "unknown".
func command(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// pgTool finds a PostgreSQL program on PATH or in pg_config's bindir.
func pgTool(name string) string {
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	if dir := command(".", "pg_config", "--bindir"); dir != "unknown" {
		return filepath.Join(dir, name)
	}
	return name
}

// mysqlVersion asks the server of a mysql:// URL its version, the
// password passed in the environment.
func mysqlVersion(dir, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return "unknown"
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cmd := exec.Command("mysql", "--protocol=TCP", "--host="+u.Hostname(), "--port="+port, "--user="+u.User.Username(), "-N", "-B", "-e", "SELECT VERSION()")
	cmd.Dir = dir
	pass, _ := u.User.Password()
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+pass)
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
