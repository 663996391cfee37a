package archtest_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// core are the packages of the SQL core, relative to the module root. They
// take their own types (database.Kind, script.Script, planner.Diagnostic
// ...) and the controller, the webhooks and kubectl-shift convert the API's
// into them.
var core = []string{
	"internal/bluegreen",
	"internal/database",
	"internal/integrity",
	"internal/planner",
	"internal/script",
	"internal/shadow",
	"internal/sqlstatic",
}

// forbidden reports whether the core may not depend on pkg: Kubernetes,
// controller-runtime and the like, and the module's own API types.
func forbidden(module, pkg string) bool {
	return strings.HasPrefix(pkg, "k8s.io/") ||
		strings.HasPrefix(pkg, "sigs.k8s.io/") ||
		pkg == module+"/api" || strings.HasPrefix(pkg, module+"/api/")
}

func TestSQLCoreImportsNothingOfKubernetes(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH, so the core's dependencies cannot be listed")
	}
	gomod := strings.TrimSpace(run(t, goTool, "", "env", "GOMOD"))
	if gomod == "" || gomod == "/dev/null" {
		t.Fatal("go env GOMOD names no go.mod: run the test inside the module")
	}
	root := filepath.Dir(gomod)
	module := strings.TrimSpace(run(t, goTool, root, "list", "-m", "-f", "{{.Path}}"))

	args := []string{"list", "-deps", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}"}
	roots := make([]string, len(core))
	for i, p := range core {
		roots[i] = module + "/" + p
		args = append(args, "./"+p)
	}
	imports := map[string][]string{}
	for line := range strings.Lines(run(t, goTool, root, args...)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(line), "\t")
		imports[pkg] = strings.Fields(deps)
	}
	for _, r := range roots {
		if _, ok := imports[r]; !ok {
			t.Fatalf("go list did not list %s: is the core list out of date?", r)
		}
	}

	short := func(p string) string { return strings.TrimPrefix(p, module+"/") }
	for _, r := range roots {
		for _, chain := range reaching(imports, r, func(p string) bool { return forbidden(module, p) }) {
			for i := range chain {
				chain[i] = short(chain[i])
			}
			t.Errorf("%s must not depend on %s, but does: %s", short(r), chain[len(chain)-1], strings.Join(chain, " -> "))
		}
	}
}

// reaching returns, for every package bad accepts that from depends on,
// one shortest import chain from `from` to it. A bad package is not looked
// into: its own dependencies are its business.
func reaching(imports map[string][]string, from string, bad func(string) bool) [][]string {
	parent := map[string]string{from: ""}
	queue := []string{from}
	var found []string
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for _, dep := range imports[pkg] {
			if _, seen := parent[dep]; seen {
				continue
			}
			parent[dep] = pkg
			if bad(dep) {
				found = append(found, dep)
				continue
			}
			queue = append(queue, dep)
		}
	}
	slices.Sort(found)
	chains := make([][]string, len(found))
	for i, pkg := range found {
		for p := pkg; p != ""; p = parent[p] {
			chains[i] = append(chains[i], p)
		}
		slices.Reverse(chains[i])
	}
	return chains
}

func run(t *testing.T, goTool, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
