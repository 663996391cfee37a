package integrity

import (
	"fmt"
	"slices"
)

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
