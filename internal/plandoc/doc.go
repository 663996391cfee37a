// Package plandoc is the full plan as the operator spills it into a
// ConfigMap when it is too large for status: how the controller encodes it,
// and the check every reader makes before trusting it.
//
// Anyone allowed to write ConfigMaps in the namespace can edit that
// ConfigMap; only the controller writes status. So status.plan carries the
// sha256 of the plan.json bytes the controller wrote (configMapDigest), and
// Verify shows a reader the ConfigMap's plan only when it hashes to that
// digest, names the plan hash in status, and its plan.sql is the rendering
// of its plan.json.
package plandoc
