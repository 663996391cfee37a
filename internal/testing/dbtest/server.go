package dbtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a database server of a test's own, which the test may kill
// (SIGKILL, as a crash would) and start again on the same port with the
// same data. hack/db-up.sh starts it under a state directory of its own
// (bin/db-faults/...), without dev servers (planning keeps using the
// environment's, DevServers), and with commits that survive the kill as
// a production server's do.
type Server struct {
	// Engine is "postgres" or "mysql".
	Engine string
	// URL is the server's superuser URL, naming its empty test database.
	URL string

	root, state string
	mu          sync.Mutex
}

// StartServer starts a server of engine ("postgres" or "mysql") for the
// test, and stops it and deletes its data when the test ends. It needs
// the environment's servers too (the dev servers plan), so it skips or
// fails as they do when those are missing.
func StartServer(tb testing.TB, engine string) *Server {
	tb.Helper()
	arg := map[string]string{"postgres": "postgres", "mysql": "mariadb"}[engine]
	if arg == "" {
		tb.Fatalf("no test server of engine %q", engine)
	}
	if engine == "postgres" {
		PostgresURL(tb)
	} else {
		MySQLURL(tb)
	}
	root, err := repoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Engine: engine, root: root, state: filepath.Join(root, "bin", "db-faults", fmt.Sprintf("%s-%d-%d", arg, os.Getpid(), time.Now().UnixNano()))}
	tb.Cleanup(func() {
		if out, err := s.script("db-down.sh", arg); err != nil {
			tb.Errorf("stopping the %s test server: %v\n%s", engine, err, out)
		}
		_ = os.RemoveAll(s.state)
	})
	url, err := s.up()
	if err != nil {
		tb.Fatalf("starting a %s test server of the test's own: %v", engine, err)
	}
	s.URL = url
	return s
}

// NewDatabase creates an empty database on the server for the test (see
// NewPostgresDatabase) and returns its URL.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	if s.Engine == "postgres" {
		return NewPostgresDatabaseOn(tb, s.URL)
	}
	return NewMySQLDatabaseOn(tb, s.URL)
}

// Kill ends the server at once with SIGKILL, and every process of it
// (PostgreSQL's sessions are processes of their own), as a crash of its
// machine would: nothing is flushed, no client is told.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	pid, err := s.pid()
	if err != nil {
		tb.Fatal(err)
	}
	// The sessions first, so none outlives the postmaster holding its
	// shared memory (the restart would refuse to start).
	_ = exec.Command("pkill", "-KILL", "-P", strconv.Itoa(pid)).Run()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		tb.Fatalf("killing the %s test server (pid %d): %v", s.Engine, pid, err)
	}
	for deadline := time.Now().Add(30 * time.Second); syscall.Kill(pid, 0) == nil; {
		if time.Now().After(deadline) {
			tb.Fatalf("the %s test server (pid %d) outlived SIGKILL", s.Engine, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = exec.Command("pkill", "-KILL", "-P", strconv.Itoa(pid)).Run()
}

// Restart starts the killed server again, on its port, with its data (a
// crash recovery).
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	url, err := s.up()
	switch {
	case err != nil:
		tb.Fatalf("restarting the %s test server: %v", s.Engine, err)
	case url != s.URL:
		tb.Fatalf("the %s test server came back elsewhere", s.Engine)
	}
}

// up runs hack/db-up.sh for the server and returns the URL it printed.
func (s *Server) up() (string, error) {
	arg := map[string]string{"postgres": "postgres", "mysql": "mariadb"}[s.Engine]
	out, err := s.script("db-up.sh", arg)
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	env := map[string]string{"postgres": PostgresURLEnv, "mysql": MySQLURLEnv}[s.Engine]
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export "+env+"="); ok {
			return strings.Trim(v, "'"), nil
		}
	}
	return "", fmt.Errorf("hack/db-up.sh printed no %s:\n%s", env, out)
}

// pid is the server's main process, as it recorded it.
func (s *Server) pid() (int, error) {
	file := filepath.Join(s.state, "pg", "data", "postmaster.pid")
	if s.Engine == "mysql" {
		file = filepath.Join(s.state, "mariadb", "run", "mysqld.pid")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("the %s test server's pid: %w", s.Engine, err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

func (s *Server) script(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.root, "hack", name), args...)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "DB_STATE="+s.state, "DB_UP_DEV=0", "DB_DURABLE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// repoRoot is the repository's top directory: the first directory up from
// the test's that holds hack/db-up.sh.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "db-up.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no hack/db-up.sh above the test's directory")
		}
		dir = parent
	}
}
