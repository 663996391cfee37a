package controller

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// strict makes the API server refuse unknown fields instead of pruning them,
// so "accepted" means "accepted unchanged".
var strict = &client.CreateOptions{Raw: &metav1.CreateOptions{FieldValidation: "Strict"}}

var _ = Describe("the DatabaseMigration CRD", func() {
	const ns = "default"
	ctx := context.Background()

	It("applies the schema defaults", func() {
		dbm := fixture.Migration(ns, "defaults", fixture.WithSQLite(sqlitePath()))
		Expect(k8sClient.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dbm)

		Expect(dbm.Spec.Migration.Strategy).To(Equal(dbv1.MigrationStrategyTransactional))
		Expect(dbm.Spec.Migration.BatchSize).To(Equal(int32(1000)))
		Expect(dbm.Spec.Policy.Approval).To(Equal(dbv1.ApprovalRequired))
		Expect(dbm.Spec.Policy.Destructive).To(Equal(dbv1.DestructiveBlock))
		Expect(dbm.Spec.Migration.Scripts[0].Timeout).NotTo(BeNil())
		Expect(dbm.Spec.Migration.Scripts[0].Timeout.Duration).To(Equal(10 * time.Minute))
	})

	DescribeTable("rejects an invalid spec with the field path",
		func(mutate func(*dbv1.DatabaseMigration), path, message string) {
			dbm := fixture.Migration(ns, "invalid", fixture.WithSQLite(sqlitePath()))
			mutate(dbm)
			err := k8sClient.Create(ctx, dbm)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(path))
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("unknown database type", func(d *dbv1.DatabaseMigration) { d.Spec.Database.Type = "oracle" },
			"spec.database.type", `Unsupported value: "oracle"`),
		Entry("unknown strategy", func(d *dbv1.DatabaseMigration) { d.Spec.Migration.Strategy = "big-bang" },
			"spec.migration.strategy", `Unsupported value: "big-bang"`),
		Entry("inline source without sql", func(d *dbv1.DatabaseMigration) { d.Spec.Migration.Scripts[0].SQL = "" },
			"spec.migration.scripts[0]", "an inline source needs its SQL in sql"),
		Entry("configmap source with sql", func(d *dbv1.DatabaseMigration) {
			d.Spec.Migration.Scripts[0].Source = "configmap://m/001.sql"
		}, "spec.migration.scripts[0]", "sql is only for an inline source"),
		Entry("sqlite with a Secret", func(d *dbv1.DatabaseMigration) { d.Spec.Database.ConnectionSecret = "creds" },
			"spec.database", "connectionSecret must not be set for sqlite"),
		Entry("postgresql without a Secret", func(d *dbv1.DatabaseMigration) {
			d.Spec.Database = &dbv1.DatabaseConfig{Type: dbv1.DatabaseTypePostgreSQL, Host: "pg", Database: "app"}
		}, "spec.database", "connectionSecret is required for postgresql, mysql and mariadb"),
		Entry("neither scripts nor desiredSchema", func(d *dbv1.DatabaseMigration) { d.Spec.Migration.Scripts = nil },
			"spec.migration", "either scripts (versioned) or desiredSchema (declarative) is required"),
		Entry("malformed checksum", func(d *dbv1.DatabaseMigration) { d.Spec.Migration.Scripts[0].Checksum = "md5:abc" },
			"spec.migration.scripts[0].checksum", "should match"),
	)

	It("refuses a change of spec.database after creation", func() {
		dbm := fixture.Migration(ns, "immutable-db", fixture.WithSQLite(sqlitePath()))
		Expect(k8sClient.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, dbm)

		Eventually(func() error {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
			dbm.Spec.Database.Database = "elsewhere.db"
			return k8sClient.Update(ctx, dbm)
		}).Should(MatchError(ContainSubstring("spec.database is immutable")))
	})

	It("accepts a manifest written for the original kube-shift unchanged", func() {
		raw, err := os.ReadFile("testdata/original-kube-shift-mysql.yaml")
		Expect(err).NotTo(HaveOccurred())
		original := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal(raw, &original.Object)).To(Succeed())
		original.SetNamespace(ns)
		wantSpec, _, _ := unstructured.NestedMap(original.Object, "spec")

		Expect(k8sClient.Create(ctx, original.DeepCopy(), strict)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, original)

		stored := &unstructured.Unstructured{}
		stored.SetGroupVersionKind(original.GroupVersionKind())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(original), stored)).To(Succeed())
		gotSpec, _, _ := unstructured.NestedMap(stored.Object, "spec")
		Expect(containsAll(gotSpec, wantSpec)).To(Succeed())
	})

	It("gets the finalizer and a phase from the reconciler", func() {
		dbm := fixture.Migration(ns, "lifecycle", fixture.WithSQLite(sqlitePath()))
		Expect(k8sClient.Create(ctx, dbm)).To(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
			g.Expect(dbm.Finalizers).To(ContainElement(dbv1.Finalizer))
			g.Expect(dbm.Status.Phase).NotTo(BeEmpty())
			g.Expect(dbm.Status.ObservedGeneration).To(Equal(dbm.Generation))
			ready := meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.ObservedGeneration).To(Equal(dbm.Generation))
		}).Should(Succeed())

		Expect(k8sClient.Delete(ctx, dbm)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(dbm), dbm))
		}).Should(BeTrue(), "the finalizer is released on delete")
	})
})

// sqlitePath is a fresh SQLite file path for one test.
func sqlitePath() string {
	GinkgoHelper()
	dir, err := os.MkdirTemp("", "kube-shift-controller-")
	Expect(err).NotTo(HaveOccurred())
	// The manager may still be opening the file (a drift check, a
	// finalizer) when the spec ends, and SQLite then makes its journal
	// beside it: removing the directory is tried until nothing comes back.
	DeferCleanup(func() {
		Eventually(func() error { return os.RemoveAll(dir) }).WithTimeout(30 * time.Second).Should(Succeed())
	})
	return filepath.Join(dir, "test.db")
}
