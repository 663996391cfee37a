// Package gcpolicy sets how often the manager's garbage collector runs.
//
// Go's default (GOGC=100) collects each time the heap doubles. The
// manager's live heap is small, so under a burst of admission reviews it
// collected many times a second, and a handler that allocated during a
// collection helped mark the heap before it could answer: in
// BenchmarkAdmission (50 clients creating migrations) the validating
// handler's p99 was 8-10 ms at GOGC=100 and about 5 ms at 400, with less
// of the manager's CPU spent. The manager collects at Percent instead,
// bounded by a soft memory limit below its container's, so a large heap
// makes the collector work harder rather than the container run out of
// memory.
package gcpolicy

import (
	"fmt"
	"runtime/debug"
	"strconv"
)

const (
	// Percent is the GOGC the manager runs at unless GOGC is set.
	Percent = 400
	// LimitFraction of the container's memory limit is the soft memory
	// limit the manager runs under unless GOMEMLIMIT is set.
	LimitFraction = 0.9
	// MemoryLimitEnv holds the container's memory limit in bytes (the
	// Deployment sets it from limits.memory).
	MemoryLimitEnv = "KUBE_SHIFT_MEMORY_LIMIT"
)

// Settings say what Apply set: zero for what it left as the runtime had it.
type Settings struct {
	Percent int
	Limit   int64
}

func (s Settings) String() string {
	gc := "GOGC from the environment"
	if s.Percent != 0 {
		gc = fmt.Sprintf("GOGC=%d", s.Percent)
	}
	if s.Limit == 0 {
		return gc + ", no memory limit set"
	}
	return fmt.Sprintf("%s, soft memory limit %d MiB", gc, s.Limit>>20)
}

// Apply sets the collector's percent and soft memory limit from getenv
// (see Plan), and returns what it set. A limit it cannot read sets none.
func Apply(getenv func(string) string) (Settings, error) {
	s, err := Plan(getenv)
	if s.Percent != 0 {
		debug.SetGCPercent(s.Percent)
	}
	if s.Limit != 0 {
		debug.SetMemoryLimit(s.Limit)
	}
	return s, err
}

// Plan is what Apply sets: GOGC and GOMEMLIMIT, where set, are the
// runtime's and stay; otherwise Percent, and LimitFraction of
// MemoryLimitEnv when that holds a limit (0: none). The error says the
// limit is not a number of bytes.
func Plan(getenv func(string) string) (Settings, error) {
	var s Settings
	if getenv("GOGC") == "" {
		s.Percent = Percent
	}
	raw := getenv(MemoryLimitEnv)
	if getenv("GOMEMLIMIT") != "" || raw == "" {
		return s, nil
	}
	limit, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || limit < 0 {
		return s, fmt.Errorf("%s=%q is not a number of bytes: no memory limit set", MemoryLimitEnv, raw)
	}
	s.Limit = int64(float64(limit) * LimitFraction)
	return s, nil
}
