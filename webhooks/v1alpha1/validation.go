package v1alpha1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

// implementedStrategies are the strategies the controller can run today. A
// strategy is added here when it lands; until then it is refused at
// admission rather than accepted and ignored.
var implementedStrategies = map[dbv1.MigrationStrategy]bool{
	dbv1.MigrationStrategyTransactional: true,
	dbv1.MigrationStrategyRolling:       true,
	dbv1.MigrationStrategyShadowTable:   true,
	dbv1.MigrationStrategyBlueGreen:     true,
}

// scriptText is the SQL of one script as admission could read it: known is
// false when the script lives in a ConfigMap or Secret not created yet.
type scriptText struct {
	sql   string
	known bool
}

// validateDatabase checks what the CRD schema cannot: a server needs an
// address or a Secret with a full URL, which only the reconciler can see, so
// here only the parts that are wrong whatever the Secret holds.
func validateDatabase(db dbv1.DatabaseConfig, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if db.Type == dbv1.DatabaseTypeSQLite {
		if db.Host != "" {
			errs = append(errs, field.Invalid(path.Child("host"), db.Host, "sqlite has no host: database is the file path"))
		}
		if strings.ContainsRune(db.Database, 0) {
			errs = append(errs, field.Invalid(path.Child("database"), db.Database, "the file path holds a NUL byte"))
		}
	}
	return errs
}

// validateStrategy refuses strategies that are accepted by the schema but not
// implemented yet, so a manifest never silently runs another way than it says.
func validateStrategy(s dbv1.MigrationStrategy, path *field.Path) field.ErrorList {
	if s == "" || implementedStrategies[s] {
		return nil
	}
	return field.ErrorList{field.Invalid(path, s, fmt.Sprintf(
		"strategy %q is not implemented yet in this version of kube-shift: use %s (or leave strategy out)",
		s, strings.Join(supportedStrategies(), " or ")))}
}

func supportedStrategies() []string {
	var names []string
	for _, s := range []dbv1.MigrationStrategy{dbv1.MigrationStrategyTransactional, dbv1.MigrationStrategyShadowTable,
		dbv1.MigrationStrategyBlueGreen, dbv1.MigrationStrategyRolling} {
		if implementedStrategies[s] {
			names = append(names, string(s))
		}
	}
	return names
}

// validateScriptNames checks names are unique and dependsOn names exist and
// form no cycle.
func validateScriptNames(scripts []dbv1.MigrationScript, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	index := map[string]int{}
	for i, s := range scripts {
		if j, dup := index[s.Name]; dup {
			errs = append(errs, field.Duplicate(path.Index(i).Child("name"), fmt.Sprintf("%s (also scripts[%d])", s.Name, j)))
			continue
		}
		index[s.Name] = i
	}
	for i, s := range scripts {
		for j, dep := range s.DependsOn {
			switch {
			case dep == s.Name:
				errs = append(errs, field.Invalid(path.Index(i).Child("dependsOn").Index(j), dep, "a script cannot depend on itself"))
			case !hasKey(index, dep):
				errs = append(errs, field.NotFound(path.Index(i).Child("dependsOn").Index(j), dep))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if _, err := source.Order(specScripts(scripts)); err != nil {
		errs = append(errs, field.Invalid(path, "dependsOn", err.Error()))
	}
	return errs
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// specScripts turns spec scripts into loader scripts carrying only what
// ordering needs.
func specScripts(scripts []dbv1.MigrationScript) []script.Script {
	out := make([]script.Script, len(scripts))
	for i, s := range scripts {
		out[i] = script.Script{Name: s.Name, Type: script.Type(s.Type), DependsOn: s.DependsOn}
	}
	return out
}

// validateAppliedScripts refuses changes to scripts a previous apply already
// ran: the database holds their effect, so editing them would make the
// object lie about the schema. A change is a new script.
func validateAppliedScripts(status dbv1.DatabaseMigrationStatus, scripts []dbv1.MigrationScript, texts []scriptText, path *field.Path) field.ErrorList {
	if status.LastApplied == nil {
		return nil
	}
	current := map[string]int{}
	for i, s := range scripts {
		current[s.Name] = i
	}
	var errs field.ErrorList
	for _, applied := range status.LastApplied.Scripts {
		i, ok := current[applied.Name]
		if !ok {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf(
				"script %q was applied (plan %s) and cannot be removed", applied.Name, status.LastApplied.PlanHash)))
			continue
		}
		if texts[i].known && script.Checksum([]byte(texts[i].sql)) != applied.Checksum {
			errs = append(errs, field.Forbidden(path.Index(i), fmt.Sprintf(
				"script %q was applied with checksum %s and cannot change: add a new script instead", applied.Name, applied.Checksum)))
		}
	}
	return errs
}

// unmeasurable names the thresholds no supported engine can measure, with
// why: PostgreSQL, MySQL and MariaDB report no host CPU or memory to a SQL
// client, and SQLite has no server. A warning says so rather than pretend.
func unmeasurable(spec *dbv1.DatabaseMigrationSpec) []string {
	v := spec.Validation
	if v == nil || v.PerformanceThresholds == nil {
		return nil
	}
	var warnings []string
	const why = "is not checked: " + dbv1.ThresholdsUnmeasurable
	if v.PerformanceThresholds.MaxCPUUsage != "" {
		warnings = append(warnings, "spec.validation.performanceThresholds.maxCpuUsage "+why)
	}
	if v.PerformanceThresholds.MaxMemoryUsage != "" {
		warnings = append(warnings, "spec.validation.performanceThresholds.maxMemoryUsage "+why)
	}
	return warnings
}

// notActedOn names the fields the schema accepts but the controller does
// not act on yet. Each one is an admission warning, so a user is never
// misled into believing a setting took effect. An entry goes when its
// feature lands.
func notActedOn(spec *dbv1.DatabaseMigrationSpec) []string {
	var fields []string
	add := func(set bool, name string) {
		if set {
			fields = append(fields, name)
		}
	}
	m := spec.Migration
	// Only a rolling apply has steps to run side by side.
	add(m.Parallel && m.Strategy != dbv1.MigrationStrategyRolling, "spec.migration.parallel (outside the rolling strategy)")
	if r := spec.Rollback; r != nil {
		// Only a strategy that copies has a backup to keep.
		add(r.PreserveBackup != nil && m.Strategy != dbv1.MigrationStrategyShadowTable && m.Strategy != dbv1.MigrationStrategyBlueGreen, "spec.rollback.preserveBackup")
	}
	return fields
}
