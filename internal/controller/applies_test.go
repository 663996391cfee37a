package controller

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("applies apart from the reconcile workers", func() {
	const ns = "default"
	ctx := context.Background()

	// gated makes a PostgreSQL database with a one-row table gate, and a
	// migration of it whose data script updates that row: planning never
	// runs it, and the apply waits for whoever holds the row.
	gated := func(name string) (*dbv1.DatabaseMigration, *sql.DB, string) {
		GinkgoHelper()
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		db := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		for _, stmt := range []string{
			"CREATE TABLE gate (id int PRIMARY KEY, n int NOT NULL)",
			"INSERT INTO gate VALUES (1, 0)",
		} {
			_, err := db.Exec(stmt)
			Expect(err).NotTo(HaveOccurred(), stmt)
		}
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-creds"}, StringData: map[string]string{"url": dbURL}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, secret)
		dbName := strings.TrimPrefix(u.Path, "/")
		dbm := fixture.Migration(ns, name, fixture.WithServer(dbv1.DatabaseTypePostgreSQL, secret.Name, u.Hostname(), dbName), fixture.WithScripts(
			fixture.InlineScript("marker", "CREATE TABLE marker (id int);"),
			dbv1.MigrationScript{Name: "touch-gate", Type: dbv1.ScriptTypeData, Source: "inline",
				SQL: "UPDATE gate SET n = n + 1 WHERE id = 1;", DependsOn: []string{"marker"}},
		))
		dbm.Spec.Database.Port = urlPort(u)
		dbm.Spec.Database.SSLMode = dbv1.SSLModeDisable
		return create(dbm), db, dbName
	}
	// hold takes the gate's row in a transaction of the test's.
	hold := func(db *sql.DB) *sql.Tx {
		GinkgoHelper()
		tx, err := db.Begin()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = tx.Rollback() })
		var n int
		Expect(tx.QueryRow("SELECT n FROM gate WHERE id = 1 FOR UPDATE").Scan(&n)).To(Succeed())
		return tx
	}
	// waitingOnGate counts the sessions of dbName waiting for a lock in
	// the gate's UPDATE: an apply inside its transaction.
	waitingOnGate := func(db *sql.DB, dbName string) func() (int, error) {
		return func() (int, error) {
			var n int
			err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity
				WHERE datname = $1 AND wait_event_type = 'Lock' AND query ILIKE '%UPDATE gate%'`, dbName).Scan(&n)
			return n, err
		}
	}

	It("plans a migration while as many applies as there are reconcile workers run, and records them all", func() {
		const held = 4 // the suite's MaxConcurrentReconciles and MaxConcurrentApplies
		type heldApply struct {
			dbm    *dbv1.DatabaseMigration
			db     *sql.DB
			dbName string
			hash   string
			gate   *sql.Tx
		}
		applies := make([]*heldApply, held)
		for i := range applies {
			dbm, db, dbName := gated(fmt.Sprintf("held-%d", i))
			applies[i] = &heldApply{dbm: dbm, db: db, dbName: dbName}
		}
		for _, a := range applies {
			Eventually(phase(a.dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
			a.hash = get(a.dbm).Status.Plan.Hash
		}

		By("holding each gate's row, then approving: every apply waits on it inside its transaction")
		for _, a := range applies {
			a.gate = hold(a.db)
		}
		for _, a := range applies {
			approveHash(a.dbm, a.hash)
		}
		for _, a := range applies {
			Eventually(phase(a.dbm)).Should(Equal(dbv1.PhaseRunning))
			Eventually(waitingOnGate(a.db, a.dbName)).Should(Equal(1))
		}

		By("one more approved apply waits in the queue, shown as queued, not as applying")
		queued, queuedDB, queuedName := gated("queued")
		Eventually(phase(queued)).Should(Equal(dbv1.PhaseAwaitingApproval))
		queuedHash := get(queued).Status.Plan.Hash
		approveHash(queued, queuedHash)
		Eventually(func() string { return get(queued).Status.Reason }).Should(Equal(dbv1.ReasonApplyQueued))
		Expect(get(queued).Status.Phase).To(Equal(dbv1.PhaseRunning))
		Expect(get(queued).Status.Message).To(ContainSubstring("queued for a free apply worker"))
		Expect(waitingOnGate(queuedDB, queuedName)()).To(BeZero(), "not started")

		By("a migration is planned meanwhile")
		fifth := create(fixture.Migration(ns, "planned-meanwhile", fixture.WithSQLite(sqlitePath())))
		Eventually(phase(fifth), "20s").Should(Equal(dbv1.PhaseAwaitingApproval))
		for _, a := range applies {
			Expect(waitingOnGate(a.db, a.dbName)()).To(Equal(1), "%s still applies", a.dbm.Name)
			Expect(get(a.dbm).Status.Phase).To(Equal(dbv1.PhaseRunning))
			Expect(get(a.dbm).Status.Reason).To(Equal(dbv1.ReasonApplying))
		}

		By("releasing the gates: every apply completes once and is recorded")
		for _, a := range applies {
			Expect(a.gate.Commit()).To(Succeed())
		}
		Eventually(phase(queued)).Should(Equal(dbv1.PhaseSucceeded))
		Expect(get(queued).Status.LastApplied.PlanHash).To(Equal(queuedHash))
		for _, a := range applies {
			Eventually(phase(a.dbm)).Should(Equal(dbv1.PhaseSucceeded))
			dbm := get(a.dbm)
			// The Applied condition, not the phase's reason: a drift check
			// (every replanInterval) may have said since that the database
			// matches the migration.
			Expect(meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionApplied).Reason).To(Equal(dbv1.ReasonApplied))
			Expect(dbm.Status.LastApplied.PlanHash).To(Equal(a.hash))
			Expect(dbm.Status.LastApplied.ApprovedBy).To(Equal("rita"))
			Expect(dbm.Status.Progress.PercentageComplete).To(Equal(int32(100)))
			var n int
			Expect(a.db.QueryRow("SELECT n FROM gate WHERE id = 1").Scan(&n)).To(Succeed())
			Expect(n).To(Equal(1), "%s's data script ran once", a.dbm.Name)
		}
	})

	It("lets a migration being deleted go only once its apply in flight ended", func() {
		dbm, db, dbName := gated("deleted-mid-apply")
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		gate := hold(db)
		approveHash(dbm, get(dbm).Status.Plan.Hash)
		Eventually(waitingOnGate(db, dbName)).Should(Equal(1))

		Expect(k8sClient.Delete(ctx, dbm)).To(Succeed())
		Eventually(func() string {
			c := meta.FindStatusCondition(get(dbm).Status.Conditions, dbv1.ConditionReady)
			if c == nil {
				return ""
			}
			return c.Reason
		}).Should(Equal(dbv1.ReasonDeleting))
		Consistently(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(dbm), dbm) }, "2s").Should(Succeed(),
			"the finalizer holds the object while its apply runs")

		Expect(gate.Commit()).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)) }, 20*time.Second).Should(BeTrue())
		var n int
		Expect(db.QueryRow("SELECT n FROM gate WHERE id = 1").Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1), "the apply ran to its end")
	})
})
