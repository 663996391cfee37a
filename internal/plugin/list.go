package plugin

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

func listCommand(o *Options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list [-A]",
		Short: "List migrations with their phase and what each one waits for",
		Long: `list shows the migrations of the namespace (all namespaces with -A) and,
for each one that is not done, what it waits for: a reviewer's approval (and
who may give it), a change to a blocked plan, the database lock another
migration's apply holds, a free apply worker, a source or target that does
not exist yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			var opts []client.ListOption
			if !all {
				opts = append(opts, client.InNamespace(ns))
			}
			list := &dbv1.DatabaseMigrationList{}
			if err := c.List(cmd.Context(), list, opts...); err != nil {
				return err
			}
			if len(list.Items) == 0 {
				where := "namespace " + ns
				if all {
					where = "any namespace"
				}
				fmt.Fprintf(o.Streams.Out, "No DatabaseMigrations in %s.\n", where)
				return nil
			}
			writeList(o.Streams.Out, paletteFor(o.Streams.Out), list.Items, all, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List the migrations of every namespace")
	return cmd
}

// writeList prints one row per migration, sorted by namespace and name.
func writeList(out io.Writer, pal palette, items []dbv1.DatabaseMigration, namespaces bool, now time.Time) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if namespaces {
		fmt.Fprint(w, "NAMESPACE\t")
	}
	fmt.Fprintln(w, "NAME\tPHASE\tDATABASE\tAGE\tWAITING FOR")
	for i := range items {
		dbm := &items[i]
		if namespaces {
			fmt.Fprintf(w, "%s\t", dbm.Namespace)
		}
		// Every phase cell is painted (or none is), so tabwriter, which
		// counts escapes as width, still lines the column up.
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", dbm.Name, pal.phase(dbm.Status.Phase), location(dbm),
			duration.HumanDuration(now.Sub(dbm.CreationTimestamp.Time)), waitingFor(dbm, items))
	}
	_ = w.Flush()
}

// waitingFor says what, or whom, a migration waits for; "-" when it waits
// for nothing (done, or applying).
func waitingFor(dbm *dbv1.DatabaseMigration, all []dbv1.DatabaseMigration) string {
	s := dbm.Status
	if current(dbm) && (s.Phase == dbv1.PhaseSucceeded || s.Phase == dbv1.PhaseFailed) {
		if s.Phase == dbv1.PhaseFailed {
			return "a fix: " + orNone(s.Reason)
		}
		return "-"
	}
	if applied := meta.FindStatusCondition(s.Conditions, dbv1.ConditionApplied); applied != nil && applied.Status == metav1.ConditionFalse {
		switch applied.Reason {
		case dbv1.ReasonLockBusy, dbv1.ReasonApplyQueued:
			if holders := lockHolders(dbm, all); len(holders) > 0 {
				return "the lock of " + location(dbm) + ", held by the apply of " + strings.Join(holders, ", ")
			}
			if applied.Reason == dbv1.ReasonLockBusy {
				return "the lock of " + location(dbm) + ", held by an apply not listed here"
			}
			return "a free apply worker"
		}
	}
	switch s.Phase {
	case dbv1.PhaseAwaitingApproval:
		return approvalWait(dbm)
	case dbv1.PhaseAwaitingSwitch:
		return "a reviewer to switch traffic to the green database"
	case dbv1.PhaseBlocked:
		switch s.Reason {
		case dbv1.ReasonRejected:
			return "a new plan: rejected: " + dbm.Annotations[dbv1.AnnotationRejected]
		case dbv1.ReasonDestructiveBlocked:
			return "a change: the plan is destructive and policy.destructive is block"
		}
		return "a change: " + orNone(s.Reason)
	case dbv1.PhaseRunning, dbv1.PhaseRollingBack:
		if p := s.Progress; p != nil && p.TotalSteps > 0 {
			return fmt.Sprintf("- (applying: %d/%d statements)", p.CompletedSteps, p.TotalSteps)
		}
		return "-"
	}
	if planned := meta.FindStatusCondition(s.Conditions, dbv1.ConditionPlanned); planned != nil && planned.Status == metav1.ConditionFalse && planned.Reason != dbv1.ReasonPlanning {
		return planned.Reason + ": " + abbreviate(planned.Message, 80)
	}
	return "the operator's plan"
}

// current says the status describes the migration's spec as it is.
func current(dbm *dbv1.DatabaseMigration) bool {
	return dbm.Status.ObservedGeneration == dbm.Generation
}

// approvalWait names who may approve: the migration's reviewers, or
// anyone granted the approve verb.
func approvalWait(dbm *dbv1.DatabaseMigration) string {
	who := "anyone granted the approve verb"
	if rs := dbm.Spec.Policy.Reviewers; len(rs) > 0 {
		var names []string
		for _, r := range rs {
			names = append(names, string(r.Kind)+" "+r.Name)
		}
		who = strings.Join(names, ", ") + " (policy.reviewers)"
	}
	if dbm.Spec.TargetRef != nil {
		who += " that the target's policy allows"
	}
	switch dbm.Status.Reason {
	case dbv1.ReasonApprovalMismatch:
		return "approval of the current plan by " + who + ": the approved hash is an older plan's"
	case dbv1.ReasonPolicyNotGranted:
		return "approval by " + who + ": policy.approval auto is not granted"
	}
	return "approval by " + who
}

// lockHolders are the migrations among all applying to dbm's database.
func lockHolders(dbm *dbv1.DatabaseMigration, all []dbv1.DatabaseMigration) []string {
	var out []string
	key := dbm.DatabaseKey()
	for i := range all {
		other := &all[i]
		if other.UID == dbm.UID || other.DatabaseKey() != key {
			continue
		}
		if (other.Status.Phase == dbv1.PhaseRunning || other.Status.Phase == dbv1.PhaseRollingBack) && other.Status.Reason != dbv1.ReasonApplyQueued {
			out = append(out, other.Namespace+"/"+other.Name)
		}
	}
	return out
}

// abbreviate keeps text to n characters on one line.
func abbreviate(text string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	if len(text) <= n {
		return text
	}
	return text[:n-3] + "..."
}
