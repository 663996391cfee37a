// Package envtestutil finds the kube-apiserver and etcd binaries that
// hack/envtest-assets.sh builds from Go modules, for envtest suites.
package envtestutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// AssetsDir returns the directory holding kube-apiserver and etcd: the
// KUBEBUILDER_ASSETS variable when set (as `make test` sets it), otherwise
// the output of hack/envtest-assets.sh, which builds them once and caches
// them under bin/. It fails the test when neither works: an envtest suite
// never skips.
func AssetsDir(tb testing.TB) string {
	tb.Helper()
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	script := filepath.Join(repoRoot(tb), "hack", "envtest-assets.sh")
	cmd := exec.Command(script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("building envtest binaries with %s: %v", script, err)
	}
	return strings.TrimSpace(string(out))
}

// repoRoot is the module root, found from this file's location.
func repoRoot(tb testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the repository root")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
