package v1alpha1

import (
	"strings"
	"testing"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// FuzzValidateSpec feeds arbitrary SQL, names and dependencies through the
// validator's pure checks: whatever a user writes, admission answers with
// field errors, never a panic (which the API server would report as an
// internal error on every apply).
func FuzzValidateSpec(f *testing.F) {
	f.Add("CREATE TABLE t (id int);", "a", "b", "")
	f.Add("DROP TABLE users; DELETE FROM t", "x", "x", "x")
	f.Add("UPDATE t SET a = 'where' -- WHERE\n", "a-1", "b.2", "a-1")
	f.Add("$$ unterminated", "", "b", "c")
	f.Add("DELIMITER '\nSELECT 1'", "a", "a", "a")
	f.Fuzz(func(t *testing.T, sql, nameA, nameB, dep string) {
		scripts := []dbv1.MigrationScript{
			fixture.InlineScript(nameA, sql),
			fixture.InlineScript(nameB, sql+";"+sql, strings.Fields(dep)...),
		}
		texts := known(scripts[0].SQL, scripts[1].SQL)
		for _, engine := range []dbv1.DatabaseType{dbv1.DatabaseTypePostgreSQL, dbv1.DatabaseTypeMySQL, dbv1.DatabaseTypeSQLite} {
			for _, policy := range []dbv1.DestructivePolicy{dbv1.DestructiveBlock, dbv1.DestructiveAllowWithApproval} {
				_ = validateScriptContents(engine, scripts, texts, dbv1.Policy{Destructive: policy}, gateFor(dbv1.DatabaseConfig{Type: engine}, nil), scriptsPath)
			}
		}
		_ = validateScriptNames(scripts, scriptsPath)
	})
}
