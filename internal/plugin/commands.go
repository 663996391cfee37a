package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// Commands returns the cluster verbs, sharing o's kubeconfig flags. The
// verbs that take a migration's name complete it from the cluster.
func Commands(o *Options) []*cobra.Command {
	cmds := []*cobra.Command{statusCommand(o), approveCommand(o), rejectCommand(o), diffCommand(o), listCommand(o), targetsCommand(o), fleetCommand(o), promoteCommand(o), retryCommand(o)}
	for _, cmd := range cmds {
		if strings.Contains(cmd.Use, "NAME") {
			cmd.ValidArgsFunction = o.completeNames
		}
	}
	return cmds
}

func statusCommand(o *Options) *cobra.Command {
	var (
		output  string
		follow  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status NAME [-w]",
		Short: "Show a migration's phase, conditions, plan with its findings, and rollback plan (or a DatabaseMigrationSet's plan groups and waves); -w follows a migration",
		Long: `status shows where a migration stands. With -w it then follows the
migration live: a line for each change of phase, the progress of the apply
(statements, rolling steps, rows of a shadow-table copy) with the statement
it runs, until the migration succeeds (exit 0), fails or is blocked (exit 1),
or --timeout passes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if follow && output != "" {
				return errors.New("-w follows a migration for a person: it does not combine with -o")
			}
			c, dbm, err := o.get(cmd.Context(), args[0])
			if apierrors.IsNotFound(err) && !follow {
				// No migration of that name: a DatabaseMigrationSet may be.
				if _, set, setErr := o.getSet(cmd.Context(), args[0]); setErr == nil {
					if output != "" {
						return printObject(o.Streams.Out, output, set)
					}
					writeFleet(o.Streams.Out, set)
					return nil
				}
			}
			if err != nil {
				return err
			}
			if output != "" {
				return printObject(o.Streams.Out, output, dbm)
			}
			shown := showPlan(cmd.Context(), c, dbm)
			writeStatus(o.Streams.Out, paletteFor(o.Streams.Out), dbm, shown)
			if shown.fullErr != nil {
				return fmt.Errorf("the whole plan of %s cannot be shown: %w", dbm.Name, shown.fullErr)
			}
			if !follow {
				return nil
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			fmt.Fprintf(o.Streams.Out, "\nFollowing %s/%s until it succeeds, fails or is blocked:\n", dbm.Namespace, dbm.Name)
			err = followMigration(ctx, c, dbm, newFollower(o.Streams.Out))
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%s/%s did not succeed, fail or get blocked within %s", dbm.Namespace, dbm.Name, timeout)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (default: text for a person)")
	cmd.Flags().BoolVarP(&follow, "watch", "w", false, "Follow the migration until it succeeds, fails or is blocked")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "With -w, give up after this long (0: never)")
	return cmd
}

func approveCommand(o *Options) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "approve NAME",
		Short: "Show the current plan and approve exactly that plan (by its hash)",
		Long: `approve shows the plan a migration will run and, once confirmed, sets the
approved-plan annotation to the hash it showed. If the plan changes before the
approval reaches the API server, the admission webhook refuses it: what you
approve is what you saw. A plan too large for status is shown whole from its
ConfigMap, checked against the digest the operator wrote in status; when it
cannot be shown whole (the ConfigMap is missing, unreadable, or was changed
by someone else), approve refuses and approves nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, dbm, err := o.get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			plan := dbm.Status.Plan
			if plan == nil || plan.Hash == "" {
				return fmt.Errorf("%s has no plan yet (phase %s): wait for the operator to plan it", dbm.Name, orNone(string(dbm.Status.Phase)))
			}
			shown := showPlan(cmd.Context(), c, dbm)
			writePlan(o.Streams.Out, paletteFor(o.Streams.Out), shown)
			if shown.fullErr != nil {
				return fmt.Errorf("not approving plan %s of %s/%s: it cannot be shown whole: %w", plan.Hash, dbm.Namespace, dbm.Name, shown.fullErr)
			}
			if !yes {
				ok, err := confirm(o, fmt.Sprintf("Approve plan %s for %s/%s?", plan.Hash, dbm.Namespace, dbm.Name))
				if err != nil || !ok {
					return errors.Join(errors.New("not approved"), err)
				}
			}
			if err := annotate(cmd.Context(), c, dbm, map[string]*string{
				dbv1.AnnotationApprovedPlan: &plan.Hash,
				dbv1.AnnotationRejected:     nil,
			}); err != nil {
				return fmt.Errorf("approving %s: %w", dbm.Name, err)
			}
			fmt.Fprintf(o.Streams.Out, "approved plan %s of %s/%s\n", plan.Hash, dbm.Namespace, dbm.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Approve without asking for confirmation")
	return cmd
}

func rejectCommand(o *Options) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "reject NAME --reason TEXT",
		Short: "Reject the current plan with a reason; any approval is withdrawn",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason is required: say why, for whoever fixes the migration")
			}
			c, dbm, err := o.get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := annotate(cmd.Context(), c, dbm, map[string]*string{
				dbv1.AnnotationRejected:     &reason,
				dbv1.AnnotationApprovedPlan: nil,
			}); err != nil {
				return fmt.Errorf("rejecting %s: %w", dbm.Name, err)
			}
			fmt.Fprintf(o.Streams.Out, "rejected %s/%s: %s\n", dbm.Namespace, dbm.Name, reason)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "Why the plan is rejected")
	return cmd
}

func diffCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff NAME",
		Short: "Show the schema change the current plan makes, and how to take it back",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, dbm, err := o.get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			shown := showPlan(cmd.Context(), c, dbm)
			writeDiff(o.Streams.Out, dbm, shown)
			if shown.fullErr != nil {
				return fmt.Errorf("the whole plan of %s cannot be shown: %w", dbm.Name, shown.fullErr)
			}
			return nil
		},
	}
	return cmd
}

// annotate sets (or, for nil values, removes) annotations with a merge
// patch. No resourceVersion precondition: the operator writes status all
// the time, and the webhook already refuses an approved-plan that is not
// the current plan's hash, which is the race that matters.
func annotate(ctx context.Context, c client.Client, dbm *dbv1.DatabaseMigration, kv map[string]*string) error {
	base := dbm.DeepCopy()
	if dbm.Annotations == nil {
		dbm.Annotations = map[string]string{}
	}
	for k, v := range kv {
		if v == nil {
			delete(dbm.Annotations, k)
			continue
		}
		dbm.Annotations[k] = *v
	}
	return c.Patch(ctx, dbm, client.MergeFrom(base))
}

func confirm(o *Options, question string) (bool, error) {
	fmt.Fprintf(o.Streams.Out, "%s [y/N] ", question)
	line, err := bufio.NewReader(o.Streams.In).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("reading the answer: %w (use --yes when there is no terminal)", err)
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}
