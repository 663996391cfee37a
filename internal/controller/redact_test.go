package controller

import (
	"errors"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/utils/ptr"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

const (
	seedSQL  = "INSERT INTO api_keys (name, key) VALUES ('billing', 'sk_live_7f3a9c0d');\nUPDATE api_keys SET key = 'sk_live_rotated_55e1' WHERE name = 'billing';"
	seedStmt = "UPDATE api_keys SET key = 'sk_live_rotated_55e1' WHERE name = 'billing';"
)

func seedRedactor() *redactor {
	return newRedactor(dbv1.DatabaseTypeSQLite, []script.Script{
		{Name: "schema", SQL: "CREATE TABLE api_keys (name TEXT, key TEXT);"},
		{Name: "seed", SQL: seedSQL, Sensitive: true},
	})
}

func TestRedactorPlan(t *testing.T) {
	g := NewWithT(t)
	p := &planner.Plan{
		Hash: "sha256:abc",
		Statements: []string{
			"CREATE TABLE api_keys (name TEXT, key TEXT);",
			"INSERT INTO api_keys (name, key) VALUES ('billing', 'sk_live_7f3a9c0d');",
			seedStmt,
		},
		Steps: []planner.Step{{Script: "schema"}, {Script: "seed"}, {Script: "seed", Index: 1}},
		Diagnostics: []planner.Diagnostic{
			{Code: "KS103", Severity: planner.SeverityWarning, Text: "Statement 2 updates every row: " + seedStmt, Statement: ptr.To[int32](2)},
			{Code: "KS000", Text: "analyzer failed near UPDATE api_keys SET key = 'sk_live_rotated_55e1'"},
			{Code: "MF103", Text: "adding a non-nullable column", Statement: ptr.To[int32](0)},
		},
		Rollback: []string{"DROP TABLE api_keys;"},
	}
	got := seedRedactor().plan(p, []dbv1.PlannedScript{{Name: "seed"}})
	g.Expect(got.Hash).To(Equal(p.Hash), "the hash is the planner's")
	g.Expect(got.Statements).To(Equal([]string{
		"CREATE TABLE api_keys (name TEXT, key TEXT);",
		`-- statement 1 of script "seed" (secret-sourced, ` + script.Checksum([]byte(p.Statements[1])) + `): not shown`,
		`-- statement 2 of script "seed" (secret-sourced, ` + script.Checksum([]byte(seedStmt)) + `): not shown`,
	}))
	g.Expect(got.Diagnostics).To(HaveLen(3))
	g.Expect(got.Diagnostics[0].Text).To(Equal(`finding on statement 2 of script "seed" (secret-sourced): not shown`))
	g.Expect(got.Diagnostics[0].Code).To(Equal("KS103"))
	g.Expect(got.Diagnostics[0].Severity).To(Equal(dbv1.SeverityWarning))
	g.Expect(p.Diagnostics[0].Text).To(HavePrefix("Statement 2 updates every row"), "the planner's plan is left as it was")
	g.Expect(got.Diagnostics[1].Text).To(Equal(`finding quoting statement 2 of script "seed" (secret-sourced): not shown`))
	g.Expect(got.Diagnostics[2].Text).To(Equal("adding a non-nullable column"))
	g.Expect(got.Rollback).To(Equal(p.Rollback))
	g.Expect(p.Statements[2]).To(Equal(seedStmt), "the planner's plan is left as it is")

	t.Run("declarative, the desired schema from a Secret", func(t *testing.T) {
		g := NewWithT(t)
		r := newRedactor(dbv1.DatabaseTypeSQLite, nil)
		r.addDesired(&source.Desired{Text: "CREATE TABLE vault (secret TEXT DEFAULT 'sk_live_7f3a9c0d');", Sensitive: true})
		got := r.plan(&planner.Plan{Statements: []string{"CREATE TABLE vault (secret TEXT DEFAULT 'sk_live_7f3a9c0d')"}}, nil)
		g.Expect(got.Statements[0]).To(HavePrefix("-- statement 1 of the plan of the desired schema (secret-sourced, sha256:"))
	})

	t.Run("validation scripts: shown, but not one from a Secret", func(t *testing.T) {
		g := NewWithT(t)
		r := newRedactor(dbv1.DatabaseTypeSQLite, []script.Script{
			{Name: "has-keys", Type: script.TypeValidation, SQL: "SELECT count(*) > 0 FROM api_keys;"},
			{Name: "key-rotated", Type: script.TypeValidation, SQL: "SELECT key = 'sk_live_rotated_55e1' FROM api_keys;", Sensitive: true},
		})
		got := r.plan(&planner.Plan{Statements: []string{"SELECT 1"}, Validations: []planner.Validation{
			{Name: "has-keys", SQL: "SELECT count(*) > 0 FROM api_keys;"},
			{Name: "key-rotated", SQL: "SELECT key = 'sk_live_rotated_55e1' FROM api_keys;"},
		}}, nil)
		g.Expect(got.Validations).To(Equal([]dbv1.PlannedValidation{
			{Name: "has-keys", SQL: "SELECT count(*) > 0 FROM api_keys;"},
			{Name: "key-rotated", SQL: `-- script "key-rotated" (secret-sourced, ` + script.Checksum([]byte("SELECT key = 'sk_live_rotated_55e1' FROM api_keys;")) + `): not shown`},
		}))
	})

	t.Run("nothing from a Secret", func(t *testing.T) {
		r := newRedactor(dbv1.DatabaseTypeSQLite, []script.Script{{Name: "seed", SQL: seedSQL}})
		NewWithT(t).Expect(r.plan(p, nil).Statements).To(Equal(p.Statements))
	})
}

func TestRedactorErrors(t *testing.T) {
	r := seedRedactor()
	driver := errors.New(`near "sk_live_rotated_55e1": syntax error`)
	for _, tc := range []struct {
		name   string
		err    error
		want   string // "" means unchanged
		reason string
		is     []error
	}{
		{
			name:   "a statement of a Secret-sourced script that does not plan",
			err:    &planner.InvalidSQLError{Script: "seed", Index: 1, Statement: seedStmt, Err: driver},
			want:   `statement 2 of script "seed" (secret-sourced): invalid SQL; the statement and the database's message are not shown`,
			reason: dbv1.ReasonInvalidSQL, is: []error{planner.ErrInvalidSQL},
		},
		{
			name: "a Secret-sourced script that does not lex",
			err:  &planner.InvalidSQLError{Script: "seed", Index: -1, Err: errors.New("unterminated quote")},
			want: `script "seed" (secret-sourced): invalid SQL; the statement and the database's message are not shown`,
		},
		{
			name: "an inline script that does not plan keeps its message",
			err:  &planner.InvalidSQLError{Script: "schema", Index: 0, Statement: "CREATE TABLE x (", Err: errors.New("incomplete input")},
		},
		{
			name: "a Secret-sourced statement that failed, rolled back automatically",
			err: &planner.RolledBackError{Err: &planner.StatementError{
				Index: 2, Total: 3, Applied: 2, Revision: 7, Step: planner.Step{Script: "seed", Index: 1}, Err: driver,
			}},
			want: `statement 3 of 3 (statement 2 of script "seed", secret-sourced) failed on the database; statements 1 to 2 stay applied; revision 7 records the checkpoint; ` +
				`rolled back automatically: the schema is the one the apply started from; the statement and the database's message are not shown`,
			reason: dbv1.ReasonApplyFailed, is: []error{planner.ErrApplyFailed},
		},
		{
			name: "a Secret-sourced validation script that failed",
			err: &planner.VerifyError{Revision: 9, Err: &planner.ValidationError{
				Script: "seed", Statement: 114, Err: errors.New("no such column: sk_live_7f3a9c0d"),
			}},
			// Not which statement: the data read could choose it.
			want:   `validation script "seed" (secret-sourced) failed; the plan stays applied (revision 9 records the failure): its rollback plan takes it back; which statement, and why, are not shown`,
			reason: dbv1.ReasonValidationFailed, is: []error{planner.ErrVerifyFailed},
		},
		{
			name: "any other error quoting a Secret-sourced statement",
			err:  fmt.Errorf("%w: the row changed by UPDATE api_keys SET key = 'sk_live_rotated_55e1' differs", planner.ErrDataCorruption),
			want: `statement 2 of script "seed" (secret-sourced): a data integrity check failed; the message quotes it and is not shown`,
			is:   []error{planner.ErrDataCorruption},
		},
		{
			name: "an error quoting nothing of it keeps its message",
			err:  fmt.Errorf("%w: connection refused", planner.ErrUnreachable),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got := r.redact(tc.err)
			if tc.want == "" {
				g.Expect(got).To(BeIdenticalTo(tc.err))
				return
			}
			g.Expect(got.Error()).To(Equal(tc.want))
			g.Expect(source.Quotes(got.Error(), seedSQL)).To(BeFalse())
			g.Expect(got.Error()).NotTo(ContainSubstring("sk_live"))
			for _, target := range tc.is {
				g.Expect(errors.Is(got, target)).To(BeTrue(), "errors.Is %v", target)
			}
			if tc.reason != "" {
				g.Expect(classify(got, true).reason).To(Equal(tc.reason), "the failure table sees through the redaction")
			}
		})
	}
}

func TestRedactorProgress(t *testing.T) {
	g := NewWithT(t)
	var current []string
	report := seedRedactor().progress(func(_, _ int, c string) { current = append(current, c) })
	report(1, 3, "CREATE TABLE api_keys (name TEXT, key TEXT);")
	report(3, 3, seedStmt)
	g.Expect(current).To(Equal([]string{
		"CREATE TABLE api_keys (name TEXT, key TEXT);",
		`statement 2 of script "seed" (secret-sourced): not shown`,
	}))
	g.Expect(newRedactor(dbv1.DatabaseTypeSQLite, nil).progress(nil)).To(BeNil())
}
