package database_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// Fifty migrations' worth of work on one database under a limit of three,
// as the operator makes it: plans and checks on one connection each, and
// one apply at a time (the apply runner's rule) holding its lock on one
// connection while it works on a second. The server's own count of the
// connections to that database never passes three, and every piece of
// work gets done.
func TestConnLimitHoldsOnTheServer(t *testing.T) {
	const limit, workers = 3, 50
	for _, tc := range []struct {
		name, sleep, count string
		fresh, admin       func(testing.TB) string
		open               func(testing.TB, string) *sql.DB
	}{
		{"postgres", "SELECT pg_sleep(0.02)", "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
			dbtest.NewPostgresDatabase, dbtest.PostgresURL, dbtest.OpenPostgres},
		{"mysql", "SELECT SLEEP(0.02)", "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = ?",
			dbtest.NewMySQLDatabase, dbtest.MySQLURL, dbtest.OpenMySQL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			dbURL := tc.fresh(t)
			target, err := database.ParseURL(dbURL)
			g.Expect(err).NotTo(HaveOccurred())
			target.Limit = database.NewConnLimit(limit)
			name := target.Schema()
			if tc.name == "postgres" {
				name = strings.TrimPrefix(target.URL.Path, "/")
			}
			// The sampler is on the server's admin database, not counted.
			admin := tc.open(t, tc.admin(t))

			var peak atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan error, 1)
			go func() {
				var err error
				defer func() { sampled <- err }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var n int64
					if err = admin.QueryRow(tc.count, name).Scan(&n); err != nil {
						return
					}
					if n > peak.Load() {
						peak.Store(n)
					}
				}
			}()

			var wg sync.WaitGroup
			var done atomic.Int64
			errs := make(chan error, workers)
			var applying sync.Mutex
			for i := range workers {
				wg.Go(func() {
					apply := i%10 == 0
					if apply {
						// The runner takes the database before the apply
						// opens it.
						applying.Lock()
						defer applying.Unlock()
					}
					db, err := target.Open(ctx)
					if err != nil {
						errs <- err
						return
					}
					defer func() { _ = db.Close() }()
					q := database.Querier(db)
					if apply {
						// An apply: its lock's connection, and the pool.
						conn, err := db.Conn(ctx)
						if err != nil {
							errs <- err
							return
						}
						defer func() { _ = conn.Close() }()
						if _, err := conn.ExecContext(ctx, tc.sleep); err != nil {
							errs <- err
							return
						}
					}
					for range 3 {
						if _, err := q.ExecContext(ctx, tc.sleep); err != nil {
							errs <- err
							return
						}
					}
					done.Add(1)
				})
			}
			wg.Wait()
			close(stop)
			g.Expect(<-sampled).NotTo(HaveOccurred())
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			g.Expect(done.Load()).To(BeEquivalentTo(workers))
			g.Expect(peak.Load()).To(BeNumerically(">", 0), "the sampler saw the work")
			g.Expect(peak.Load()).To(BeNumerically("<=", limit), "the server never saw more than the limit")
			g.Eventually(target.Limit.InUse).Should(BeZero(), "every slot given back")
			t.Logf("%d workers, limit %d: at most %d connections on the server at once", workers, limit, peak.Load())
		})
	}
}

// A connection that cannot get a slot in time fails with ErrConnLimit,
// and the operation can be retried.
func TestConnLimitWaitEnds(t *testing.T) {
	g := NewWithT(t)
	target, err := database.ParseURL(dbtest.NewPostgresDatabase(t))
	g.Expect(err).NotTo(HaveOccurred())
	target.Limit = database.NewConnLimit(1)
	db, err := target.Open(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	conn, err := db.Conn(context.Background())
	g.Expect(err).NotTo(HaveOccurred())

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = target.Open(ctx)
	g.Expect(errors.Is(err, database.ErrConnLimit)).To(BeTrue(), "%v", err)

	g.Expect(conn.Close()).To(Succeed())
	g.Expect(db.Close()).To(Succeed())
	g.Eventually(target.Limit.InUse).Should(BeZero())
	again, err := target.Open(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.Close()).To(Succeed())
}
