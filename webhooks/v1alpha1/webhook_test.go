package v1alpha1

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var _ = Describe("admission", func() {
	ctx := context.Background()

	newMigration := func(name string, opts ...fixture.Option) *dbv1.DatabaseMigration {
		return fixture.Migration(testNamespace, name, opts...)
	}
	// planned creates a migration as dev and writes a plan into its status,
	// as the reconciler would.
	planned := func(name string, plan dbv1.PlanStatus, opts ...fixture.Option) *dbv1.DatabaseMigration {
		dbm := newMigration(name, opts...)
		Expect(dev.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dbm)
		dbm.Status.Plan = &plan
		Expect(admin.Status().Update(ctx, dbm)).To(Succeed())
		return dbm
	}
	approveAs := func(c client.Client, dbm *dbv1.DatabaseMigration, hash string, extra map[string]string) error {
		patch := client.MergeFrom(dbm.DeepCopy())
		ann := map[string]string{dbv1.AnnotationApprovedPlan: hash}
		for k, v := range extra {
			ann[k] = v
		}
		fixture.WithAnnotations(ann)(dbm)
		return c.Patch(ctx, dbm, patch)
	}

	It("stamps created-by with the authenticated user, whatever the request says", func() {
		dbm := newMigration("stamped", fixture.WithAnnotations(map[string]string{dbv1.AnnotationCreatedBy: "rita"}))
		Expect(dev.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dbm)
		Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationCreatedBy, "dev"))
		Expect(dbm.Spec.Database.SSLMode).To(Equal(dbv1.SSLModeDisable))
	})

	It("denies a destructive inline script, quoting the statement", func() {
		dbm := newMigration("destructive", fixture.WithScripts(
			fixture.InlineScript("cleanup", "CREATE TABLE a (id int);\nDROP TABLE customers;")))
		err := dev.Create(ctx, dbm)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("spec.migration.scripts[0].sql"))
		Expect(err.Error()).To(ContainSubstring("DROP TABLE customers"))
	})

	It("returns every problem of a spec at once, each with its field path", func() {
		dbm := newMigration("three-problems",
			fixture.WithStrategy(dbv1.MigrationStrategyBlueGreen), // on SQLite
			fixture.WithScripts(
				fixture.InlineScript("a", "TRUNCATE orders;"),
				fixture.InlineScript("b", "CREATE TABLE b (id int);", "missing"),
			))
		err := dev.Create(ctx, dbm)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(SatisfyAll(
			ContainSubstring(`spec.migration.strategy: Invalid value: "blue-green": blue-green copies the database on its server`),
			ContainSubstring("spec.migration.scripts[0].sql"),
			ContainSubstring(`spec.migration.scripts[1].dependsOn[0]: Not found: "missing"`),
		))
	})

	It("denies a server-side dry run the same way and stores nothing", func() {
		dbm := newMigration("dry-run", fixture.WithScripts(fixture.InlineScript("a", "DELETE FROM users;")))
		err := dev.Create(ctx, dbm, client.DryRunAll)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("DELETE FROM users"))

		ok := newMigration("dry-run-ok")
		Expect(dev.Create(ctx, ok, client.DryRunAll)).To(Succeed())
		Expect(apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(ok), ok))).To(BeTrue())
	})

	It("warns, not denies, when a script's ConfigMap does not exist yet, and lints it once it does", func() {
		dbm := newMigration("configmap-later", fixture.WithScripts(dbv1.MigrationScript{
			Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://later/001.sql"}))
		Expect(dev.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, dbm)

		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "bad-scripts"},
			Data: map[string]string{"001.sql": "DROP TABLE invoices;"}}
		Expect(admin.Create(ctx, cm)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, cm)
		bad := newMigration("configmap-bad", fixture.WithScripts(dbv1.MigrationScript{
			Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://bad-scripts/001.sql"}))
		err := dev.Create(ctx, bad)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("DROP TABLE invoices"))
	})

	Describe("approval", func() {
		plan := dbv1.PlanStatus{Hash: "sha256:" + strings.Repeat("a", 64), Statements: []string{"CREATE TABLE t (id int)"}}

		It("refuses the creator's own approval", func() {
			dbm := planned("self-approval", plan)
			err := approveAs(dev, dbm, plan.Hash, nil)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(`"dev" created this migration and cannot approve its plan`))
		})

		It("refuses a user without the approve verb", func() {
			dbm := planned("no-verb", plan)
			err := approveAs(bob, dbm, plan.Hash, nil)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(`"bob" may not approve plans`))
		})

		It("lets a reviewer with the verb approve, and records the reviewer whatever the request wrote", func() {
			dbm := planned("approved", plan)
			Expect(approveAs(rita, dbm, plan.Hash, map[string]string{dbv1.AnnotationApprovedBy: "ceo"})).To(Succeed())
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, plan.Hash))
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedBy, "rita"))
		})

		It("refuses a stale hash", func() {
			dbm := planned("stale", plan)
			err := approveAs(rita, dbm, "sha256:"+strings.Repeat("b", 64), nil)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring("does not match the current plan " + plan.Hash))
		})

		It("refuses a destructive plan under the block policy even from a reviewer", func() {
			dbm := planned("destructive-plan", dbv1.PlanStatus{Hash: plan.Hash, Destructive: true})
			err := approveAs(rita, dbm, plan.Hash, nil)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring("the plan is destructive"))
		})

		It("holds a blue-green switch approval to the same rules, and records who switched", func() {
			dbm := planned("switch", plan)
			switchAs := func(c client.Client, hash string) error {
				patch := client.MergeFrom(dbm.DeepCopy())
				fixture.WithAnnotations(map[string]string{dbv1.AnnotationSwitchApproved: hash, dbv1.AnnotationSwitchApprovedBy: "ceo"})(dbm)
				return c.Patch(ctx, dbm, patch)
			}
			err := switchAs(dev, plan.Hash)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring(`metadata.annotations[database.mohitnagaraj.in/switch-approved]: Forbidden: "dev" created this migration`))
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
			err = switchAs(rita, "sha256:"+strings.Repeat("c", 64))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(ContainSubstring("does not match the current plan"))
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
			Expect(switchAs(rita, plan.Hash)).To(Succeed())
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationSwitchApprovedBy, "rita"))
		})

		It("keeps created-by out of users' hands", func() {
			dbm := planned("forge-creator", plan)
			patch := client.MergeFrom(dbm.DeepCopy())
			dbm.Annotations[dbv1.AnnotationCreatedBy] = "rita"
			Expect(bob.Patch(ctx, dbm, patch)).To(Succeed())
			Expect(dbm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationCreatedBy, "dev"))
		})
	})

	It("shows the denial to a user of the real kubectl", func() {
		manifest := `apiVersion: database.mohitnagaraj.in/v1alpha1
kind: DatabaseMigration
metadata:
  name: kubectl-denied
  namespace: ` + testNamespace + `
spec:
  database: {type: sqlite, database: shop.db}
  migration:
    scripts:
    - name: purge
      type: data
      source: inline
      sql: "UPDATE customers SET email = NULL;"
`
		out, err := kubectl("dev", manifest, "apply", "-f", "-")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring(`The DatabaseMigration "kubectl-denied" is invalid`))
		Expect(out).To(ContainSubstring("spec.migration.scripts[0].sql"))
		Expect(out).To(ContainSubstring("UPDATE customers SET email = NULL"))
	})

	It("accepts every sample in config/samples once defaulted", func() {
		samples, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(samples).NotTo(BeEmpty())
		for _, path := range samples {
			if filepath.Base(path) == "kustomization.yaml" {
				continue
			}
			raw, err := os.ReadFile(path)
			Expect(err).NotTo(HaveOccurred())
			out, err := kubectl("dev", string(raw), "apply", "--dry-run=server", "-n", testNamespace, "-f", "-")
			Expect(err).NotTo(HaveOccurred(), "%s: %s", path, out)
		}
	})
})

// kubectl runs the real kubectl binary as one of the suite's users.
func kubectl(user, stdin string, args ...string) (string, error) {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfigs[user]}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
