package controller

import (
	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/integrity"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
)

// The SQL core (planner, database, sqlstatic, integrity, shadow, bluegreen)
// imports nothing of Kubernetes: the controller turns the API's types into
// the core's here. Enumerations keep the API's strings, so each is a plain
// conversion; convert_test.go keeps the two lists the same.

// databaseConfig is the connection part of a migration's database block;
// the Secret it names is read by resolveTarget.
func databaseConfig(cfg dbv1.DatabaseConfig) database.Config {
	return database.Config{
		Kind:     database.Kind(cfg.Type),
		Host:     cfg.Host,
		Port:     cfg.Port,
		Database: cfg.Database,
		SSLMode:  database.SSLMode(cfg.SSLMode),
	}
}

// defaultSamplePercentage is the API's default samplePercentage; it applies
// when the field is unset.
const defaultSamplePercentage = 10

// integrityOptions turns spec.validation.dataIntegrityChecks into the
// options of a capture, with the API's defaults for unset fields, and
// reports whether the checks are enabled at all. A missing block means no
// checks.
func integrityOptions(spec *dbv1.DataIntegrityChecks) (integrity.Options, bool) {
	if spec == nil || (spec.Enabled != nil && !*spec.Enabled) {
		return integrity.Options{}, false
	}
	opts := integrity.Options{
		SamplePercentage: int(spec.SamplePercentage),
		Checksum:         spec.ChecksumValidation == nil || *spec.ChecksumValidation,
	}
	if opts.SamplePercentage == 0 {
		opts.SamplePercentage = defaultSamplePercentage
	}
	return opts, true
}

// diagnostics turns the planner's findings into the API's.
func diagnostics(in []planner.Diagnostic) []dbv1.Diagnostic {
	if in == nil {
		return nil
	}
	out := make([]dbv1.Diagnostic, len(in))
	for i, d := range in {
		out[i] = dbv1.Diagnostic{Code: d.Code, Severity: dbv1.DiagnosticSeverity(d.Severity), Text: d.Text, Statement: d.Statement}
	}
	return out
}
