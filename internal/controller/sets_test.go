package controller

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
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
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

// tenantSchema is every tenant's schema before the fleet's change; the
// desired schema adds a column and a unique index.
const (
	tenantSchema  = "CREATE TABLE users (id integer PRIMARY KEY, email text)"
	desiredTenant = "CREATE TABLE users (id integer PRIMARY KEY, email text, age integer);\nCREATE UNIQUE INDEX users_email ON users (email);"
)

var _ = Describe("database migration sets", func() {
	ctx := context.Background()

	// sqliteTenant makes a SQLite tenant database with setup run on it,
	// and its DatabaseTarget.
	sqliteTenant := func(ns, dir, name string, labels map[string]string, setup ...string) string {
		GinkgoHelper()
		path := filepath.Join(dir, name+".db")
		t, err := database.ParseURL("sqlite://" + path)
		Expect(err).NotTo(HaveOccurred())
		db, err := t.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		for _, s := range setup {
			_, err := db.Exec(s)
			Expect(err).NotTo(HaveOccurred(), s)
		}
		Expect(db.Close()).To(Succeed())
		dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypeSQLite, Database: path}}
		Expect(k8sClient.Create(ctx, dt)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dt)
		return path
	}
	newSet := func(ns, name string, rollout dbv1.Rollout) *dbv1.DatabaseMigrationSet {
		return &dbv1.DatabaseMigrationSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: dbv1.DatabaseMigrationSetSpec{
				Template: dbv1.MigrationTemplate{Migration: dbv1.MigrationConfig{
					DesiredSchema: &dbv1.DesiredSchema{Source: "inline", SQL: desiredTenant, Format: dbv1.SchemaFormatSQL},
				}},
				TargetSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
				Rollout:        rollout,
			},
		}
	}
	getSet := func(set *dbv1.DatabaseMigrationSet) *dbv1.DatabaseMigrationSet {
		GinkgoHelper()
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(set), set)).To(Succeed())
		return set
	}
	setPhase := func(set *dbv1.DatabaseMigrationSet) func() dbv1.SetPhase {
		return func() dbv1.SetPhase { return getSet(set).Status.Phase }
	}
	annotate := func(set *dbv1.DatabaseMigrationSet, ann map[string]string) {
		GinkgoHelper()
		Eventually(func() error {
			getSet(set)
			patch := client.MergeFrom(set.DeepCopy())
			if set.Annotations == nil {
				set.Annotations = map[string]string{}
			}
			for k, v := range ann {
				set.Annotations[k] = v
			}
			return k8sClient.Patch(ctx, set, patch)
		}).Should(Succeed())
	}
	// approveFleet approves the fleet as the reviewer rita (the webhook
	// does not run here to stamp approved-fleet-by).
	approveFleet := func(set *dbv1.DatabaseMigrationSet) string {
		GinkgoHelper()
		hash := getSet(set).Status.FleetHash
		Expect(hash).NotTo(BeEmpty())
		annotate(set, map[string]string{dbv1.AnnotationApprovedFleet: hash, dbv1.AnnotationApprovedFleetBy: "rita"})
		return hash
	}
	children := func(set *dbv1.DatabaseMigrationSet) []dbv1.DatabaseMigration {
		GinkgoHelper()
		var list dbv1.DatabaseMigrationList
		Expect(k8sClient.List(ctx, &list, client.InNamespace(set.Namespace), client.MatchingLabels{dbv1.LabelSet: set.Name})).To(Succeed())
		return list.Items
	}
	approvedChildren := func(set *dbv1.DatabaseMigrationSet) []string {
		var out []string
		for _, c := range children(set) {
			if c.Annotations[dbv1.AnnotationApprovedPlan] != "" {
				out = append(out, c.Name)
			}
		}
		return out
	}
	state := func(set *dbv1.DatabaseMigrationSet, target string) dbv1.FleetTargetState {
		for _, t := range set.Status.Targets {
			if t.Target == target {
				return t.State
			}
		}
		return ""
	}

	It("plans 20 SQLite tenants and 5 PostgreSQL schemas, groups their plans, and rolls the approved fleet out in waves", func() {
		ns := "fleet"
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
		dir := GinkgoT().TempDir()
		var paths []string
		for i := range 20 {
			tier := "small"
			if i < 5 {
				tier = "internal"
			}
			setup := []string{tenantSchema, fmt.Sprintf("INSERT INTO users VALUES (1, 'a%d@example.com')", i)}
			if i == 7 {
				// One tenant's schema differs: its plan does too.
				setup = []string{"CREATE TABLE users (id integer PRIMARY KEY)"}
			}
			paths = append(paths, sqliteTenant(ns, dir, fmt.Sprintf("tenant-%02d", i), map[string]string{"app": "shop", "tier": tier}, setup...))
		}
		// Five tenants are schemas of one PostgreSQL database.
		dbURL := dbtest.NewPostgresDatabase(GinkgoTB())
		pg := dbtest.OpenPostgres(GinkgoTB(), dbURL)
		u, err := url.Parse(dbURL)
		Expect(err).NotTo(HaveOccurred())
		port, _ := strconv.Atoi(u.Port())
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg-tenants"}, StringData: map[string]string{"url": dbURL}}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, secret)
		for i := range 5 {
			schema := fmt.Sprintf("tenant_%d", i)
			_, err := pg.Exec("CREATE SCHEMA " + schema + "; SET search_path = " + schema + "; " + tenantSchema + "; RESET search_path")
			Expect(err).NotTo(HaveOccurred())
			dt := &dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pg-" + strings.ReplaceAll(schema, "_", "-"), Labels: map[string]string{"app": "shop", "tier": "small"}},
				Spec: dbv1.DatabaseTargetSpec{Type: dbv1.DatabaseTypePostgreSQL, Host: u.Hostname(), Port: int32(port), Database: strings.TrimPrefix(u.Path, "/"),
					Schema: schema, SSLMode: dbv1.SSLModeDisable, ConnectionSecret: &dbv1.TargetSecretRef{Name: "pg-tenants"}}}
			Expect(k8sClient.Create(ctx, dt)).To(Succeed())
			DeferCleanup(k8sClient.Delete, ctx, dt)
		}

		set := newSet(ns, "add-age", dbv1.Rollout{
			Canary: 1, PauseAfterCanary: true, MaxParallel: 4,
			Steps: []dbv1.RolloutStep{
				{Name: "internal", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "internal"}}},
				{Name: "small", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "small"}}},
			},
		})
		Expect(k8sClient.Create(ctx, set)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, set) })

		By("planning every target and grouping the plans for one review")
		Eventually(setPhase(set), "120s").Should(Equal(dbv1.SetAwaitingApproval), func() string { return set.Status.Message })
		Expect(set.Status.Counts.Total).To(BeEquivalentTo(25))
		var groups []int32
		for _, p := range set.Status.Plans {
			groups = append(groups, p.Targets)
		}
		Expect(groups).To(Equal([]int32{19, 5, 1}), "SQLite tenants, PostgreSQL schemas, and the tenant whose schema differs")
		Expect(set.Status.Plans[2].Examples).To(Equal([]string{"DatabaseTarget/tenant-07"}))
		Expect(approvedChildren(set)).To(BeEmpty(), "nothing applies before the fleet is approved")
		Expect(children(set)).To(HaveLen(25))

		By("one approval of the fleet: the canary applies, the rest waits for a promotion")
		fleet := approveFleet(set)
		Eventually(setPhase(set), "60s").Should(Equal(dbv1.SetAwaitingPromotion), func() string { return set.Status.Message })
		Expect(set.Status.Approved.Hash).To(Equal(fleet))
		Expect(set.Status.Counts.Succeeded).To(BeEquivalentTo(1))
		Expect(state(set, "DatabaseTarget/tenant-00")).To(Equal(dbv1.FleetSucceeded), "the canary is the first target of the first step")
		Consistently(func() []string { return approvedChildren(set) }, "2s").Should(Equal([]string{"add-age-tenant-00"}))

		By("promoted, the rest goes in waves no wider than maxParallel")
		annotate(set, map[string]string{dbv1.AnnotationPromoted: fleet, dbv1.AnnotationPromotedBy: "rita"})
		Eventually(setPhase(set), "180s").Should(Equal(dbv1.SetSucceeded), func() string { return set.Status.Message })
		ready := meta.FindStatusCondition(set.Status.Conditions, dbv1.ConditionReady)
		Expect(ready).NotTo(BeNil())
		Expect(ready.Status).To(Equal(metav1.ConditionTrue))
		Expect(set.Status.Counts.Succeeded).To(BeEquivalentTo(25))

		// The revision tables say when each apply ran: never more than
		// maxParallel at once, and the internal step before the small one.
		type span struct {
			name       string
			start, end time.Time
		}
		var spans []span
		for i, p := range paths {
			t, err := database.ParseURL("sqlite://" + p)
			Expect(err).NotTo(HaveOccurred())
			db, err := t.Open(ctx)
			Expect(err).NotTo(HaveOccurred())
			revs, err := database.RevisionsOn(t.Engine, db).All(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(db.Close()).To(Succeed())
			Expect(revs).To(HaveLen(1), "tenant %d applied once", i)
			Expect(revs[0].FinishedAt).NotTo(BeNil())
			spans = append(spans, span{fmt.Sprintf("tenant-%02d", i), revs[0].StartedAt, *revs[0].FinishedAt})
		}
		for i := range 5 {
			// Each schema has its own revision table.
			var n int
			Expect(pg.QueryRow(fmt.Sprintf("SELECT count(*) FROM tenant_%d.%s WHERE status = 'succeeded'", i, database.RevisionTable)).Scan(&n)).To(Succeed())
			Expect(n).To(Equal(1))
			var start, end time.Time
			Expect(pg.QueryRow(fmt.Sprintf("SELECT started_at, finished_at FROM tenant_%d.%s", i, database.RevisionTable)).Scan(&start, &end)).To(Succeed())
			spans = append(spans, span{fmt.Sprintf("pg-tenant-%d", i), start, end})
		}
		peak := 0
		for _, s := range spans {
			at := 0
			for _, o := range spans {
				if !o.start.After(s.start) && o.end.After(s.start) {
					at++
				}
			}
			peak = max(peak, at)
		}
		GinkgoWriter.Printf("25 targets applied, at most %d at once (maxParallel 4)\n", peak)
		Expect(peak).To(BeNumerically("<=", 4))
		lastInternal := slices.MaxFunc(spans[:5], func(a, b span) int { return a.end.Compare(b.end) })
		for _, s := range spans[5:] {
			Expect(s.start.Before(lastInternal.end)).To(BeFalse(), "%s started before the internal step ended", s.name)
		}
		var cols int
		Expect(pg.QueryRow("SELECT count(*) FROM information_schema.columns WHERE column_name = 'age' AND table_schema LIKE 'tenant_%'").Scan(&cols)).To(Succeed())
		Expect(cols).To(Equal(5))
	})

	It("stops at the failure budget naming the tenant, leaves the rest untouched, and waits for a new approval of targets that join or drift", func() {
		ns := "fleet-fail"
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
		dir := GinkgoT().TempDir()
		for i := range 6 {
			setup := []string{tenantSchema, fmt.Sprintf("INSERT INTO users VALUES (1, 'a%d@example.com')", i)}
			if i == 1 {
				// Its data breaks the unique index: the apply fails.
				setup = append(setup, "INSERT INTO users VALUES (2, 'a1@example.com')")
			}
			sqliteTenant(ns, dir, fmt.Sprintf("t%d", i), map[string]string{"app": "shop"}, setup...)
		}
		set := newSet(ns, "uniq", dbv1.Rollout{MaxParallel: 1})
		Expect(k8sClient.Create(ctx, set)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, set) })
		Eventually(setPhase(set), "60s").Should(Equal(dbv1.SetAwaitingApproval))

		By("the approved fleet rolls out one at a time until a tenant fails")
		approveFleet(set)
		Eventually(setPhase(set), "60s").Should(Equal(dbv1.SetStalled), func() string { return set.Status.Message })
		Expect(set.Status.Message).To(ContainSubstring("DatabaseTarget/t1"))
		Expect(set.Status.Message).To(ContainSubstring("maxFailures (0)"))
		stalled := meta.FindStatusCondition(set.Status.Conditions, dbv1.ConditionStalled)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Reason).To(Equal(dbv1.ReasonFailureBudget))
		Expect(set.Status.Counts.Succeeded).To(BeEquivalentTo(1), "t0 went before t1")
		Consistently(func() []string { return approvedChildren(set) }, "3s").Should(ConsistOf("uniq-t0", "uniq-t1"), "nothing starts past the budget")
		for _, name := range []string{"t2", "t3", "t4", "t5"} {
			t, err := database.ParseURL("sqlite://" + filepath.Join(dir, name+".db"))
			Expect(err).NotTo(HaveOccurred())
			db, err := t.Open(ctx)
			Expect(err).NotTo(HaveOccurred())
			var n int
			Expect(db.QueryRow("SELECT count(*) FROM pragma_table_info('users') WHERE name = 'age'").Scan(&n)).To(Succeed())
			Expect(db.Close()).To(Succeed())
			Expect(n).To(BeZero(), "%s is untouched", name)
		}

		By("fixing the tenant and retrying: the rest goes on")
		t1, err := database.ParseURL("sqlite://" + filepath.Join(dir, "t1.db"))
		Expect(err).NotTo(HaveOccurred())
		db, err := t1.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		_, err = db.Exec("UPDATE users SET email = 'b1@example.com' WHERE id = 2")
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Close()).To(Succeed())
		// A late target joins meanwhile.
		sqliteTenant(ns, dir, "t6", map[string]string{"app": "shop"}, tenantSchema)
		annotate(set, map[string]string{dbv1.AnnotationRetry: "1"})

		By("the fixed tenant applies the plan approved for it; the late one waits for a new approval")
		Eventually(func() int32 { return getSet(set).Status.Counts.Succeeded }, "90s").Should(BeEquivalentTo(6), func() string { return set.Status.Message })
		Expect(getSet(set).Status.Phase).To(Equal(dbv1.SetAwaitingApproval), set.Status.Message)
		Expect(state(set, "DatabaseTarget/t6")).To(Equal(dbv1.FleetUnapproved))
		Expect(approvedChildren(set)).NotTo(ContainElement("uniq-t6"))

		By("drift: a succeeded tenant whose live schema moves gets a new plan, which waits too")
		t3, err := database.ParseURL("sqlite://" + filepath.Join(dir, "t3.db"))
		Expect(err).NotTo(HaveOccurred())
		db, err = t3.Open(ctx)
		Expect(err).NotTo(HaveOccurred())
		_, err = db.Exec("DROP INDEX users_email")
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Close()).To(Succeed())
		Eventually(func() dbv1.FleetTargetState { return state(getSet(set), "DatabaseTarget/t3") }, "60s").Should(Equal(dbv1.FleetUnapproved))

		approveFleet(set)
		Eventually(setPhase(set), "90s").Should(Equal(dbv1.SetSucceeded), func() string { return set.Status.Message })
		Expect(set.Status.Counts.Succeeded).To(BeEquivalentTo(7))

		By("deleting the set deletes its children, and no schema")
		Expect(k8sClient.Delete(ctx, set)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(set), set)) }, "30s").Should(BeTrue())
		Expect(children(set)).To(BeEmpty())
	})
})
