package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

var migrationsDesc = prometheus.NewDesc("kube_shift_migrations", "DatabaseMigrations by phase.", []string{"phase"}, nil)

// phaseCollector counts DatabaseMigrations by phase at scrape time, from the
// manager's cache, so the figure is right after a restart and never drifts
// the way an incremented gauge would.
type phaseCollector struct {
	reader client.Reader
}

// RegisterPhaseCollector serves kube_shift_migrations from reader.
func RegisterPhaseCollector(reader client.Reader) error {
	err := metrics.Registry.Register(phaseCollector{reader: reader})
	if _, already := err.(prometheus.AlreadyRegisteredError); already {
		return nil
	}
	return err
}

func (c phaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- migrationsDesc }

func (c phaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list dbv1.DatabaseMigrationList
	if err := c.reader.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(migrationsDesc, err)
		return
	}
	counts := map[dbv1.MigrationPhase]int{}
	for _, dbm := range list.Items {
		phase := dbm.Status.Phase
		if phase == "" {
			phase = dbv1.PhasePending
		}
		counts[phase]++
	}
	for phase, n := range counts {
		ch <- prometheus.MustNewConstMetric(migrationsDesc, prometheus.GaugeValue, float64(n), string(phase))
	}
}
