package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestLintExitCodes(t *testing.T) {
	destructive, err := os.ReadFile("testdata/lint/destructive.yaml")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
	}{
		{name: "samples are clean", args: []string{"-f", "../../config/samples"}, code: 0, out: "4 DatabaseMigration(s) checked: 0 error(s), 1 warning(s)"},
		{name: "kustomize output on stdin", args: []string{"-f", "-", "-o", "github"}, stdin: string(destructive), code: 1,
			out: "::error file=<stdin>,line=17,title=kube-shift%3A DatabaseMigration drop-legacy::spec.migration.scripts[0].sql: Forbidden: statement 2 (line 2) drops table"},
		{name: "errors exit 1 in every format", args: []string{"-f", "testdata/lint/bad-sql.yaml", "-o", "sarif"}, code: 1, out: `"ruleId": "FieldValueForbidden"`},
		{name: "no -f", args: nil, code: 2},
		{name: "unknown format", args: []string{"-f", "testdata/lint", "-o", "yaml"}, code: 2},
		{name: "unknown flag", args: []string{"-f", "testdata/lint", "--nope"}, code: 2},
		{name: "missing file", args: []string{"-f", "testdata/lint/nope.yaml"}, code: 2},
		{name: "not YAML", args: []string{"-f", "-"}, stdin: "kind: x\n  y: z\n", code: 2},
		{name: "no migration in input", args: []string{"-f", "../../config/samples/migrations_configmap.yaml"}, code: 2},
		{name: "bad --allow-sql", args: []string{"-f", "testdata/lint", "--allow-sql", "everything"}, code: 2},
		{name: "--allow-sql lets a GRANT through", args: []string{"-f", "testdata/lint/bad-sql.yaml", "--allow-sql", "privilege"}, code: 1,
			out: "1 DatabaseMigration(s) checked: 1 error(s), 0 warning(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var out, errOut bytes.Buffer
			root := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader(tc.stdin), Out: &out, ErrOut: &errOut})
			root.SetArgs(append([]string{"lint"}, tc.args...))
			err := root.ExecuteContext(context.Background())
			g.Expect(exitCodeOf(err)).To(Equal(tc.code), "stdout: %s\nstderr: %s", out.String(), errOut.String())
			g.Expect(out.String()).To(ContainSubstring(tc.out))
		})
	}
}
