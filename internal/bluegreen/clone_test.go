package bluegreen_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/bluegreen"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// cloneName registers the cleanup of green (dropped when the test ends)
// and returns its name.
func cloneName(t *testing.T, blue *testDB, suffix string) string {
	t.Helper()
	green := bluegreen.GreenName(strings.TrimPrefix(blue.target.URL.Path, "/"), suffix)
	t.Cleanup(func() {
		if err := bluegreen.Drop(context.Background(), blue.target, green); err != nil {
			t.Errorf("dropping %s: %v", green, err)
		}
	})
	return green
}

// exact is a table's contents as the server stores them, where a driver's
// decoding could hide a difference: PostgreSQL's text of each row, MySQL's
// CHECKSUM TABLE.
func exact(t *testing.T, d *testDB, table string) any {
	t.Helper()
	if d.e.name == "postgres" {
		return pgText(t, d, table)
	}
	return checksum(t, d, table)
}

// insertCustomer adds a customer without an id and returns the id the
// database gave it.
func insertCustomer(ctx context.Context, d *testDB, email string) (int64, error) {
	q := fmt.Sprintf("INSERT INTO customers (email, created_at) VALUES (%s, %s)", d.e.ph(1), d.e.ph(2))
	if d.e.name == "postgres" {
		var id int64
		err := d.db.QueryRowContext(ctx, q+" RETURNING id", email, "2025-01-01 00:00:00").Scan(&id)
		return id, err
	}
	res, err := d.db.ExecContext(ctx, q, email, "2025-01-01 00:00:00")
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func TestClone(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			blue := blueWithFixture(t, e)
			blueScript := blue.createScript(t, blue.inspect(t))
			blueCustomers, blueOrders := blue.rows(t, "customers"), blue.rows(t, "orders")
			green := cloneName(t, blue, "t1")

			seen := progress{}
			started := time.Now()
			res, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{BatchSize: 1000, Progress: seen.record})
			g.Expect(err).NotTo(HaveOccurred())

			customers := int64(fixtureCustomers - customersDeleted)
			orders := customers * ordersPerCust
			g.Expect(res.Green).To(Equal(green))
			g.Expect(res.Tables).To(Equal(2))
			g.Expect(res.Views).To(Equal(1))
			g.Expect(res.Rows).To(Equal(customers + orders))
			g.Expect(res.SnapshotAt).To(BeTemporally("~", started, time.Minute), "the server's clock, read at the snapshot")
			g.Expect(res.GreenURL.Path).To(Equal("/" + green))
			g.Expect(res.GreenURL.User.String()).To(Equal(blue.target.URL.User.String()))
			g.Expect(res.GreenURL.Host).To(Equal(blue.target.URL.Host))

			gr := blue.greenOf(t, green)
			expectSameSchema(t, blue, gr)
			g.Expect(gr.rows(t, "customers")).To(Equal(blueCustomers))
			g.Expect(gr.rows(t, "orders")).To(Equal(blueOrders))
			for _, table := range []string{"customers", "orders"} {
				g.Expect(exact(t, gr, table)).To(Equal(exact(t, blue, table)), table)
			}
			g.Expect(gr.rows(t, "customer_totals")).To(Equal(blue.rows(t, "customer_totals")))
			g.Expect(gr.count(t, "customer_totals")).To(Equal(customers))

			// Progress: each table starts at 0, a call per batch of 1000
			// after it, against the server's estimate; the last call has
			// the rows stored as the total.
			g.Expect(seen.dones("customers")).To(Equal([]int64{0, 1000, 2000, customers}))
			g.Expect(seen.last("customers")).To(Equal([2]int64{customers, customers}))
			g.Expect(seen.dones("orders")).To(Equal([]int64{0, 1000, 2000, 3000, 4000, 5000, orders}))
			g.Expect(seen.last("orders")).To(Equal([2]int64{orders, orders}))
			for table, calls := range seen {
				for _, c := range calls[:len(calls)-1] {
					g.Expect(c[1]).To(Equal(calls[0][1]), "%s: the estimate, until the last call", table)
				}
			}

			complete, err := bluegreen.Complete(ctx, blue.target, green)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(complete).To(BeTrue())

			// Blue is untouched: same schema, same rows, no marker.
			g.Expect(blue.createScript(t, blue.inspect(t))).To(Equal(blueScript))
			g.Expect(blue.rows(t, "customers")).To(Equal(blueCustomers))
			g.Expect(blue.rows(t, "orders")).To(Equal(blueOrders))
			g.Expect(tableNames(blue.inspect(t))).NotTo(ContainElement(bluegreen.MarkerTable))

			// Green takes new rows past blue's counter, not past its own
			// highest id, and enforces blue's constraints.
			id, err := insertCustomer(ctx, gr, "new@example.com")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(id).To(Equal(int64(fixtureCustomers + 1)))
			_, err = insertCustomer(ctx, gr, "c1@example.com")
			g.Expect(err).To(HaveOccurred(), "unique index on email")
			_, err = gr.db.ExecContext(ctx, "INSERT INTO orders (customer_id, total, placed_at) VALUES (999999, 1, '2025-01-01 00:00:00')")
			g.Expect(err).To(HaveOccurred(), "foreign key to customers")
			_, err = gr.db.ExecContext(ctx, "INSERT INTO orders (customer_id, total, placed_at) VALUES (1, -1, '2025-01-01 00:00:00')")
			g.Expect(err).To(HaveOccurred(), "check on total")
			_, err = gr.db.ExecContext(ctx, "INSERT INTO orders (customer_id, total, placed_at) VALUES (1, 5, '2025-01-01 00:00:00')")
			g.Expect(err).NotTo(HaveOccurred())
		})
	}
}

// TestCloneReadsOneSnapshot writes to blue while the clone runs, after
// the snapshot: none of it reaches green, not even in the table copied
// after the write.
func TestCloneReadsOneSnapshot(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			blue := newTestDB(t, e)
			blue.exec(t, e.fixture)
			blue.exec(t, "INSERT INTO customers (email, created_at) VALUES ('a@example.com', '2024-01-01 00:00:00')")
			blue.exec(t, "INSERT INTO orders (customer_id, total, placed_at) VALUES (1, 10, '2024-01-01 00:00:00')")
			green := cloneName(t, blue, "snap")
			wrote := false
			res, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{
				// customers is copied first, then orders.
				Progress: func(table string, done, _ int64) {
					if table != "customers" || wrote {
						return
					}
					wrote = true
					_, err := insertCustomer(ctx, blue, "late@example.com")
					g.Expect(err).NotTo(HaveOccurred())
					_, err = blue.db.ExecContext(ctx, "INSERT INTO orders (customer_id, total, placed_at) VALUES (1, 20, '2024-01-02 00:00:00')")
					g.Expect(err).NotTo(HaveOccurred())
				},
			})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(wrote).To(BeTrue())
			g.Expect(res.Rows).To(Equal(int64(2)))
			gr := blue.greenOf(t, green)
			g.Expect(gr.count(t, "customers")).To(Equal(int64(1)))
			g.Expect(gr.count(t, "orders")).To(Equal(int64(1)), "orders was copied after the write, from the snapshot")
			g.Expect(blue.count(t, "orders")).To(Equal(int64(2)))
		})
	}
}

// TestCloneCancelled stops a clone in the middle of a table's copy: green
// exists but is not complete, and Drop removes it, twice without error.
func TestCloneCancelled(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			blue := newTestDB(t, e)
			blue.createBig(t, 20000)
			green := cloneName(t, blue, "cancel")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var done int64
			_, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{
				BatchSize: 1000,
				Progress: func(table string, n, _ int64) {
					if table == "big" && n > 0 {
						done = n
						cancel()
					}
				},
			})
			g.Expect(err).To(MatchError(context.Canceled))
			g.Expect(done).To(Equal(int64(1000)), "cancelled after the first batch")

			bg := context.Background()
			exists, err := bluegreen.Exists(bg, blue.target, green)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(exists).To(BeTrue())
			complete, err := bluegreen.Complete(bg, blue.target, green)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(complete).To(BeFalse())

			g.Expect(bluegreen.Drop(bg, blue.target, green)).To(Succeed())
			exists, err = bluegreen.Exists(bg, blue.target, green)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(exists).To(BeFalse())
			g.Expect(bluegreen.Drop(bg, blue.target, green)).To(Succeed(), "Drop is idempotent")
			complete, err = bluegreen.Complete(bg, blue.target, green)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(complete).To(BeFalse())
		})
	}
}

// TestCloneExistingGreen: Clone never writes into a database that is
// already there, and a finished green can itself be cloned (after a
// switch it is blue) without its marker coming along.
func TestCloneExistingGreen(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			blue := newTestDB(t, e)
			blue.exec(t, e.fixture)
			green := cloneName(t, blue, "again")
			_, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{})
			g.Expect(err).NotTo(HaveOccurred())

			_, err = bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{})
			g.Expect(err).To(MatchError(bluegreen.ErrGreenExists))
			g.Expect(err.Error()).To(ContainSubstring(green))
			complete, err := bluegreen.Complete(ctx, blue.target, green)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(complete).To(BeTrue(), "the refused clone left the first one alone")

			gr := blue.greenOf(t, green)
			next := cloneName(t, gr, "next")
			res, err := bluegreen.Clone(ctx, gr.target, next, bluegreen.Options{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Tables).To(Equal(2), "the marker is not copied")
			complete, err = bluegreen.Complete(ctx, gr.target, next)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(complete).To(BeTrue())
			complete, err = bluegreen.Complete(ctx, blue.target, next)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(complete).To(BeFalse(), "next is a clone of green, not of blue")
			nx := gr.greenOf(t, next)
			g.Expect(nx.count(t, bluegreen.MarkerTable)).To(Equal(int64(1)))
		})
	}
}

// unsupported is SQL creating objects a clone cannot carry, and the names
// the refusal must list.
var unsupported = map[string]struct {
	script string
	names  []string
}{
	"postgres": {
		script: `
CREATE TABLE audited (id integer PRIMARY KEY);
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER audited_audit BEFORE INSERT ON audited FOR EACH ROW EXECUTE FUNCTION audit();
CREATE MATERIALIZED VIEW audit_summary AS SELECT count(*) AS n FROM audited;
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);`,
		names: []string{"domain positive", "function audit", "materialized view audit_summary", "trigger audited.audited_audit"},
	},
	"mysql": {
		script: `
CREATE TABLE audited (id integer PRIMARY KEY);
CREATE TRIGGER audited_audit BEFORE INSERT ON audited FOR EACH ROW SET NEW.id = NEW.id;
CREATE PROCEDURE touch() SELECT 1;`,
		names: []string{"procedure touch", "trigger audited_audit"},
	},
}

func TestCloneRefusesUnsupported(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			blue := newTestDB(t, e)
			blue.exec(t, unsupported[e.name].script)
			green := cloneName(t, blue, "refused")
			_, err := bluegreen.Clone(ctx, blue.target, green, bluegreen.Options{})
			g.Expect(err).To(MatchError(bluegreen.ErrUnsupported))
			var ue *bluegreen.UnsupportedError
			g.Expect(errors.As(err, &ue)).To(BeTrue())
			g.Expect(ue.Objects).To(Equal(unsupported[e.name].names))
			exists, err := bluegreen.Exists(ctx, blue.target, green)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(exists).To(BeFalse(), "refused before anything was created")
		})
	}
}

// TestCloneErrorsKeepSecrets: no error shows the password or the URL.
func TestCloneErrorsKeepSecrets(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			blue := newTestDB(t, e)
			wrong := *blue.target.URL
			wrong.User = url.UserPassword(blue.target.URL.User.Username(), "s3cr3t-w0rd")
			target := &database.Target{Engine: blue.target.Engine, URL: &wrong}
			_, err := bluegreen.Clone(ctx, target, "kst_never_made", bluegreen.Options{})
			g.Expect(err).To(MatchError(database.ErrUnreachable))
			g.Expect(err.Error()).NotTo(ContainSubstring("s3cr3t"))
			g.Expect(err.Error()).NotTo(ContainSubstring("://"), "no URL, redacted or not")
			g.Expect(err.Error()).To(ContainSubstring(strings.TrimPrefix(wrong.Path, "/")))
			_, err = bluegreen.Complete(ctx, target, "kst_never_made")
			g.Expect(err).To(HaveOccurred())
			g.Expect(err.Error()).NotTo(ContainSubstring("s3cr3t"))
			g.Expect(err.Error()).NotTo(ContainSubstring("://"))
		})
	}
}

func TestNamesRefused(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			blue := newTestDB(t, e)
			own := strings.TrimPrefix(blue.target.URL.Path, "/")
			g.Expect(bluegreen.Drop(ctx, blue.target, own)).To(MatchError(bluegreen.ErrGreenName))
			exists, err := bluegreen.Exists(ctx, blue.target, own)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(exists).To(BeTrue(), "blue survives")
			for _, name := range []string{"", own, strings.Repeat("x", 65)} {
				_, err := bluegreen.Clone(ctx, blue.target, name, bluegreen.Options{})
				g.Expect(err).To(MatchError(bluegreen.ErrGreenName), name)
			}
		})
	}
}

func TestSQLiteIsRefused(t *testing.T) {
	g := NewWithT(t)
	target, err := database.ParseURL("sqlite://" + t.TempDir() + "/blue.db")
	g.Expect(err).NotTo(HaveOccurred())
	_, err = bluegreen.Clone(context.Background(), target, "green", bluegreen.Options{})
	g.Expect(err).To(MatchError(bluegreen.ErrEngine))
	g.Expect(bluegreen.Drop(context.Background(), target, "green")).To(MatchError(bluegreen.ErrEngine))
}
