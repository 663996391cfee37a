// Package archtest holds tests of the repository's layering, not code:
// the SQL core (planner, engines, static checks, strategies) imports
// nothing of Kubernetes, the API types included, so that it can be used
// and tested without a cluster and the controller stays its only edge.
package archtest
