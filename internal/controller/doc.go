// Package controller holds the DatabaseMigration reconciler: it plans a
// migration into status, waits for a reviewer's approval of that exact plan,
// applies it under a database lock and reports what happened.
package controller
