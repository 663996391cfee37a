package controller

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// secretMarker stands for what a Secret-sourced script holds that nothing
// the operator shows may contain.
const secretMarker = "secret_marker_7f3a"

var _ = Describe("secret-sourced SQL", func() {
	const ns = "default"
	ctx := context.Background()

	condition := func(dbm *dbv1.DatabaseMigration, t string) *metav1.Condition {
		GinkgoHelper()
		c := meta.FindStatusCondition(get(dbm).Status.Conditions, t)
		Expect(c).NotTo(BeNil(), "no %s condition", t)
		return c
	}
	// widgets is the inline schema script the Secret-sourced ones follow.
	widgets := fixture.InlineScript("widgets", "CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);")
	// migration creates a Secret holding text and a migration of the
	// SQLite file path whose script "seed" comes from it, after the
	// scripts before.
	migration := func(name, path string, scriptType dbv1.ScriptType, text string, before ...dbv1.MigrationScript) *dbv1.DatabaseMigration {
		GinkgoHelper()
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-sql"},
			Data:       map[string][]byte{"up.sql": []byte(text)},
		}
		Expect(k8sClient.Create(ctx, secret)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, secret) })
		seed := dbv1.MigrationScript{Name: "seed", Type: scriptType, Source: "secret://" + secret.Name + "/up.sql"}
		for _, s := range before {
			seed.DependsOn = append(seed.DependsOn, s.Name)
		}
		dbm := fixture.Migration(ns, name, fixture.WithSQLite(path), fixture.WithScripts(append(before, seed)...))
		Expect(k8sClient.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, dbm) })
		return dbm
	}
	approve := func(dbm *dbv1.DatabaseMigration) {
		GinkgoHelper()
		Eventually(func() error {
			get(dbm)
			patch := client.MergeFrom(dbm.DeepCopy())
			fixture.WithAnnotations(map[string]string{dbv1.AnnotationApprovedPlan: dbm.Status.Plan.Hash, dbv1.AnnotationApprovedBy: "rita"})(dbm)
			return k8sClient.Patch(ctx, dbm, patch)
		}).Should(Succeed())
	}
	// managerLog holds what the manager logs while a spec runs (the suite
	// logs to GinkgoWriter).
	var managerLog *gbytes.Buffer
	BeforeEach(func() {
		managerLog = gbytes.NewBuffer()
		GinkgoWriter.TeeTo(managerLog)
		DeferCleanup(GinkgoWriter.ClearTeeWriters)
	})
	// shown is everything the operator shows of dbm: the object with its
	// status, the events about it, and the manager's log.
	shown := func(dbm *dbv1.DatabaseMigration) string {
		GinkgoHelper()
		object, err := json.Marshal(get(dbm))
		Expect(err).NotTo(HaveOccurred())
		var events eventsv1.EventList
		Expect(k8sClient.List(ctx, &events, client.InNamespace(ns))).To(Succeed())
		var notes []string
		for _, e := range events.Items {
			if e.Regarding.UID == dbm.UID {
				notes = append(notes, e.Reason+": "+e.Note)
			}
		}
		Expect(notes).NotTo(BeEmpty(), "no event about %s", dbm.Name)
		return string(object) + "\n" + strings.Join(notes, "\n") + "\n" + string(managerLog.Contents())
	}
	expectHidden := func(dbm *dbv1.DatabaseMigration, text string) {
		GinkgoHelper()
		all := shown(dbm)
		Expect(all).NotTo(ContainSubstring(secretMarker))
		Expect(source.Quotes(all, text)).To(BeFalse(), "the operator shows part of the secret SQL")
		out, err := shift(ctx, ns, "status", dbm.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).NotTo(ContainSubstring(secretMarker))
	}

	It("plans and applies a script from a Secret without ever showing its text", func() {
		seed := "INSERT INTO widgets (name) VALUES ('" + secretMarker + ": hunter2');"
		dbm := migration("secret-seed", sqlitePath(), dbv1.ScriptTypeData, seed, widgets)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		plan := get(dbm).Status.Plan
		Expect(plan.Statements).To(HaveLen(2))
		Expect(plan.Statements[0]).To(ContainSubstring("CREATE TABLE widgets"), "an inline script is shown")
		Expect(plan.Statements[1]).To(Equal(`-- statement 1 of script "seed" (secret-sourced, ` + script.Checksum([]byte(seed)) + `): not shown`))
		out, err := shift(ctx, ns, "status", dbm.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring(`    2  -- statement 1 of script "seed" (secret-sourced, sha256:`))
		expectHidden(dbm, seed)

		By("the statement that runs is the real one")
		approve(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		db, err := sql.Open("sqlite", dbm.Spec.Database.Database)
		Expect(err).NotTo(HaveOccurred())
		defer db.Close()
		var name string
		Expect(db.QueryRow(`SELECT name FROM widgets`).Scan(&name)).To(Succeed())
		Expect(name).To(Equal(secretMarker + ": hunter2"))
		expectHidden(dbm, seed)
	})

	It("reports a Secret-sourced script that does not plan by its name and statement, not its SQL nor the database's message", func() {
		script := "ALTER TABLE no_such_table_" + secretMarker + " ADD COLUMN note TEXT;"
		dbm := migration("secret-invalid", sqlitePath(), dbv1.ScriptTypeSchema, script, widgets)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		planned := condition(dbm, dbv1.ConditionPlanned)
		Expect(planned.Reason).To(Equal(dbv1.ReasonInvalidSQL))
		Expect(planned.Message).To(Equal(`statement 1 of script "seed" (secret-sourced): invalid SQL; the statement and the database's message are not shown`))
		Expect(get(dbm).Status.Message).To(Equal(planned.Message))
		expectHidden(dbm, script)
	})

	It("reports a Secret-sourced statement that fails when the approved plan runs the same way", func() {
		// The row is in the target, not in the dev database the plan
		// replays on: the statement plans, and fails on the target.
		script := "INSERT INTO gadgets (id, name) VALUES (1, '" + secretMarker + ": hunter2');"
		path := sqlitePath()
		exec(path, "CREATE TABLE gadgets (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO gadgets VALUES (1, 'taken');")
		dbm := migration("secret-fails", path, dbv1.ScriptTypeData, script)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		approve(dbm)
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		applied := condition(dbm, dbv1.ConditionApplied)
		Expect(applied.Reason).To(Equal(dbv1.ReasonApplyFailed))
		Expect(applied.Message).To(Equal(`statement 1 of 1 (statement 1 of script "seed", secret-sourced) failed on the database; ` +
			`the plan was rolled back, nothing was applied; the statement and the database's message are not shown`))
		expectHidden(dbm, script)
	})
})
