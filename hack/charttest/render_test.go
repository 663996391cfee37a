package charttest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The names config/default gives: the chart installed as release
// "kube-shift" in namespace "kube-shift-system" must give the same ones.
const (
	kustomizeRelease   = "kube-shift"
	kustomizeNamespace = "kube-shift-system"
)

var repoRoot = func() string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return root
}()

var chartDir = filepath.Join(repoRoot, "charts", "kube-shift")

// tool returns the path of a tool pinned in the Makefile (NAME_VERSION) and
// built into bin/ as name-version, or the path in the environment variable
// NAME (how `make helm-lint` passes it). Without it the test is skipped, or
// fails in CI, where a skipped check would pass unseen.
func tool(t *testing.T, name string) string {
	t.Helper()
	upper := strings.ToUpper(name)
	if path := os.Getenv(upper); path != "" {
		return path
	}
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + upper + `_VERSION \?= (\S+)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatalf("the Makefile pins no %s_VERSION", upper)
	}
	path := filepath.Join(repoRoot, "bin", name+"-"+string(m[1]))
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("%s is not built: run `make %s` (make helm-lint and make test build it)", path, name)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// helmTemplate renders the chart, CRDs included, as release in namespace with
// the given --set values.
func helmTemplate(t *testing.T, release, namespace string, set ...string) objects {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace, "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decode(t, run(t, tool(t, "helm"), args...))
}

func kustomizeBuild(t *testing.T) objects {
	t.Helper()
	return decode(t, run(t, tool(t, "kustomize"), "build", filepath.Join(repoRoot, "config", "default")))
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// objects is a render, decoded.
type objects []*unstructured.Unstructured

func decode(t *testing.T, data []byte) objects {
	t.Helper()
	var objs objects
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		if string(js) == "null" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		objs = append(objs, obj)
	}
}

func key(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetKind() + "/" + obj.GetName()
	}
	return obj.GetKind() + "/" + obj.GetNamespace() + "/" + obj.GetName()
}

func (objs objects) keys() []string {
	keys := make([]string, len(objs))
	for i, obj := range objs {
		keys[i] = key(obj)
	}
	return keys
}

func (objs objects) kinds() map[string]int {
	kinds := map[string]int{}
	for _, obj := range objs {
		kinds[obj.GetKind()]++
	}
	return kinds
}

// get returns the object of that kind and name, or fails the test.
func (objs objects) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("no %s %s in the render; it has %v", kind, name, objs.keys())
	return nil
}

func (objs objects) ofKind(kind string) objects {
	var out objects
	for _, obj := range objs {
		if obj.GetKind() == kind {
			out = append(out, obj)
		}
	}
	return out
}

// field returns the value at a dotted path ("spec.template.spec"), with
// "name=x" stepping into the list element whose name is x and a number
// into that index.
func field(t *testing.T, obj any, path string) any {
	t.Helper()
	cur := obj
	if u, ok := cur.(*unstructured.Unstructured); ok {
		cur = u.Object
	}
	for _, step := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[step]
			if !ok {
				t.Fatalf("%s: no %q", path, step)
			}
			cur = v
		case []any:
			found := false
			for i, item := range c {
				m, _ := item.(map[string]any)
				if (strings.HasPrefix(step, "name=") && m["name"] == strings.TrimPrefix(step, "name=")) || step == fmt.Sprint(i) {
					cur, found = item, true
					break
				}
			}
			if !found {
				t.Fatalf("%s: no element %q", path, step)
			}
		default:
			t.Fatalf("%s: %q steps into a %T", path, step, cur)
		}
	}
	return cur
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("want a list of strings, got %T", v)
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i], ok = s.(string)
		if !ok {
			t.Fatalf("want a list of strings, got a %T in it", s)
		}
	}
	return out
}
