// Package planner computes reviewed, hash-identified migration plans with
// Atlas as a library, and applies exactly the plan that was approved.
//
// Versioned mode runs the scripts' own statements: each is replayed on a dev
// database that first receives the live schema, so the schema change every
// statement causes is known, renames are recognised as renames, and Atlas's
// analyzers lint the scripts as `atlas migrate lint` would. Declarative mode
// runs Atlas's diff from the live schema to the desired one.
//
// Apply takes the database's lock, recomputes the plan, refuses it unless
// its hash is the approved one, runs it (in one transaction where the engine
// has transactional DDL, with checkpoints where it has not) and records the
// revision in kube_shift_revisions, so a plan is never applied twice.
package planner
