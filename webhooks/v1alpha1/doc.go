// Package v1alpha1 holds the admission webhooks for DatabaseMigration: a
// defaulter that fills per-type defaults and stamps who created and who
// approved, and a validator that lints the spec and enforces the approval
// rules.
package v1alpha1
