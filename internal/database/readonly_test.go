package database_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// A validation script runs in a session that cannot change the database
// (database.ReadOnly): on a connection, and, where the apply's
// transaction holds the plan's changes (PostgreSQL, SQLite), inside it,
// seeing them and leaving the transaction writable after. Each engine's
// way of writing from something that reads like a query fails in it.
func TestReadOnlySessionWritesNothing(t *testing.T) {
	sneaky := map[string][]string{
		"postgres": {"CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'DELETE FROM t RETURNING 1'",
			"WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d", "SELECT sneaky()"},
		"mysql": {"CREATE FUNCTION sneaky() RETURNS int MODIFIES SQL DATA BEGIN DELETE FROM t; RETURN 1; END",
			"SELECT sneaky()"},
		"sqlite": {"", "WITH x AS (SELECT 1) DELETE FROM t"},
	}
	for _, tc := range engineCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			target, err := database.ParseURL(tc.fresh(t))
			g.Expect(err).NotTo(HaveOccurred())
			db, err := target.Open(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer db.Close()
			for _, stmt := range []string{"CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)", sneaky[tc.name][0]} {
				if stmt != "" {
					_, err := db.ExecContext(ctx, stmt)
					g.Expect(err).NotTo(HaveOccurred(), stmt)
				}
			}
			conn, err := db.Conn(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			rows := func(q database.Querier) int {
				var n int
				g.Expect(q.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n)).To(Succeed())
				return n
			}
			tries := append([]string{"INSERT INTO t VALUES (2)", "DELETE FROM t", "DROP TABLE t", "CREATE TABLE u (id int)"}, sneaky[tc.name][1:]...)
			writesNothing := func(q database.Querier, want int) {
				g.Expect(database.ReadOnly(ctx, target.Engine, q, func(q database.Querier) error {
					g.Expect(rows(q)).To(Equal(want), "what it reads")
					for _, stmt := range tries {
						if tc.name == "postgres" {
							// One failed statement fails a PostgreSQL
							// transaction: each its own savepoint.
							_, err := q.ExecContext(ctx, "SAVEPOINT try")
							g.Expect(err).NotTo(HaveOccurred())
						}
						_, err := q.ExecContext(ctx, stmt)
						g.Expect(err).To(HaveOccurred(), "%s ran in a read-only session", stmt)
						if tc.name == "postgres" {
							_, err := q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT try")
							g.Expect(err).NotTo(HaveOccurred())
						}
					}
					return nil
				})).To(Succeed())
			}

			writesNothing(conn, 1)
			g.Expect(rows(conn)).To(Equal(1))
			_, err = conn.ExecContext(ctx, "INSERT INTO t VALUES (2)")
			g.Expect(err).NotTo(HaveOccurred(), "the connection is writable again")

			if !target.Engine.TransactionalDDL() {
				return
			}
			tx, err := conn.BeginTx(ctx, nil)
			g.Expect(err).NotTo(HaveOccurred())
			_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (3)")
			g.Expect(err).NotTo(HaveOccurred())
			writesNothing(tx, 3)
			// A script whose statement failed: the transaction is usable
			// after, as the apply needs to roll it back or go on.
			g.Expect(database.ReadOnly(ctx, target.Engine, tx, func(q database.Querier) error {
				_, err := q.ExecContext(ctx, "DELETE FROM t")
				return err
			})).NotTo(Succeed())
			_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (4)")
			g.Expect(err).NotTo(HaveOccurred(), "the transaction is writable again")
			g.Expect(tx.Commit()).To(Succeed())
			g.Expect(rows(db)).To(Equal(4))
		})
	}
}
