package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

func planCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var (
		flags  offlineFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "plan --url URL (--file F ... | --dir D | --desired F) [-o json|text|markdown]",
		Short: "Compute the dry-run plan of a migration against a database, without a cluster",
		Long: `plan shows the statements a migration would run, the schema change they make,
what Atlas's analyzers found, the rollback, and the plan's hash: the value
apply --expect-hash (or a reviewer's approval) needs. Nothing is written to
the database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "json" && output != "text" && output != "markdown" {
				return fmt.Errorf("-o %s: want json, text or markdown", output)
			}
			target, pl, in, err := flags.load()
			if err != nil {
				return err
			}
			plan, err := pl.Plan(cmd.Context(), target, in)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				return writeJSON(streams.Out, plan)
			case "markdown":
				writeMarkdown(streams.Out, plan)
				return nil
			}
			writeText(streams.Out, plan)
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "Output format: json, text, or markdown (a pull request comment body)")
	return cmd
}

// planJSON is plan -o json's object; acceptance checks read it.
type planJSON struct {
	Hash        string           `json:"hash"`
	Statements  []string         `json:"statements"`
	Changes     []string         `json:"changes"`
	Destructive bool             `json:"destructive"`
	Diagnostics []diagnosticJSON `json:"diagnostics"`
	Rollback    []string         `json:"rollback"`
}

type diagnosticJSON struct {
	Code      string `json:"code"`
	Severity  string `json:"severity"`
	Text      string `json:"text"`
	Statement *int32 `json:"statement,omitempty"`
}

func writeJSON(w io.Writer, p *planner.Plan) error {
	out := planJSON{
		Hash:        p.Hash,
		Statements:  orEmpty(p.Statements),
		Changes:     orEmpty(p.Changes),
		Destructive: p.Destructive,
		Diagnostics: []diagnosticJSON{},
		Rollback:    orEmpty(p.Rollback),
	}
	for _, d := range p.Diagnostics {
		out.Diagnostics = append(out.Diagnostics, diagnosticJSON{Code: d.Code, Severity: string(d.Severity), Text: d.Text, Statement: d.Statement})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeText(w io.Writer, p *planner.Plan) {
	fmt.Fprintf(w, "Plan %s\n", p.Hash)
	if p.Empty() {
		fmt.Fprintln(w, "\nNothing to do: the database is up to date.")
		return
	}
	fmt.Fprintln(w, "\nStatements:")
	for i, s := range p.Statements {
		fmt.Fprintf(w, "  %d. %s;\n", i+1, strings.TrimSuffix(strings.TrimSpace(s), ";"))
	}
	if len(p.Changes) > 0 {
		fmt.Fprintln(w, "\nChanges:")
		for _, c := range p.Changes {
			fmt.Fprintf(w, "  - %s\n", c)
		}
	}
	if len(p.Diagnostics) > 0 {
		fmt.Fprintln(w, "\nDiagnostics:")
		for _, d := range p.Diagnostics {
			writeDiagnostic(w, d)
		}
	}
	if p.Destructive {
		fmt.Fprintln(w, "\nDESTRUCTIVE: this plan drops data.")
	}
	if len(p.Rollback) > 0 {
		fmt.Fprintln(w, "\nRollback:")
		for _, s := range p.Rollback {
			fmt.Fprintf(w, "  %s;\n", strings.TrimSuffix(strings.TrimSpace(s), ";"))
		}
	}
}

func writeDiagnostic(w io.Writer, d planner.Diagnostic) {
	at := ""
	if d.Statement != nil {
		at = fmt.Sprintf(" (statement %d)", *d.Statement+1)
	}
	fmt.Fprintf(w, "  %s %s%s: %s\n", d.Severity, d.Code, at, d.Text)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
