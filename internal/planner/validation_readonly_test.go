package planner_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// A validation script is shown with the plan, but none of the plan's
// changes, findings or destructive flag count it: an author's DROP in one
// would run under the approval of an added column. A script that does
// not only read is refused at planning; one that reads like a query and
// writes anyway (a data-changing WITH) fails in the apply's read-only
// session, and the apply with it, leaving the data as it was.
func TestValidationScriptsOnlyRead(t *testing.T) {
	writesThroughAQuery := perEngine{
		"postgres": "WITH gone AS (DELETE FROM payments RETURNING 1) SELECT count(*) >= 0 FROM gone;",
		"mysql":    "SELECT sneaky() = 1;",
		"sqlite":   "WITH x AS (SELECT 1) DELETE FROM payments;\nSELECT 1;",
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, "CREATE TABLE users (id int PRIMARY KEY);\nCREATE TABLE payments (id int PRIMARY KEY, amount int);\nINSERT INTO payments VALUES (1, 100), (2, 200);")
			if e.name == "mysql" {
				_, err := d.db.ExecContext(ctx, "CREATE FUNCTION sneaky() RETURNS int MODIFIES SQL DATA BEGIN DELETE FROM payments; RETURN 1; END")
				g.Expect(err).NotTo(HaveOccurred())
			}
			validation := func(sql string) planner.Input {
				return planner.Input{
					Scripts:     scripts("ALTER TABLE users ADD COLUMN nickname text;"),
					Validations: []script.Script{{Name: "check", Type: script.TypeValidation, SQL: sql, Checksum: script.Checksum([]byte(sql))}},
					Settings:    `{"strategy":"transactional"}`,
				}
			}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			for _, hidden := range []string{
				"DROP TABLE payments;\nSELECT 1;",
				"DELETE FROM payments;\nSELECT 1;",
				"SELECT 1;\nCOMMIT;\nSELECT 1;",
				"UPDATE payments SET amount = 0",
			} {
				_, err := pl.Plan(ctx, d.target, validation(hidden))
				g.Expect(err).To(MatchError(planner.ErrRefusedSQL), "%q", hidden)
				g.Expect(err).To(MatchError(ContainSubstring("a validation script may only read")))
			}

			in := validation(writesThroughAQuery.for_(e.name))
			plan, err := pl.Plan(ctx, d.target, in)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/add-nickname (uid 1)", Approver: "rita"})
			var failed *planner.ValidationError
			g.Expect(errors.As(err, &failed)).To(BeTrue(), "the apply failed in its validation: %v", err)
			var n int
			g.Expect(d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments").Scan(&n)).To(Succeed())
			g.Expect(n).To(Equal(2), "the validation script deleted rows")
		})
	}
}

// A comment that a lone carriage return ends for PostgreSQL but not for
// the splitter hides statements behind a query's first word: the server
// would run them all in one simple-protocol call, leaving the read-only
// savepoint (or committing the read-only transaction) first. Each
// validation statement goes in the extended protocol, one statement or
// an error: the apply fails and the rows stay, in the apply's
// transaction and on a connection of its own (shadow-table).
func TestValidationScriptCannotHideStatementsFromTheSplitter(t *testing.T) {
	for _, tc := range []struct{ strategy, hidden string }{
		{"transactional", "SELECT 1 --\r; RELEASE SAVEPOINT kube_shift_read_only; DELETE FROM payments; SAVEPOINT kube_shift_read_only\n;\nSELECT true;"},
		{"shadow-table", "SELECT 1 --\r; COMMIT; DELETE FROM payments; BEGIN\n;\nSELECT true;"},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, engines[1])
			d.exec(t, "CREATE TABLE users (id int PRIMARY KEY);\nCREATE TABLE payments (id int PRIMARY KEY, amount int);\nINSERT INTO payments VALUES (1, 100), (2, 200);")
			in := planner.Input{
				Scripts:     scripts("CREATE TABLE audit (id int);"),
				Validations: []script.Script{{Name: "check", Type: script.TypeValidation, SQL: tc.hidden, Checksum: script.Checksum([]byte(tc.hidden))}},
				Settings:    `{"strategy":"` + tc.strategy + `"}`,
			}
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			plan, err := pl.Plan(ctx, d.target, in)
			if err == nil {
				_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/audit (uid 1)", Approver: "rita",
					Strategy: planner.Strategy(tc.strategy)})
				g.Expect(err).To(HaveOccurred(), "the apply ran a validation script whose text holds other statements")
			}
			var n int
			g.Expect(d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM payments").Scan(&n)).To(Succeed())
			g.Expect(n).To(Equal(2), "a statement hidden in the validation script deleted rows")
		})
	}
}

// A validation script's failure is shown in the migration's status, to
// whoever may read the migration, who may not read the database (a
// DatabaseTarget's Secret is the platform's); a reviewer reads the
// script, not what it will read. So the failure names the script, the statement and what went
// wrong, never a value the script read: neither the value its last
// statement returned nor the database's message, which can quote the data
// (a cast's input, MariaDB's XPath error, an old trick for reading a
// value through an error).
func TestValidationFailuresQuoteNothingTheScriptRead(t *testing.T) {
	const secret = "s3cr3t-token"
	throughAnError := perEngine{
		"postgres": "SELECT CAST(token AS integer) > 0 FROM api_keys;",
		"mysql":    "SELECT EXTRACTVALUE(1, CONCAT('~', (SELECT token FROM api_keys))) IS NOT NULL;",
		"sqlite":   "SELECT json(token) IS NOT NULL FROM api_keys;",
	}
	serverCode := perEngine{"postgres": "SQLSTATE 22P02", "mysql": "error 1105", "sqlite": "SQLite result code 1"}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			d := newTestDB(t, e)
			d.exec(t, "CREATE TABLE users (id int PRIMARY KEY);\nCREATE TABLE api_keys (id int PRIMARY KEY, token varchar(64));\nINSERT INTO api_keys VALUES (1, '"+secret+"');")
			pl := &planner.Planner{DevServers: dbtest.DevServers()}
			column := 0
			failure := func(sql string) string {
				t.Helper()
				// A column of its own each time: MySQL's DDL stays applied
				// after a failed validation.
				column++
				in := planner.Input{
					Scripts:     scripts(fmt.Sprintf("ALTER TABLE users ADD COLUMN nickname%d varchar(20);", column)),
					Validations: []script.Script{{Name: "check", Type: script.TypeValidation, SQL: sql, Checksum: script.Checksum([]byte(sql))}},
					Settings:    `{"strategy":"transactional"}`,
				}
				plan, err := pl.Plan(ctx, d.target, in)
				g.Expect(err).NotTo(HaveOccurred())
				_, err = pl.Apply(ctx, d.target, in, planner.ApplyOptions{ExpectHash: plan.Hash, Identity: "shop/add-nickname (uid 1)", Approver: "rita"})
				var failed *planner.ValidationError
				g.Expect(errors.As(err, &failed)).To(BeTrue(), "the apply failed in its validation: %v", err)
				g.Expect(err.Error()).NotTo(ContainSubstring(secret))
				return err.Error()
			}

			g.Expect(failure("SELECT token FROM api_keys;")).To(ContainSubstring(`validation script "check": returned a value that is not true (not shown`))
			g.Expect(failure("SELECT 0;")).To(ContainSubstring(`validation script "check": returned 0`))
			g.Expect(failure("SELECT 1 FROM api_keys WHERE id = 2;")).To(ContainSubstring(`validation script "check": returned no row`))
			msg := failure("SELECT 1;\n" + throughAnError.for_(e.name))
			g.Expect(msg).To(ContainSubstring(`validation script "check": statement 2 failed on the database (` + serverCode.for_(e.name) + `); the database's message is not shown`))
		})
	}
}
