package controller

import (
	"encoding/json"
	"time"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// runSettings is everything in a migration's spec, besides its SQL, that
// decides how an approved plan runs: the strategy and its settings,
// rollback, the blue-green switch, the thresholds that cut an apply short,
// integrity checks, per-script timeouts. The plan's hash covers its
// canonical text, so changing any of them after review needs a new
// approval.
type runSettings struct {
	Strategy  dbv1.MigrationStrategy `json:"strategy"`
	BatchSize int32                  `json:"batchSize"`
	Parallel  bool                   `json:"parallel"`
	BlueGreen *dbv1.BlueGreenConfig  `json:"blueGreen"`
	// ShadowTable is left out of the text when unset, so that plans
	// approved before the field existed keep their hash.
	ShadowTable    *dbv1.ShadowTableConfig     `json:"shadowTable,omitempty"`
	Rollback       *dbv1.RollbackConfig        `json:"rollback"`
	Integrity      *dbv1.DataIntegrityChecks   `json:"integrity"`
	Thresholds     *dbv1.PerformanceThresholds `json:"thresholds"`
	ScriptTimeouts map[string]time.Duration    `json:"scriptTimeouts"`
}

// settingsText is the canonical text of dbm's run settings: encoding/json
// writes struct fields in declaration order and map keys sorted, so the
// same settings give the same text in any process.
func settingsText(dbm *dbv1.DatabaseMigration) string {
	m := dbm.Spec.Migration
	s := runSettings{
		Strategy:       m.Strategy,
		BatchSize:      m.BatchSize,
		Parallel:       m.Parallel,
		BlueGreen:      m.BlueGreen,
		ShadowTable:    m.ShadowTable,
		Rollback:       dbm.Spec.Rollback,
		ScriptTimeouts: map[string]time.Duration{},
	}
	if v := dbm.Spec.Validation; v != nil {
		s.Integrity, s.Thresholds = v.DataIntegrityChecks, v.PerformanceThresholds
	}
	for _, sc := range m.Scripts {
		if sc.Timeout != nil {
			s.ScriptTimeouts[sc.Name] = sc.Timeout.Duration
		}
	}
	out, err := json.Marshal(s)
	if err != nil {
		// Plain data always encodes; a failure here is a programming error.
		panic("encoding run settings: " + err.Error())
	}
	return string(out)
}
