// Package plugin holds the cluster verbs of the kubectl-shift plugin
// (status, approve, reject, diff): what a reviewer runs against a cluster,
// with the standard kubeconfig flags.
package plugin
