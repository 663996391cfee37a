package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

func TestPlanMarkdown(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "app.db")
	target, err := database.ParseURL(url)
	g.Expect(err).NotTo(HaveOccurred())
	db, err := target.Open(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	_, err = db.Exec("CREATE TABLE users (id int NOT NULL, name text, legacy text, PRIMARY KEY (id))")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(db.Close()).To(Succeed())
	script := writeFile(t, dir, "002.sql", "ALTER TABLE users DROP COLUMN legacy;\nCREATE TABLE audit (id int NOT NULL, note text, PRIMARY KEY (id));\n")

	out, _, err := run("plan", "--url", url, "--file", script, "-o", "markdown")
	g.Expect(err).NotTo(HaveOccurred())
	js, _, err := run("plan", "--url", url, "--file", script, "-o", "json")
	g.Expect(err).NotTo(HaveOccurred())
	hash := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(js)
	g.Expect(hash).NotTo(BeEmpty())

	g.Expect(out).To(HavePrefix("### kube-shift plan\n\n:warning: **Destructive**: this plan drops data. 2 statement(s), "))
	g.Expect(out).To(ContainSubstring("\nPlan hash: `" + hash + "`\n"))
	g.Expect(out).To(ContainSubstring("#### Statements\n\n```sql\nALTER TABLE users DROP COLUMN legacy;\nCREATE TABLE audit"))
	g.Expect(out).To(MatchRegexp(`(?m)^\| Error \| DS103 \| 1 \| .*legacy.* \|$`), "the finding names the statement it is about")
	g.Expect(out).To(ContainSubstring("#### Rollback\n\n```sql\n"))
	g.Expect(strings.Count(out, "```")%2).To(BeZero(), "every code block is closed")

	empty := writeFile(t, t.TempDir(), "none.sql", "")
	out, _, err = run("plan", "--url", url, "--file", empty, "-o", "markdown")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(ContainSubstring("Nothing to do: the database is up to date."))
	g.Expect(out).NotTo(ContainSubstring("#### Statements"))
}

func TestMarkdownEscapes(t *testing.T) {
	g := NewWithT(t)
	g.Expect(tableCell("a | b\nc")).To(Equal(`a \| b c`))
}
