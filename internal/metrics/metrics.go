// Package metrics defines kube-shift's Prometheus metrics, registered with
// controller-runtime's registry so they are served on the manager's metrics
// endpoint next to the controller's own.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Result labels.
const (
	ResultSuccess = "success"
	ResultError   = "error"
	ResultRefused = "refused"
)

var (
	// Plans counts plan computations by result.
	Plans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_shift_plans_total",
		Help: "Plans computed, by result (success, error).",
	}, []string{"result"})

	// Applies counts applies by result.
	Applies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_shift_applies_total",
		Help: "Applies attempted, by result (success, error, refused: the live schema moved or the plan was applied already).",
	}, []string{"result"})

	// PlanDuration observes how long a plan takes.
	PlanDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kube_shift_plan_duration_seconds",
		Help:    "Time to compute a plan: load scripts, inspect, replay on the dev database, lint.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	})

	// ApplyDuration observes how long an apply takes.
	ApplyDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kube_shift_apply_duration_seconds",
		Help:    "Time to apply an approved plan, lock to revision record.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
	})

	// PlanCache counts the planner's plan cache lookups by result.
	PlanCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_shift_plan_cache_lookups_total",
		Help: "Plan cache lookups, by result (hit: a plan or apply took the plan computed before for the same target, live schema and input; miss).",
	}, []string{"result"})

	// WebhookDenials counts admission denials by reason.
	WebhookDenials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kube_shift_webhook_denials_total",
		Help: "DatabaseMigration admission requests denied, by reason.",
	}, []string{"reason"})
)

func init() {
	metrics.Registry.MustRegister(Plans, Applies, PlanDuration, ApplyDuration, PlanCache, WebhookDenials)
}
