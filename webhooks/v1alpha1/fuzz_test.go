package v1alpha1

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// FuzzValidateSpec feeds arbitrary SQL, names and dependencies through the
// validator's pure checks: whatever a user writes, admission answers with
// field errors, never a panic (which the API server would report as an
// internal error on every apply), and under the block policy never
// admits a script the static check finds destructive.
func FuzzValidateSpec(f *testing.F) {
	f.Add("CREATE TABLE t (id int);", "a", "b", "")
	f.Add("DROP TABLE users; DELETE FROM t", "x", "x", "x")
	f.Add("UPDATE t SET a = 'where' -- WHERE\n", "a-1", "b.2", "a-1")
	f.Add("$$ unterminated", "", "b", "c")
	f.Add("DELIMITER '\nSELECT 1'", "a", "a", "a")
	f.Add("/* a /* nested */ DROP TABLE t; */ DROP TABLE u;", "n", "m", "")
	f.Add("DELIMITER //\nCREATE PROCEDURE p() BEGIN DROP TABLE t; END//\nDELIMITER ;\nTRUNCATE ü;", "d", "e", "d")
	f.Fuzz(func(t *testing.T, sql, nameA, nameB, dep string) {
		scripts := []dbv1.MigrationScript{
			fixture.InlineScript(nameA, sql),
			fixture.InlineScript(nameB, sql+";"+sql, strings.Fields(dep)...),
		}
		texts := known(scripts[0].SQL, scripts[1].SQL)
		for _, engine := range []dbv1.DatabaseType{dbv1.DatabaseTypePostgreSQL, dbv1.DatabaseTypeMySQL, dbv1.DatabaseTypeSQLite} {
			for _, policy := range []dbv1.DestructivePolicy{dbv1.DestructiveBlock, dbv1.DestructiveAllowWithApproval} {
				errs := validateScriptContents(engine, scripts, texts, dbv1.Policy{Destructive: policy}, gateFor(dbv1.DatabaseConfig{Type: engine}, nil), scriptsPath)
				if policy != dbv1.DestructiveBlock {
					continue
				}
				// Under block, a script the static check finds destructive
				// is never admitted.
				for i, s := range scripts {
					stmts, err := sqlstatic.SplitFor(sqlstatic.Dialect(engine), s.SQL)
					if err != nil || len(sqlstatic.Destructive(stmts)) == 0 {
						continue
					}
					at := scriptsPath.Index(i).Child("sql").String()
					if !slices.ContainsFunc(errs, func(e *field.Error) bool { return e.Field == at }) {
						t.Fatalf("%s: script %d is destructive, yet admission raised nothing on %s: %q", engine, i, at, s.SQL)
					}
				}
			}
		}
		_ = validateScriptNames(scripts, scriptsPath)
	})
}
