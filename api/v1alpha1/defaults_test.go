package v1alpha1

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// Every duration a CRD defaults is written as the Go type writes it back
// (10m0s, not 10m): the mutating webhook decodes the object and patches
// whatever reads differently once encoded again, so a default in another
// form would cost a patch operation on every create.
func TestDurationDefaultsAreCanonical(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs found: %v", err)
	}
	var walk func(path string, v any)
	found := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if d, ok := v["default"].(string); ok {
				if parsed, err := time.ParseDuration(d); err == nil {
					found++
					if parsed.String() != d {
						t.Errorf("%s: default %q reads back as %q", path, d, parsed.String())
					}
				}
			}
			for k, child := range v {
				walk(path+"."+k, child)
			}
		case []any:
			for _, child := range v {
				walk(path, child)
			}
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(j, &doc); err != nil {
			t.Fatal(err)
		}
		walk(filepath.Base(f), doc)
	}
	if found == 0 {
		t.Fatal("no duration default found: the walk reads nothing")
	}
}
