// Package sqlstatic checks SQL without a database: it splits a script into
// statements and flags the ones that are destructive on their face.
//
// Admission uses it to refuse a bad or destructive script before anything is
// stored; the planner uses Split to get the statements it runs. Splitting is
// Atlas's own statement scanner (sql/migrate), configured per engine as
// Atlas's drivers configure it, so the statements checked here are the
// statements that run. The checks then read each statement as tokens,
// so a keyword inside a string literal, a quoted identifier or a comment
// never counts.
//
// The checks are static: they see `DELETE FROM t` without WHERE, not
// whether t holds any rows. The planner's Atlas analyzers, run against a dev
// database, have the last word; these catch the obvious early and cheaply.
package sqlstatic
