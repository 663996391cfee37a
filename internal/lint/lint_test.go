package lint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

func testScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	NewWithT(t).Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	NewWithT(t).Expect(dbv1.AddToScheme(s)).To(Succeed())
	return s
}

// migrations is an input with one migration per kind of finding
// location: an inline block script, a one-line script, a ConfigMap script
// in another file, a field missing from the document, and a warning.
const migrations = `# leading comment
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: inline
  annotations:
    database.mohitnagaraj.in/approved-plan: sha256:abc
spec:
  database:
    type: sqlite
    database: a.db
  migration:
    scripts:
    - name: block
      type: schema
      source: inline
      sql: |
        CREATE TABLE t (id INTEGER PRIMARY KEY);

        DROP TABLE old;
    - name: one-line
      type: schema
      source: inline
      sql: "TRUNCATE t"
---
apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: from-configmap
spec:
  database:
    type: postgresql
    host: pg
    connectionSecret: s
    database: app
  migration:
    scripts:
    - name: cm
      type: schema
      source: configmap://scripts/001.sql
      checksum: sha256:0000000000000000000000000000000000000000000000000000000000000000
    - name: missing
      type: schema
      source: configmap://not-there/002.sql
  policy:
    approval: auto
`

const configMaps = `apiVersion: v1
kind: ConfigMap
metadata:
  name: scripts
data:
  001.sql: |
    CREATE TABLE a (id int);
    DROP TABLE b;
---
# not a Kubernetes object: skipped
resources: [x.yaml]
`

func writeInput(t *testing.T) string {
	dir := t.TempDir()
	g := NewWithT(t)
	g.Expect(os.WriteFile(filepath.Join(dir, "a-migrations.yaml"), []byte(migrations), 0o600)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(dir, "b-configmaps.yml"), []byte(configMaps), 0o600)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not read"), 0o600)).To(Succeed())
	return dir
}

func lintInput(t *testing.T) Report {
	s := testScheme(t)
	docs, err := ReadPaths(s, []string{writeInput(t)}, false, nil)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	report, err := Run(context.Background(), s, docs, Options{Namespace: "team-a"})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return report
}

func TestLocations(t *testing.T) {
	g := NewWithT(t)
	report := lintInput(t)
	g.Expect(report.Migrations).To(Equal(2))
	type where struct {
		file     string
		line     int
		stmtFile string
		stmtLine int
		severity Severity
		field    string
	}
	var got []where
	for _, f := range report.Findings {
		w := where{file: filepath.Base(f.File), line: f.Line, severity: f.Severity, field: f.Field}
		if f.Statement != nil {
			w.stmtFile, w.stmtLine = filepath.Base(f.Statement.File), f.Statement.Line
		}
		g.Expect(f.Namespace).To(Equal("team-a"))
		got = append(got, w)
	}
	g.Expect(got).To(ConsistOf(
		// The approval annotation, on its own line.
		where{file: "a-migrations.yaml", line: 7, severity: SeverityError, field: "metadata.annotations[database.mohitnagaraj.in/approved-plan]"},
		// DROP TABLE old is the block's third line, line 20 of the file.
		where{file: "a-migrations.yaml", line: 17, stmtFile: "a-migrations.yaml", stmtLine: 20, severity: SeverityError, field: "spec.migration.scripts[0].sql"},
		where{file: "a-migrations.yaml", line: 24, stmtFile: "a-migrations.yaml", stmtLine: 24, severity: SeverityError, field: "spec.migration.scripts[1].sql"},
		// The checksum is in the manifest; the dropping statement in the ConfigMap's file.
		where{file: "a-migrations.yaml", line: 41, severity: SeverityError, field: "spec.migration.scripts[0].checksum"},
		where{file: "a-migrations.yaml", line: 38, stmtFile: "b-configmaps.yml", stmtLine: 8, severity: SeverityError, field: "spec.migration.scripts[0].sql"},
		// A ConfigMap not in the input is, to the webhook, not created yet.
		where{file: "a-migrations.yaml", line: 44, severity: SeverityWarning, field: "spec.migration.scripts[1].source"},
		where{file: "a-migrations.yaml", line: 46, severity: SeverityWarning, field: "spec.policy.approval"},
	))
	g.Expect(report.Errors()).To(Equal(5))
}

func TestPathSegments(t *testing.T) {
	g := NewWithT(t)
	g.Expect(pathSegments("metadata.annotations[a.b/c].x[3]")).To(Equal([]segment{
		{key: "metadata"}, {key: "annotations"}, {key: "a.b/c"}, {key: "x"}, {index: 3, isIndex: true},
	}))
	g.Expect(pathSegments("")).To(BeEmpty())
}

func TestReadPaths(t *testing.T) {
	s := testScheme(t)
	g := NewWithT(t)
	docs, err := ReadPaths(s, []string{"-"}, false, strings.NewReader(configMaps+"---\n"+migrations))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(docs).To(HaveLen(3))
	g.Expect(docs[0].File).To(Equal(Stdin))
	g.Expect(docs[1].Node.Line).To(Equal(14), "lines count from the top of the stream, across documents")

	_, err = ReadPaths(s, []string{"-"}, false, strings.NewReader("kind: ConfigMap\n  bad: indent\n"))
	g.Expect(err).To(MatchError(ContainSubstring(Stdin)))
	_, err = ReadPaths(s, []string{t.TempDir()}, false, nil)
	g.Expect(err).To(MatchError(ContainSubstring("holds no .yaml")))
	_, err = Run(context.Background(), s, docs[:1], Options{})
	g.Expect(err).To(MatchError(ErrNoMigration))
}

// workflowCommand is the grammar of a GitHub Actions annotation: no raw
// newline, no ',' or ':' inside a property value.
var workflowCommand = regexp.MustCompile(`^::(error|warning|notice) file=[^,:\n]+,line=[1-9][0-9]*,title=[^,:\n]+::[^\r\n]+$`)

func TestGitHubFormat(t *testing.T) {
	g := NewWithT(t)
	report := lintInput(t)
	var out bytes.Buffer
	g.Expect(Write(&out, "github", report)).To(Succeed())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	g.Expect(lines).To(HaveLen(len(report.Findings)))
	for _, l := range lines {
		g.Expect(l).To(MatchRegexp(workflowCommand.String()))
	}
	g.Expect(out.String()).To(ContainSubstring("b-configmaps.yml,line=8,"), "a statement is annotated where it is written")

	// A message cannot end its command early, nor a property its value.
	out.Reset()
	g.Expect(Write(&out, "github", Report{Findings: []Finding{{
		Location: Location{File: "a,b:c.yaml", Line: 3}, Name: "x", Severity: SeverityError,
		Field: "spec", Message: "100% bad\nline two\r",
	}}})).To(Succeed())
	g.Expect(out.String()).To(Equal("::error file=a%2Cb%3Ac.yaml,line=3,title=kube-shift%3A DatabaseMigration x::spec: 100%25 bad%0Aline two%0D\n"))
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	f, err := os.Open(filepath.Join("testdata", "sarif-2.1.0-rtm.5.json"))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	NewWithT(t).Expect(c.AddResource("sarif.json", doc)).To(Succeed())
	schema, err := c.Compile("sarif.json")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return schema
}

func TestSARIFAgainstSchema(t *testing.T) {
	g := NewWithT(t)
	schema := sarifSchema(t)
	validate := func(text string) error {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		g.Expect(err).NotTo(HaveOccurred())
		return schema.Validate(inst)
	}
	for name, report := range map[string]Report{"findings": lintInput(t), "clean": {Migrations: 1, Findings: []Finding{}}} {
		var out bytes.Buffer
		g.Expect(Write(&out, "sarif", report)).To(Succeed())
		g.Expect(validate(out.String())).To(Succeed(), name)
		g.Expect(out.String()).To(ContainSubstring(`"version": "2.1.0"`))
	}

	// The schema does refuse what is not SARIF 2.1.0.
	var out bytes.Buffer
	g.Expect(Write(&out, "sarif", lintInput(t))).To(Succeed())
	g.Expect(validate(strings.Replace(out.String(), `"version": "2.1.0"`, `"version": "2.0.0"`, 1))).NotTo(Succeed())
	g.Expect(validate(strings.Replace(out.String(), `"level": "error"`, `"level": "fatal"`, 1))).NotTo(Succeed())
	g.Expect(validate(strings.Replace(out.String(), `"startLine": `, `"startLine": -`, 1))).NotTo(Succeed())
}

func TestTextAndJSON(t *testing.T) {
	g := NewWithT(t)
	report := lintInput(t)
	var out bytes.Buffer
	g.Expect(Write(&out, "text", report)).To(Succeed())
	g.Expect(out.String()).To(MatchRegexp(`(?m)^.*a-migrations\.yaml:17: error: DatabaseMigration team-a/inline: spec\.migration\.scripts\[0\]\.sql: Forbidden: statement 2 \(line 3\) drops table "old".* \[statement at .*a-migrations\.yaml:20\]$`))
	g.Expect(out.String()).To(HaveSuffix("2 DatabaseMigration(s) checked: 5 error(s), 2 warning(s)\n"))
	out.Reset()
	g.Expect(Write(&out, "json", report)).To(Succeed())
	g.Expect(out.String()).To(ContainSubstring(`"severity": "warning"`))
	g.Expect(Write(&out, "yaml", report)).To(MatchError(ContainSubstring("unknown format")))
}
