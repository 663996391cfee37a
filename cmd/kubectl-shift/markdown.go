package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

// writeMarkdown writes the plan as the body of a pull request comment: a
// verdict a reviewer reads first, then the statements, the findings with
// the statement each is about, and the rollback, each in its own block.
func writeMarkdown(w io.Writer, p *planner.Plan) {
	fmt.Fprintln(w, "### kube-shift plan")
	fmt.Fprintln(w)
	errors, warnings := 0, 0
	for _, d := range p.Diagnostics {
		switch d.Severity {
		case planner.SeverityError:
			errors++
		case planner.SeverityWarning:
			warnings++
		}
	}
	switch {
	case p.Empty():
		fmt.Fprintln(w, "Nothing to do: the database is up to date.")
	case p.Destructive:
		fmt.Fprintf(w, ":warning: **Destructive**: this plan drops data. %d statement(s), %d error(s), %d warning(s).\n", len(p.Statements), errors, warnings)
	default:
		fmt.Fprintf(w, "%d statement(s), %d error(s), %d warning(s).\n", len(p.Statements), errors, warnings)
	}
	fmt.Fprintf(w, "\nPlan hash: `%s`\n", p.Hash)
	if p.Empty() {
		return
	}
	if len(p.Changes) > 0 {
		fmt.Fprintln(w, "\n#### Changes")
		fmt.Fprintln(w)
		for _, c := range p.Changes {
			fmt.Fprintf(w, "- %s\n", c)
		}
	}
	fmt.Fprintln(w, "\n#### Statements")
	fmt.Fprintln(w)
	writeSQLBlock(w, p.Statements)
	if len(p.Diagnostics) > 0 {
		fmt.Fprintln(w, "\n#### Findings")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| severity | code | statement | finding |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, d := range p.Diagnostics {
			at := "—"
			if d.Statement != nil {
				at = fmt.Sprint(*d.Statement + 1)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", d.Severity, d.Code, at, tableCell(d.Text))
		}
	}
	fmt.Fprintln(w, "\n#### Rollback")
	fmt.Fprintln(w)
	if len(p.Rollback) == 0 {
		fmt.Fprintln(w, "No rollback was computed for this plan.")
	} else {
		writeSQLBlock(w, p.Rollback)
	}
	fmt.Fprintf(w, "\nApply exactly this plan: `kubectl-shift apply ... --expect-hash %s`, or approve it in the cluster with `kubectl shift approve NAME`.\n", p.Hash)
}

// writeSQLBlock writes statements in a fenced block long enough that no
// statement can close it.
func writeSQLBlock(w io.Writer, statements []string) {
	fence := "```"
	for _, s := range statements {
		for strings.Contains(s, fence) {
			fence += "`"
		}
	}
	fmt.Fprintln(w, fence+"sql")
	for _, s := range statements {
		fmt.Fprintln(w, strings.TrimSuffix(strings.TrimSpace(s), ";")+";")
	}
	fmt.Fprintln(w, fence)
}

// tableCell keeps a finding inside its table cell.
func tableCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\r", " ", "\n", " ").Replace(s)
}
