// Package certmanager holds the cert-manager processes of the local control
// plane's deployed mode (hack/deploy-local.sh): cert-manager's controller and
// CA injector, wired here from the packages of the cert-manager Go module at a
// pinned version, because cert-manager's own commands are separate modules the
// module proxy does not serve.
//
// It is a module of its own so that cert-manager's dependencies stay out of
// kube-shift's go.mod. Only what a SelfSigned or CA Issuer and its
// Certificates need runs: issuance, renewal, approval, readiness, the two
// issuer kinds; no ACME, Vault, Venafi, ingress or Gateway shims.
package certmanager
