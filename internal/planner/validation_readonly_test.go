package planner_test

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/planner"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// Nothing of a validation script is in the plan a reviewer reads (its
// statements, changes, findings, destructive): an author's DROP in one
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
