package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// run runs kubectl-shift in-process, as the binary would.
func run(args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	root := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, dir, name, text string) string {
	path := filepath.Join(dir, name)
	NewWithT(t).Expect(os.WriteFile(path, []byte(text), 0o600)).To(Succeed())
	return path
}

func tablesOf(t *testing.T, rawURL string) []string {
	g := NewWithT(t)
	target, err := database.ParseURL(rawURL)
	g.Expect(err).NotTo(HaveOccurred())
	db, err := target.Open(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	defer db.Close()
	drv, err := target.Driver(db)
	g.Expect(err).NotTo(HaveOccurred())
	s, err := drv.InspectSchema(context.Background(), target.Schema(), nil)
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, tb := range s.Tables {
		names = append(names, tb.Name)
	}
	return names
}

func TestPlanAndApply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fresh func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "app.db") }},
		{"postgres", func(t *testing.T) string { return dbtest.NewPostgresDatabase(t) }},
		{"mysql", func(t *testing.T) string { return dbtest.NewMySQLDatabase(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			dir := t.TempDir()
			url := tc.fresh(t)
			one := writeFile(t, dir, "001_users.sql", "CREATE TABLE users (id int NOT NULL, name varchar(50), PRIMARY KEY (id));\n")
			two := writeFile(t, dir, "002_email.sql", "ALTER TABLE users ADD COLUMN email varchar(100);\n")

			out, _, err := run("plan", "--url", url, "--file", one, "--file", two, "-o", "json")
			g.Expect(err).NotTo(HaveOccurred())
			var plan map[string]any
			g.Expect(json.Unmarshal([]byte(out), &plan)).To(Succeed())
			g.Expect(plan).To(HaveKeyWithValue("hash", HavePrefix("sha256:")))
			g.Expect(plan["statements"]).To(HaveLen(2))
			g.Expect(plan["changes"]).To(ContainElements("create table users", "add column users.email"))
			g.Expect(plan).To(HaveKeyWithValue("destructive", false))
			g.Expect(plan).To(HaveKey("diagnostics"))
			g.Expect(plan).To(HaveKey("rollback"))
			hash := plan["hash"].(string)

			// A stale approval: the schema moves after the review.
			target, err := database.ParseURL(url)
			g.Expect(err).NotTo(HaveOccurred())
			db, err := target.Open(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			_, err = db.Exec("CREATE TABLE audit (id int NOT NULL, PRIMARY KEY (id))")
			g.Expect(err).NotTo(HaveOccurred())
			_, _, err = run("apply", "--url", url, "--file", one, "--file", two, "--expect-hash", hash)
			g.Expect(err).To(MatchError(ContainSubstring("the plan changed since it was approved")))
			g.Expect(tablesOf(t, url)).To(ConsistOf("audit"))

			// Re-planned and applied with the right hash, twice.
			out, _, err = run("plan", "--url", url, "--file", one, "--file", two, "-o", "json")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(json.Unmarshal([]byte(out), &plan)).To(Succeed())
			hash = plan["hash"].(string)
			out, _, err = run("apply", "--url", url, "--file", one, "--file", two, "--expect-hash", hash)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(ContainSubstring("applied plan " + hash))
			out, _, err = run("apply", "--url", url, "--file", one, "--file", two, "--expect-hash", hash)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(ContainSubstring("already applied"))
			g.Expect(tablesOf(t, url)).To(ConsistOf("audit", "users", database.RevisionTable))

			out, _, err = run("plan", "--url", url, "--dir", dir, "-o", "json")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(out).To(ContainSubstring(`"statements": []`))

			// Invalid SQL leaves the database as it was.
			bad := writeFile(t, t.TempDir(), "003_bad.sql", "CREATE TABLE tags (id int);\nCREATE TABLEX oops (id int);\n")
			_, _, err = run("apply", "--url", url, "--file", one, "--file", two, "--file", bad, "--expect-hash", "sha256:reviewed-elsewhere")
			g.Expect(err).To(MatchError(ContainSubstring("script 003_bad.sql, statement 2")))
			g.Expect(tablesOf(t, url)).To(ConsistOf("audit", "users", database.RevisionTable))
		})
	}
}

func TestDeclarativePlan(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "app.db")
	desired := writeFile(t, dir, "schema.sql", "CREATE TABLE users (id int NOT NULL, PRIMARY KEY (id));\n")
	out, _, err := run("plan", "--url", url, "--desired", desired, "-o", "text")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("CREATE TABLE `users`"))
	g.Expect(out).To(ContainSubstring("create table users"))
}

func TestUnreachableDatabase(t *testing.T) {
	g := NewWithT(t)
	f := writeFile(t, t.TempDir(), "001.sql", "CREATE TABLE t (id int);")
	_, _, err := run("apply", "--url", "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable", "--file", f, "--expect-hash", "sha256:x")
	g.Expect(err).To(MatchError(database.ErrUnreachable))
	g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--url", "sqlite://x.db"},
		{"plan", "--file", "a.sql"},
		{"plan", "--url", "sqlite://x.db", "--file", "a.sql", "--desired", "s.sql"},
		{"apply", "--url", "sqlite://x.db", "--file", "a.sql"},
		{"plan", "--url", "sqlite://x.db", "--file", "a.sql", "-o", "yaml"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, _, err := run(args...)
			NewWithT(t).Expect(err).To(HaveOccurred())
		})
	}
}

// TestClusterVerbsTakeKubeconfigFlags checks that every cluster verb,
// nested ones too, takes kubectl's flags (-n, --kubeconfig, --context).
func TestClusterVerbsTakeKubeconfigFlags(t *testing.T) {
	root := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	for _, path := range [][]string{{"status"}, {"approve"}, {"fleet", "status"}, {"fleet", "approve"}, {"promote"}, {"retry"}} {
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			g := NewWithT(t)
			cmd, _, err := root.Find(path)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(cmd.Name()).To(Equal(path[len(path)-1]))
			for _, name := range []string{"namespace", "kubeconfig", "context"} {
				g.Expect(cmd.Flag(name)).NotTo(BeNil(), "--%s", name)
			}
			g.Expect(cmd.Flag("namespace").Shorthand).To(Equal("n"))
		})
	}
	_, _, err := run("fleet", "status", "x", "-n", "elsewhere", "--kubeconfig", filepath.Join(t.TempDir(), "none"))
	NewWithT(t).Expect(err).To(MatchError(ContainSubstring("none")), "the flags parse and reach the kubeconfig loader")
}

func TestArgumentsUnderKubectlsCompleterName(t *testing.T) {
	g := NewWithT(t)
	g.Expect(arguments("/usr/local/bin/kubectl-shift", []string{"status", "x"})).To(Equal([]string{"status", "x"}))
	g.Expect(arguments("/usr/local/bin/kubectl_complete-shift", []string{"status", ""})).To(Equal([]string{"__complete", "status", ""}))
}
