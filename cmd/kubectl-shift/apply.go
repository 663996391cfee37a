package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

func applyCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var (
		flags      offlineFlags
		expectHash string
	)
	cmd := &cobra.Command{
		Use:   "apply --url URL (--file F ... | --dir D | --desired F) --expect-hash HASH",
		Short: "Apply exactly the reviewed plan, under the database's lock, without a cluster",
		Long: `apply takes the database's migration lock, recomputes the plan and runs it
only if its hash is --expect-hash; otherwise it changes nothing. A plan
already recorded in kube_shift_revisions is not run again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, pl, in, err := flags.load()
			if err != nil {
				return err
			}
			identity := "kubectl-shift"
			if host, err := os.Hostname(); err == nil {
				identity += "@" + host
			}
			res, err := pl.Apply(cmd.Context(), target, in, planner.ApplyOptions{
				ExpectHash: expectHash,
				Identity:   identity,
				Approver:   os.Getenv("USER"),
				Progress: func(done, total int, current string) {
					fmt.Fprintf(streams.ErrOut, "[%d/%d] %s\n", done, total, current)
				},
			})
			if err != nil {
				return err
			}
			if res.AlreadyApplied {
				fmt.Fprintf(streams.Out, "plan %s was already applied (revision %d): nothing to do\n", expectHash, res.Revision)
				return nil
			}
			fmt.Fprintf(streams.Out, "applied plan %s: %d statements (revision %d)\n", res.Plan.Hash, len(res.Plan.Statements), res.Revision)
			return nil
		},
	}
	flags.register(cmd)
	cmd.Flags().StringVar(&expectHash, "expect-hash", "", "Hash of the reviewed plan (from plan); any other plan is refused")
	_ = cmd.MarkFlagRequired("expect-hash")
	return cmd
}
