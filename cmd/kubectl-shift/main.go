// Command kubectl-shift is the kube-shift kubectl plugin: offline plan and
// apply against a database URL, and the cluster verbs a reviewer uses.
package main

import (
	"os"
	"path/filepath"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := newRootCommand(streams)
	root.SetArgs(arguments(os.Args[0], os.Args[1:]))
	if err := root.Execute(); err != nil {
		os.Exit(exitCode(err))
	}
}

// completerName is the name kubectl gives the program that completes a
// plugin's arguments: `kubectl shift <TAB>` runs kubectl_complete-shift
// with the words typed so far.
const completerName = "kubectl_complete-shift"

// arguments are the plugin's arguments: args, or, when it runs under
// completerName (a link to it), the request for cobra's completions of
// args.
func arguments(argv0 string, args []string) []string {
	if filepath.Base(argv0) == completerName {
		return append([]string{"__complete"}, args...)
	}
	return args
}
