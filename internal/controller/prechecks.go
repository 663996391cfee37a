package controller

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// runPreChecks runs spec.validation.preChecks against the target and says
// how each came out. Nothing is tried on the target: the checks read the
// server's version, its privilege catalogue and its sizes. An error is a
// check that could not run at all (the database is unreachable): transient.
func runPreChecks(ctx context.Context, dbm *dbv1.DatabaseMigration, target *database.Target) ([]dbv1.PreCheckResult, error) {
	v := dbm.Spec.Validation
	if v == nil || len(v.PreChecks) == 0 {
		return nil, nil
	}
	db, err := target.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("pre-check connection: %w", err)
	}
	defer func() { _ = db.Close() }()
	var results []dbv1.PreCheckResult
	for _, c := range v.PreChecks {
		r := dbv1.PreCheckResult{Type: c.Type}
		switch c.Type {
		case dbv1.PreCheckConnection:
			version, err := target.Engine.ServerVersion(ctx, db)
			if err != nil {
				return nil, fmt.Errorf("pre-check connection: %w", err)
			}
			r.Outcome, r.Message = dbv1.PreCheckPassed, "connected to "+version
		case dbv1.PreCheckPermissions:
			missing, err := target.Engine.MissingPrivileges(ctx, db, target.Schema())
			if err != nil {
				return nil, fmt.Errorf("pre-check permissions: %w", err)
			}
			r.Outcome, r.Message = dbv1.PreCheckPassed, "the user holds what a migration needs on "+target.Schema()
			if len(missing) > 0 {
				r.Outcome, r.Message = dbv1.PreCheckFailed, "the database user lacks "+strings.Join(missing, ", ")
			}
		case dbv1.PreCheckDiskSpace:
			usage, err := target.Engine.DiskUsage(ctx, db, target.URL)
			if err != nil {
				return nil, fmt.Errorf("pre-check disk-space: %w", err)
			}
			r.Outcome, r.Message = diskSpace(usage, c.Threshold)
		}
		results = append(results, r)
	}
	return results, nil
}

// diskSpace judges a database's size against threshold, the space it may
// use: the size must be under it, and where the engine shows free space,
// there must be room to grow to it. Where it cannot tell, the outcome is
// Unknown, never a silent pass.
func diskSpace(u database.DiskUsage, threshold string) (dbv1.PreCheckOutcome, string) {
	used := resource.NewQuantity(u.Used, resource.BinarySI).String()
	if threshold == "" {
		if !u.FreeKnown {
			return dbv1.PreCheckUnknown, fmt.Sprintf("the database uses %s; no threshold, and %s", used, u.Why)
		}
		return dbv1.PreCheckPassed, fmt.Sprintf("the database uses %s; %s free", used, resource.NewQuantity(u.Free, resource.BinarySI))
	}
	limit, err := parseSize(threshold)
	if err != nil {
		return dbv1.PreCheckFailed, fmt.Sprintf("threshold %q is not a size: %v", threshold, err)
	}
	switch {
	case u.Used > limit:
		return dbv1.PreCheckFailed, fmt.Sprintf("the database uses %s, over the threshold %s", used, threshold)
	case !u.FreeKnown:
		return dbv1.PreCheckUnknown, fmt.Sprintf("the database uses %s, under the threshold %s; free space unknown: %s", used, threshold, u.Why)
	case u.Free < limit-u.Used:
		return dbv1.PreCheckFailed, fmt.Sprintf("the database uses %s and may grow to %s, but only %s is free", used, threshold,
			resource.NewQuantity(u.Free, resource.BinarySI))
	}
	return dbv1.PreCheckPassed, fmt.Sprintf("the database uses %s, under the threshold %s, with %s free", used, threshold,
		resource.NewQuantity(u.Free, resource.BinarySI))
}

// parseSize reads sizes as people write them ("50GB", "500MB", "20Gi")
// into bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n := len(s); n > 1 && (s[n-1] == 'B' || s[n-1] == 'b') && !strings.HasSuffix(s, "iB") {
		s = s[:n-1]
	}
	s = strings.TrimSuffix(s, "B") // "GiB" → "Gi"
	if strings.HasSuffix(s, "K") {
		s = strings.TrimSuffix(s, "K") + "k"
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, err
	}
	return q.Value(), nil
}

// preChecksCondition sums the outcomes up in the PreChecks condition and
// says whether the apply may go on.
func preChecksCondition(dbm *dbv1.DatabaseMigration, results []dbv1.PreCheckResult) (ok bool, message string) {
	var failed, unknown, passed []string
	for _, r := range results {
		line := fmt.Sprintf("%s: %s", r.Type, r.Message)
		switch r.Outcome {
		case dbv1.PreCheckFailed:
			failed = append(failed, line)
		case dbv1.PreCheckUnknown:
			unknown = append(unknown, line)
		default:
			passed = append(passed, line)
		}
	}
	switch {
	case len(failed) > 0:
		message = "pre-checks failed, nothing was applied: " + strings.Join(failed, "; ")
		setCondition(dbm, dbv1.ConditionPreChecks, false, dbv1.ReasonPreCheckFailed, message)
		return false, message
	case len(unknown) > 0:
		message = "pre-checks passed, but some could not be decided: " + strings.Join(append(unknown, passed...), "; ")
		setCondition(dbm, dbv1.ConditionPreChecks, true, dbv1.ReasonPreChecksIncomplete, message)
	default:
		message = "pre-checks passed: " + strings.Join(passed, "; ")
		setCondition(dbm, dbv1.ConditionPreChecks, true, dbv1.ReasonPreChecksPassed, message)
	}
	return true, message
}
