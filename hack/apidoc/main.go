// Command apidoc writes the API reference (docs/api-reference.md) from the
// generated CRD, so the reference says exactly what the API server enforces:
// every field with its type, default, allowed values and description, and
// the cross-field rules. `make manifests` runs it; `make verify` fails when
// it is stale.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: apidoc OUT.md CRD.yaml...")
		os.Exit(2)
	}
	if err := run(os.Args[2:], os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

// run writes the reference of every CRD in ins, in that order, to out.
func run(ins []string, out string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# API reference\n\n")
	fmt.Fprintf(&b, "Generated from `%s` by `hack/apidoc` (`make manifests`); do not edit.\n\n", strings.Join(ins, "`, `"))
	for _, in := range ins {
		if err := document(&b, in); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

// document writes one CRD's reference.
func document(b *strings.Builder, in string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return err
	}
	scope := "namespaced"
	if crd.Spec.Scope == apiextensionsv1.ClusterScoped {
		scope = "cluster-scoped"
	}
	fmt.Fprintf(b, "# %s\n\n", crd.Spec.Names.Kind)
	for _, v := range crd.Spec.Versions {
		fmt.Fprintf(b, "Group `%s`, version `%s`, kind `%s` (short name `%s`), %s.\n\n",
			crd.Spec.Group, v.Name, crd.Spec.Names.Kind, strings.Join(crd.Spec.Names.ShortNames, "`, `"), scope)
		root := v.Schema.OpenAPIV3Schema
		for _, top := range []string{"spec", "status"} {
			s, ok := root.Properties[top]
			if !ok {
				continue
			}
			fmt.Fprintf(b, "## %s .%s\n\n", crd.Spec.Names.Kind, top)
			writeRules(b, "."+top, s)
			fmt.Fprintln(b, "| field | type | default | description |")
			fmt.Fprintln(b, "|---|---|---|---|")
			walk(b, "."+top, s)
			fmt.Fprintln(b)
		}
	}
	return nil
}

// walk writes one row per field, depth first, fields in name order.
func walk(b *strings.Builder, path string, s apiextensionsv1.JSONSchemaProps) {
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := s.Properties[n]
		field := path + "." + n
		fmt.Fprintf(b, "| `%s`%s | %s | %s | %s |\n", field, mark(required[n]), typeOf(p), defaultOf(p), describe(p))
		switch {
		case p.Type == "object" && len(p.Properties) > 0:
			walk(b, field, p)
		case p.Type == "array" && p.Items != nil && p.Items.Schema != nil && len(p.Items.Schema.Properties) > 0:
			walk(b, field+"[]", *p.Items.Schema)
		}
	}
}

func writeRules(b *strings.Builder, path string, s apiextensionsv1.JSONSchemaProps) {
	var rules []string
	var collect func(string, apiextensionsv1.JSONSchemaProps)
	collect = func(p string, s apiextensionsv1.JSONSchemaProps) {
		for _, r := range s.XValidations {
			rules = append(rules, fmt.Sprintf("- `%s`: %s", p, r.Message))
		}
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			collect(p+"."+n, s.Properties[n])
		}
		if s.Items != nil && s.Items.Schema != nil {
			collect(p+"[]", *s.Items.Schema)
		}
	}
	collect(path, s)
	if len(rules) == 0 {
		return
	}
	fmt.Fprintln(b, "Rules the API server enforces:")
	fmt.Fprintln(b)
	for _, r := range rules {
		fmt.Fprintln(b, r)
	}
	fmt.Fprintln(b)
}

func mark(required bool) string {
	if required {
		return " (required)"
	}
	return ""
}

func typeOf(p apiextensionsv1.JSONSchemaProps) string {
	t := p.Type
	if t == "array" && p.Items != nil && p.Items.Schema != nil {
		t = "[]" + p.Items.Schema.Type
	}
	if len(p.Enum) > 0 {
		vals := make([]string, len(p.Enum))
		for i, e := range p.Enum {
			vals[i] = strings.Trim(string(e.Raw), `"`)
		}
		t += ": " + strings.Join(vals, ", ")
	}
	if p.Format != "" {
		t += " (" + p.Format + ")"
	}
	return t
}

func defaultOf(p apiextensionsv1.JSONSchemaProps) string {
	if p.Default == nil {
		return ""
	}
	return "`" + string(p.Default.Raw) + "`"
}

func describe(p apiextensionsv1.JSONSchemaProps) string {
	d := strings.Join(strings.Fields(p.Description), " ")
	return strings.ReplaceAll(d, "|", `\|`)
}
