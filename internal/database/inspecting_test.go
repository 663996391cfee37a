package database_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// PostgreSQL inspects without nested loops, and the session (or the
// transaction) inspected through gets its own setting back, whatever the
// inspection did: the migration's statements run on it next.
func TestInspectingGivesTheSessionItsSettingBack(t *testing.T) {
	ctx := context.Background()
	target, err := database.ParseURL(dbtest.NewPostgresDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db, err := target.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	setting := func(q database.Querier) string {
		t.Helper()
		var v string
		if err := q.QueryRowContext(ctx, "SHOW enable_nestloop").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	failed := errors.New("the inspection failed")
	for _, tc := range []struct {
		name    string
		own     string // the session's setting before
		inTx    bool
		cancel  bool // the inspection's context ends during it
		inspect error
	}{
		{name: "session", own: "on"},
		{name: "session set off already", own: "off"},
		{name: "transaction", own: "on", inTx: true},
		{name: "failed inspection", own: "on", inspect: failed},
		// Failed in Go: the transaction goes on.
		{name: "failed inspection in a transaction", own: "on", inTx: true, inspect: failed},
		{name: "cancelled inspection", own: "on", cancel: true, inspect: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			conn, err := db.Conn(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			// Not back to the pool: the session's setting is the test's.
			defer func() { _ = conn.Raw(func(any) error { return driver.ErrBadConn }); _ = conn.Close() }()
			_, err = conn.ExecContext(ctx, "SET enable_nestloop = "+tc.own)
			g.Expect(err).NotTo(HaveOccurred())
			var q database.Querier = conn
			var tx *sql.Tx
			if tc.inTx {
				tx, err = conn.BeginTx(ctx, nil)
				g.Expect(err).NotTo(HaveOccurred())
				defer func() { _ = tx.Rollback() }()
				q = tx
			}
			ictx, cancel := context.WithCancel(ctx)
			defer cancel()
			var during string
			err = target.Engine.Inspecting(ictx, q, func() error {
				during = setting(q)
				if tc.cancel {
					cancel()
				}
				return tc.inspect
			})
			if tc.inspect != nil {
				g.Expect(err).To(MatchError(tc.inspect))
			} else {
				g.Expect(err).NotTo(HaveOccurred())
			}
			g.Expect(during).To(Equal("off"))
			g.Expect(setting(q)).To(Equal(tc.own), "back as it was, before the transaction (if any) ends")
			if tx != nil {
				g.Expect(tx.Commit()).To(Succeed())
				g.Expect(setting(conn)).To(Equal(tc.own))
			}
		})
	}
}
