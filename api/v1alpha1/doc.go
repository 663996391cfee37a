// Package v1alpha1 holds the DatabaseMigration API of kube-shift: the spec a
// team writes, the status the controller reports, and the names (condition
// types, reasons, phases, annotation keys, the finalizer) that every other
// package uses instead of string literals.
//
// +kubebuilder:object:generate=true
// +groupName=database.mohitnagaraj.in
package v1alpha1
