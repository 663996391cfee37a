package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// printObject writes obj as json or yaml for scripts.
func printObject(w io.Writer, format string, obj any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(obj)
	case "yaml":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown output format %q: use json or yaml", format)
}

// writeStatus renders a migration for a person: where it stands, why, and the
// plan with its findings next to the statements they are about.
func writeStatus(w io.Writer, dbm *dbv1.DatabaseMigration) {
	s := dbm.Status
	fmt.Fprintf(w, "Name:      %s/%s\n", dbm.Namespace, dbm.Name)
	fmt.Fprintf(w, "Database:  %s %s\n", dbm.Spec.Database.Type, target(dbm.Spec.Database))
	fmt.Fprintf(w, "Strategy:  %s\n", dbm.Spec.Migration.Strategy)
	fmt.Fprintf(w, "Phase:     %s\n", orNone(string(s.Phase)))
	if s.Message != "" {
		fmt.Fprintf(w, "Message:   %s\n", s.Message)
	}
	if by := dbm.Annotations[dbv1.AnnotationCreatedBy]; by != "" {
		fmt.Fprintf(w, "Created by: %s\n", by)
	}
	if hash := dbm.Annotations[dbv1.AnnotationApprovedPlan]; hash != "" {
		fmt.Fprintf(w, "Approved:  %s by %s\n", hash, orNone(dbm.Annotations[dbv1.AnnotationApprovedBy]))
	}
	if reason := dbm.Annotations[dbv1.AnnotationRejected]; reason != "" {
		fmt.Fprintf(w, "Rejected:  %s\n", reason)
	}

	if len(s.Conditions) > 0 {
		fmt.Fprintln(w, "\nConditions:")
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tMESSAGE")
		for _, c := range s.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		_ = tw.Flush()
	}

	if s.Plan != nil {
		fmt.Fprintln(w)
		writePlan(w, s.Plan)
	}
	if s.RollbackPlan != nil && len(s.RollbackPlan.Statements) > 0 {
		fmt.Fprintln(w, "\nRollback plan:")
		writeStatements(w, s.RollbackPlan.Statements, nil)
	}
	if a := s.LastApplied; a != nil {
		at := ""
		if a.AppliedAt != nil {
			at = " at " + a.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "\nLast applied: %s%s, approved by %s, revision %d\n", a.PlanHash, at, orNone(a.ApprovedBy), a.Revision)
	}
}

// writePlan renders the plan a reviewer approves.
func writePlan(w io.Writer, p *dbv1.PlanStatus) {
	computed := ""
	if p.ComputedAt != nil {
		computed = " (computed " + p.ComputedAt.UTC().Format(time.RFC3339) + ")"
	}
	fmt.Fprintf(w, "Plan %s%s\n", p.Hash, computed)
	if p.Destructive {
		fmt.Fprintln(w, "  !! destructive: this plan drops or may lose data")
	}
	if len(p.Statements) == 0 {
		fmt.Fprintln(w, "  nothing to do: the database already matches")
		return
	}
	if len(p.Changes) > 0 {
		fmt.Fprintln(w, "Changes:")
		for _, c := range p.Changes {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	fmt.Fprintln(w, "Statements:")
	writeStatements(w, p.Statements, p.Diagnostics)
	for _, d := range p.Diagnostics {
		if d.Statement == nil {
			fmt.Fprintf(w, "  %s %s: %s\n", marker(d.Severity), d.Code, d.Text)
		}
	}
	if p.Truncated {
		fmt.Fprintf(w, "  ... truncated; the full plan is in ConfigMap %s\n", p.ConfigMapName)
	}
}

// writeStatements numbers statements and puts each finding under the
// statement it is about.
func writeStatements(w io.Writer, stmts []string, diags []dbv1.Diagnostic) {
	for i, stmt := range stmts {
		lines := strings.Split(strings.TrimSpace(stmt), "\n")
		fmt.Fprintf(w, "  %3d  %s\n", i+1, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "       %s\n", l)
		}
		for _, d := range diags {
			if d.Statement != nil && int(*d.Statement) == i {
				fmt.Fprintf(w, "       %s %s: %s\n", marker(d.Severity), d.Code, d.Text)
			}
		}
	}
}

func marker(s dbv1.DiagnosticSeverity) string {
	switch s {
	case dbv1.SeverityError:
		return "[error]"
	case dbv1.SeverityWarning:
		return "[warning]"
	}
	return "[info]"
}

func target(db dbv1.DatabaseConfig) string {
	if db.Type == dbv1.DatabaseTypeSQLite {
		return db.Database
	}
	return fmt.Sprintf("%s:%d/%s", db.Host, db.Port, db.Database)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// writeDiff renders the plan as a change to the schema: what it adds,
// drops and modifies, the statements that do it, and those that undo it.
func writeDiff(w io.Writer, dbm *dbv1.DatabaseMigration) {
	p := dbm.Status.Plan
	if p == nil {
		fmt.Fprintf(w, "%s has no plan yet\n", dbm.Name)
		return
	}
	fmt.Fprintf(w, "--- %s (live)\n+++ %s (after plan %s)\n", target(dbm.Spec.Database), target(dbm.Spec.Database), p.Hash)
	if len(p.Statements) == 0 {
		fmt.Fprintln(w, "no change")
		return
	}
	for _, c := range p.Changes {
		fmt.Fprintf(w, "%s %s\n", changeMarker(c), c)
	}
	fmt.Fprintln(w, "@@ forward @@")
	for _, s := range p.Statements {
		fmt.Fprintf(w, "+ %s\n", strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n+ "))
	}
	if r := dbm.Status.RollbackPlan; r != nil && len(r.Statements) > 0 {
		fmt.Fprintln(w, "@@ rollback @@")
		for _, s := range r.Statements {
			fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n- "))
		}
	}
}

// changeMarker picks a diff marker from a change summary's verb.
func changeMarker(change string) string {
	lower := strings.ToLower(change)
	switch {
	case strings.HasPrefix(lower, "add") || strings.HasPrefix(lower, "create"):
		return "+"
	case strings.HasPrefix(lower, "drop") || strings.HasPrefix(lower, "remove"):
		return "-"
	}
	return "~"
}
