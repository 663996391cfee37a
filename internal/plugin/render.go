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
	"github.com/mohit-nagaraj/kube-shift/internal/plandoc"
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

// shownPlan is the plan as the plugin shows it: status.plan and, when
// status cuts it, the whole plan from its ConfigMap (full) once verified,
// or why it could not be (fullErr).
type shownPlan struct {
	status   *dbv1.PlanStatus
	rollback *dbv1.RollbackPlan
	full     *plandoc.Document
	fullErr  error
}

// statements are the forward statements shown: all of them, or those
// status holds when the rest cannot be shown.
func (p shownPlan) statements() []string {
	if p.full != nil {
		return p.full.Statements
	}
	return p.status.Statements
}

// validations are the validation scripts shown, the same way.
func (p shownPlan) validations() []dbv1.PlannedValidation {
	if p.full != nil {
		return p.full.Validations
	}
	return p.status.Validations
}

// rollbackStatements are the rollback statements shown, the same way.
func (p shownPlan) rollbackStatements() []string {
	switch {
	case p.full != nil:
		return p.full.Rollback
	case p.rollback != nil:
		return p.rollback.Statements
	}
	return nil
}

// rollbackCut says the rollback plan shown is cut.
func (p shownPlan) rollbackCut() bool {
	return p.full == nil && p.rollback != nil && p.rollback.Truncated
}

// writeStatus renders a migration for a person: where it stands, why, and the
// plan with its findings next to the statements they are about.
func writeStatus(w io.Writer, pal palette, dbm *dbv1.DatabaseMigration, plan shownPlan) {
	s := dbm.Status
	fmt.Fprintf(w, "Name:      %s/%s\n", dbm.Namespace, dbm.Name)
	fmt.Fprintf(w, "Database:  %s\n", target(dbm))
	fmt.Fprintf(w, "Strategy:  %s\n", dbm.Spec.Migration.Strategy)
	fmt.Fprintf(w, "Phase:     %s\n", pal.phase(s.Phase))
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
		writePlan(w, pal, plan)
	}
	if rollback := plan.rollbackStatements(); len(rollback) > 0 {
		fmt.Fprintln(w, "\nRollback plan:")
		writeStatements(w, pal, rollback, nil)
		if plan.rollbackCut() {
			fmt.Fprintln(w, pal.alarm("  !! truncated: the rest cannot be shown (see above)"))
		}
	}
	if a := s.LastApplied; a != nil {
		at := ""
		if a.AppliedAt != nil {
			at = " at " + a.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "\nLast applied: %s%s, approved by %s, revision %d\n", a.PlanHash, at, orNone(a.ApprovedBy), a.Revision)
	}
}

// writePlan renders the plan a reviewer approves: whole, or, when the
// part status could not hold cannot be shown, the part it holds and why.
func writePlan(w io.Writer, pal palette, shown shownPlan) {
	p := shown.status
	stmts := shown.statements()
	computed := ""
	if p.ComputedAt != nil {
		computed = " (computed " + p.ComputedAt.UTC().Format(time.RFC3339) + ")"
	}
	fmt.Fprintf(w, "Plan %s%s\n", p.Hash, computed)
	if p.Destructive {
		fmt.Fprintln(w, pal.alarm("  !! destructive: this plan drops or may lose data"))
	}
	if len(stmts) == 0 && !p.Truncated {
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
	writeStatements(w, pal, stmts, p.Diagnostics)
	for _, d := range p.Diagnostics {
		if d.Statement == nil {
			fmt.Fprintf(w, "  %s %s: %s\n", pal.severity(d.Severity, marker(d.Severity)), d.Code, d.Text)
		}
	}
	writeValidations(w, shown.validations())
	switch {
	case shown.full != nil:
		fmt.Fprintf(w, "  (the whole plan, from ConfigMap %s: too large for status, it matches status.plan.configMapDigest)\n", p.ConfigMapName)
	case p.Truncated:
		fmt.Fprintln(w, pal.alarm(fmt.Sprintf("  !! truncated after statement %d, and the rest cannot be shown: %v", len(stmts), shown.fullErr)))
	}
}

// writeValidations prints the validation scripts a plan runs after its
// statements, indented as statements are.
func writeValidations(w io.Writer, validations []dbv1.PlannedValidation) {
	if len(validations) == 0 {
		return
	}
	fmt.Fprintln(w, "Validation scripts (run after the statements, read-only; each must return true or the apply fails):")
	for _, v := range validations {
		fmt.Fprintf(w, "  %s:\n", v.Name)
		for _, l := range strings.Split(strings.TrimSpace(v.SQL), "\n") {
			fmt.Fprintf(w, "       %s\n", l)
		}
	}
}

// writeStatements numbers statements and puts each finding under the
// statement it is about.
func writeStatements(w io.Writer, pal palette, stmts []string, diags []dbv1.Diagnostic) {
	for i, stmt := range stmts {
		lines := strings.Split(strings.TrimSpace(stmt), "\n")
		fmt.Fprintf(w, "  %3d  %s\n", i+1, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "       %s\n", l)
		}
		for _, d := range diags {
			if d.Statement != nil && int(*d.Statement) == i {
				fmt.Fprintf(w, "       %s %s: %s\n", pal.severity(d.Severity, marker(d.Severity)), d.Code, d.Text)
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

// target names a migration's database with its type.
func target(dbm *dbv1.DatabaseMigration) string {
	if db := dbm.Spec.Database; db != nil && dbm.Spec.TargetRef == nil {
		return fmt.Sprintf("%s %s", db.Type, location(dbm))
	}
	return location(dbm)
}

// location is where a migration's database is: a file, a server's
// address, or the target that says.
func location(dbm *dbv1.DatabaseMigration) string {
	db := dbm.Spec.Database
	switch {
	case dbm.Spec.TargetRef != nil:
		return dbm.Spec.TargetRef.ID(dbm.Namespace).String()
	case db == nil:
		return "<none>"
	case db.Type == dbv1.DatabaseTypeSQLite:
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
// drops and modifies, the statements that do it, the validation scripts
// that check it, and the statements that undo it.
func writeDiff(w io.Writer, dbm *dbv1.DatabaseMigration, shown shownPlan) {
	p := dbm.Status.Plan
	if p == nil {
		fmt.Fprintf(w, "%s has no plan yet\n", dbm.Name)
		return
	}
	fmt.Fprintf(w, "--- %s (live)\n+++ %s (after plan %s)\n", location(dbm), location(dbm), p.Hash)
	stmts := shown.statements()
	if len(stmts) == 0 && !p.Truncated {
		fmt.Fprintln(w, "no change")
		return
	}
	for _, c := range p.Changes {
		fmt.Fprintf(w, "%s %s\n", changeMarker(c), c)
	}
	fmt.Fprintln(w, "@@ forward @@")
	for _, s := range stmts {
		fmt.Fprintf(w, "+ %s\n", strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n+ "))
	}
	if p.Truncated && shown.full == nil {
		fmt.Fprintf(w, "!! truncated after statement %d, and the rest cannot be shown: %v\n", len(stmts), shown.fullErr)
	}
	if validations := shown.validations(); len(validations) > 0 {
		fmt.Fprintln(w, "@@ validation (run after the forward statements, read-only; each must return true) @@")
		for _, v := range validations {
			fmt.Fprintf(w, "? %s:\n?   %s\n", v.Name, strings.ReplaceAll(strings.TrimSpace(v.SQL), "\n", "\n?   "))
		}
	}
	if rollback := shown.rollbackStatements(); len(rollback) > 0 {
		fmt.Fprintln(w, "@@ rollback @@")
		for _, s := range rollback {
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
