package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/mohit-nagaraj/kube-shift/internal/plugin"
)

// newRootCommand assembles the plugin: the offline verbs (plan, apply,
// lint), which need only files and a database URL, the cluster verbs from
// internal/plugin, which need a kubeconfig, and cobra's completion command
// (whose scripts ask the cluster verbs for migration names).
func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "kubectl-shift",
		Short:         "Plan, review and apply database schema migrations",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)

	root.AddCommand(planCommand(streams), applyCommand(streams), lintCommand(streams))

	kube := &plugin.Options{Flags: genericclioptions.NewConfigFlags(true), Streams: streams}
	for _, cmd := range plugin.Commands(kube) {
		// Only the cluster verbs take the kubeconfig flags, and their
		// subcommands (kubectl shift fleet status) too.
		kube.Flags.AddFlags(cmd.PersistentFlags())
		root.AddCommand(cmd)
	}
	return root
}
