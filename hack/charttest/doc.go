// Package charttest checks the Helm chart in charts/kube-shift: it renders the
// chart with helm template (the version pinned in the Makefile, built into
// bin/ by `make helm`) and asserts that the render is the install
// `kustomize build config/default` gives, that the values map to the
// manager's flags and objects, and that the chart's CRDs are the generated
// ones. It holds tests only.
package charttest
