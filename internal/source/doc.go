// Package source loads the SQL a DatabaseMigration refers to.
//
// A script or desired schema names its source as a URI: `inline` (the SQL is
// in the spec), `configmap://<name>/<key>` or `secret://<name>/<key>` (an
// object in the migration's namespace). ParseRef reads those URIs for the
// loader and for admission alike; References lists every ConfigMap and
// Secret an object reads so the reconciler can re-plan when one changes.
//
// Loader reads the sources through a controller-runtime client, verifies the
// checksums the spec pins, and returns scripts in execution order (Order:
// topological by dependsOn, ties in list order). Its errors tell the
// reconciler what to do: ErrNotFound means wait for the object, while
// ErrChecksumMismatch, ErrInvalidRef and ErrInvalidScripts are permanent until
// the spec or the source is fixed. No error ever carries a Secret's bytes.
package source
