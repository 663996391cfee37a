package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// progressWidth is how many cells a wave's progress bar has.
const progressWidth = 30

// fleetCommand groups the verbs on DatabaseMigrationSets.
func fleetCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Review and roll out a DatabaseMigrationSet: one change for many targets",
	}
	cmd.AddCommand(fleetStatusCommand(o), fleetApproveCommand(o), promoteCommand(o), retryCommand(o))
	return cmd
}

// getSet fetches one DatabaseMigrationSet by name.
func (o *Options) getSet(ctx context.Context, name string) (client.Client, *dbv1.DatabaseMigrationSet, error) {
	c, ns, err := o.client()
	if err != nil {
		return nil, nil, err
	}
	set := &dbv1.DatabaseMigrationSet{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, set); err != nil {
		return nil, nil, fmt.Errorf("getting databasemigrationset %s/%s: %w", ns, name, err)
	}
	return c, set, nil
}

func fleetStatusCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status SET",
		Short: "Show a set's plan groups, its waves with their progress, and its failures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, set, err := o.getSet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if output != "" {
				return printObject(o.Streams.Out, output, set)
			}
			writeFleet(o.Streams.Out, set)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml (default: text for a person)")
	return cmd
}

func fleetApproveCommand(o *Options) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "approve SET",
		Short: "Show the distinct plans waiting for review and approve exactly that fleet (by its hash)",
		Long: `approve shows each distinct plan among the set's targets that waits for a
reviewer, with how many targets have it, and once confirmed sets the
approved-fleet annotation to the fleet hash it showed: a hash over every
(target, plan) pair. A target that joins, or a plan that changes, before the
approval reaches the API server changes the fleet hash, and the admission
webhook refuses the approval. A plan too long for status is read whole from
its migration; when it cannot be, approve refuses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, set, err := o.getSet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fleet := set.Status.FleetHash
			if fleet == "" {
				return fmt.Errorf("%s has no fleet to approve (phase %s): %s", set.Name, orNone(string(set.Status.Phase)), set.Status.Message)
			}
			if err := writeFleetPlans(cmd.Context(), c, o.Streams.Out, set); err != nil {
				return fmt.Errorf("not approving fleet %s of %s/%s: %w", fleet, set.Namespace, set.Name, err)
			}
			if !yes {
				ok, err := confirm(o, fmt.Sprintf("Approve fleet %s (%d targets) of %s/%s?", fleet, len(dbv1.FleetPairs(set.Status.Targets)), set.Namespace, set.Name))
				if err != nil || !ok {
					return errors.Join(errors.New("not approved"), err)
				}
			}
			if err := annotateSet(cmd.Context(), c, set, dbv1.AnnotationApprovedFleet, fleet); err != nil {
				return fmt.Errorf("approving %s: %w", set.Name, err)
			}
			fmt.Fprintf(o.Streams.Out, "approved fleet %s of %s/%s\n", fleet, set.Namespace, set.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Approve without asking for confirmation")
	return cmd
}

func promoteCommand(o *Options) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "promote SET",
		Short: "Let a set's rollout go on past its canary",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, set, err := o.getSet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			approved := set.Status.Approved
			if approved == nil {
				return fmt.Errorf("%s has no approved fleet to promote: approve it first (kubectl shift fleet approve %s)", set.Name, set.Name)
			}
			writeFleet(o.Streams.Out, set)
			if !yes {
				ok, err := confirm(o, fmt.Sprintf("Promote fleet %s of %s/%s past its canary?", approved.Hash, set.Namespace, set.Name))
				if err != nil || !ok {
					return errors.Join(errors.New("not promoted"), err)
				}
			}
			if err := annotateSet(cmd.Context(), c, set, dbv1.AnnotationPromoted, approved.Hash); err != nil {
				return fmt.Errorf("promoting %s: %w", set.Name, err)
			}
			fmt.Fprintf(o.Streams.Out, "promoted fleet %s of %s/%s\n", approved.Hash, set.Namespace, set.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "Promote without asking for confirmation")
	return cmd
}

func retryCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "retry SET",
		Short: "Plan a stalled set's failed targets again, and count its failure budget from zero",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, set, err := o.getSet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			token := time.Now().UTC().Format(time.RFC3339Nano)
			if err := annotateSet(cmd.Context(), c, set, dbv1.AnnotationRetry, token); err != nil {
				return fmt.Errorf("retrying %s: %w", set.Name, err)
			}
			fmt.Fprintf(o.Streams.Out, "retrying %d failed targets of %s/%s\n", set.Status.Counts.Failed, set.Namespace, set.Name)
			return nil
		},
	}
}

// annotateSet sets one annotation with a merge patch.
func annotateSet(ctx context.Context, c client.Client, set *dbv1.DatabaseMigrationSet, key, value string) error {
	base := set.DeepCopy()
	if set.Annotations == nil {
		set.Annotations = map[string]string{}
	}
	set.Annotations[key] = value
	return c.Patch(ctx, set, client.MergeFrom(base))
}

// writeFleet renders a set for a person: where it stands, its plan
// groups, a progress bar per wave, and its failures.
func writeFleet(w io.Writer, set *dbv1.DatabaseMigrationSet) {
	s := set.Status
	fmt.Fprintf(w, "Name:      %s/%s\n", set.Namespace, set.Name)
	fmt.Fprintf(w, "Phase:     %s\n", orNone(string(s.Phase)))
	fmt.Fprintf(w, "Message:   %s\n", orNone(s.Message))
	fmt.Fprintf(w, "Targets:   %d (%d succeeded, %d running, %d waiting, %d unapproved, %d planning, %d failed)\n",
		s.Counts.Total, s.Counts.Succeeded, s.Counts.Running, s.Counts.Waiting, s.Counts.Unapproved, s.Counts.Planning, s.Counts.Failed)
	if s.FleetHash != "" {
		fmt.Fprintf(w, "Fleet:     %s (waiting for a reviewer)\n", s.FleetHash)
	}
	if s.Approved != nil {
		fmt.Fprintf(w, "Approved:  %s by %s\n", s.Approved.Hash, s.Approved.By)
	}
	fmt.Fprintf(w, "\nPlans (%d distinct):\n", len(s.Plans))
	for i, p := range s.Plans {
		fmt.Fprintf(w, "  [%d] %d targets, %d statements%s: %s\n", i+1, p.Targets, len(p.Statements), cutNote(p.Truncated), strings.Join(p.Examples, ", "))
	}
	fmt.Fprintf(w, "\nWaves:\n")
	var waves []int32
	for _, t := range s.Targets {
		if !slices.Contains(waves, t.Wave) {
			waves = append(waves, t.Wave)
		}
	}
	slices.Sort(waves)
	for _, wave := range waves {
		var total, done, running int
		for _, t := range s.Targets {
			if t.Wave != wave {
				continue
			}
			total++
			switch t.State {
			case dbv1.FleetSucceeded, dbv1.FleetFailed:
				done++
			case dbv1.FleetRunning:
				running++
			}
		}
		name := fmt.Sprintf("wave %d", wave)
		if wave == 0 {
			name = "canary"
		} else if steps := set.Spec.Rollout.Steps; int(wave) <= len(steps) {
			name = fmt.Sprintf("wave %d (%s)", wave, steps[wave-1].Name)
		}
		current := ""
		if wave == s.Wave && done < total {
			current = "  <- now"
		}
		fmt.Fprintf(w, "  %-24s %s %d/%d, %d running%s\n", name, progressBar(done, running, total), done, total, running, current)
	}
	var failed []dbv1.FleetTarget
	for _, t := range s.Targets {
		if t.State == dbv1.FleetFailed {
			failed = append(failed, t)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nFailed:\n")
		for _, t := range failed {
			fmt.Fprintf(w, "  %s (%s): %s\n", t.Target, t.Migration, t.Message)
		}
	}
}

// writeFleetPlans prints every distinct plan waiting for review, whole:
// a group cut in the set's status is read from one of its migrations.
func writeFleetPlans(ctx context.Context, c client.Client, w io.Writer, set *dbv1.DatabaseMigrationSet) error {
	waiting := map[string]bool{}
	for _, p := range dbv1.FleetPairs(set.Status.Targets) {
		waiting[p.Target] = true
	}
	migrations := map[string]string{}
	for _, t := range set.Status.Targets {
		migrations[t.Target] = t.Migration
	}
	fmt.Fprintf(w, "Fleet %s of %s/%s: %d targets wait for review\n", set.Status.FleetHash, set.Namespace, set.Name, len(waiting))
	for i, p := range set.Status.Plans {
		fmt.Fprintf(w, "\nPlan [%d] on %d targets (%s)%s:\n", i+1, p.Targets, strings.Join(p.Examples, ", "), destructiveNote(p.Destructive))
		stmts, validations := p.Statements, p.Validations
		if p.Truncated {
			full, err := wholeGroupPlan(ctx, c, set, p, migrations)
			if err != nil {
				return fmt.Errorf("plan [%d] cannot be shown whole: %w", i+1, err)
			}
			stmts, validations = full.statements(), full.validations()
		}
		writeStatements(w, paletteFor(w), stmts, p.Diagnostics)
		writeValidations(w, validations)
	}
	return nil
}

// wholeGroupPlan reads a cut plan group's whole plan from a migration
// that has it.
func wholeGroupPlan(ctx context.Context, c client.Client, set *dbv1.DatabaseMigrationSet, p dbv1.FleetPlan, migrations map[string]string) (shownPlan, error) {
	if len(p.Examples) == 0 {
		return shownPlan{}, errors.New("the group names no target")
	}
	dbm := &dbv1.DatabaseMigration{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: migrations[p.Examples[0]]}, dbm); err != nil {
		return shownPlan{}, err
	}
	shown := showPlan(ctx, c, dbm)
	if shown.fullErr != nil {
		return shownPlan{}, shown.fullErr
	}
	return shown, nil
}

// progressBar draws done cells, then running ones, out of total.
func progressBar(done, running, total int) string {
	if total == 0 {
		return "[" + strings.Repeat(".", progressWidth) + "]"
	}
	d := done * progressWidth / total
	r := min(progressWidth-d, (done+running)*progressWidth/total-d)
	return "[" + strings.Repeat("#", d) + strings.Repeat(">", r) + strings.Repeat(".", progressWidth-d-r) + "]"
}

func cutNote(cut bool) string {
	if cut {
		return " (cut: more in its migrations)"
	}
	return ""
}

func destructiveNote(d bool) string {
	if d {
		return ", DESTRUCTIVE"
	}
	return ""
}
