// Command kubectl-shift is the kube-shift kubectl plugin: offline plan and
// apply against a database URL, and the cluster verbs a reviewer uses.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := newRootCommand(streams).Execute(); err != nil {
		os.Exit(exitCode(err))
	}
}
