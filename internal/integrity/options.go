package integrity

import (
	"fmt"
	"slices"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// defaultSpecPercentage is the API's default samplePercentage; it applies
// when the field is unset.
const defaultSpecPercentage = 10

// Options say how much of each table a capture reads. A comparison
// (Recheck, CaptureLike) must be given the settings the capture it
// compares with was taken with.
type Options struct {
	// SamplePercentage is the share of rows, by primary key, that the
	// checksum covers: 1 to 100; 0 means 100.
	SamplePercentage int
	// Checksum turns the checksum on; without it only rows are counted.
	Checksum bool
	// Exclude names tables not to capture or compare: the tables a data
	// script is expected to change.
	Exclude []string
}

// OptionsFor turns the API's dataIntegrityChecks into Options, with the
// API's defaults for unset fields, and reports whether the checks are
// enabled at all. A missing block means no checks.
func OptionsFor(spec *dbv1.DataIntegrityChecks) (Options, bool) {
	if spec == nil || (spec.Enabled != nil && !*spec.Enabled) {
		return Options{}, false
	}
	opts := Options{
		SamplePercentage: int(spec.SamplePercentage),
		Checksum:         spec.ChecksumValidation == nil || *spec.ChecksumValidation,
	}
	if opts.SamplePercentage == 0 {
		opts.SamplePercentage = defaultSpecPercentage
	}
	return opts, true
}

// normalized returns o with 0 read as 100, or an error for a percentage
// outside 0..100: a wrong sample would silently check nothing.
func (o Options) normalized() (Options, error) {
	if o.SamplePercentage < 0 || o.SamplePercentage > 100 {
		return o, fmt.Errorf("sample percentage %d is outside 1..100", o.SamplePercentage)
	}
	if o.SamplePercentage == 0 {
		o.SamplePercentage = 100
	}
	return o, nil
}

// excluded reports whether table is in the Exclude list.
func (o Options) excluded(table string) bool {
	return slices.Contains(o.Exclude, table)
}
