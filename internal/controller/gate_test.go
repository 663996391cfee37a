package controller

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// An author whose script reaches outside its database, past admission (a
// ConfigMap written after the migration was admitted): planning refuses
// it before anything runs, and says why without quoting the SQL.
var _ = Describe("the static gate in the reconciler", func() {
	const ns = "default"
	ctx := context.Background()

	It("refuses a script that attaches another SQLite file, and the file is untouched", func() {
		dir := GinkgoT().TempDir()
		victimPath := filepath.Join(dir, "victim.db")
		victim, err := sql.Open("sqlite", victimPath)
		Expect(err).NotTo(HaveOccurred())
		defer victim.Close()
		_, err = victim.Exec("CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('keep-me')")
		Expect(err).NotTo(HaveOccurred())

		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reach-scripts"},
			Data:       map[string]string{"001.sql": "CREATE TABLE t (id INTEGER PRIMARY KEY);\nATTACH DATABASE '" + victimPath + "' AS v;\nDELETE FROM v.secrets WHERE v = 'keep-me';"},
		}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, cm)
		path := filepath.Join(dir, "target.db")
		dbm := fixture.Migration(ns, "reach", fixture.WithSQLite(path), fixture.WithScripts(
			dbv1.MigrationScript{Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://reach-scripts/001.sql"}))
		Expect(k8sClient.Create(ctx, dbm)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, dbm) })

		Eventually(func() string {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
			if c := meta.FindStatusCondition(dbm.Status.Conditions, dbv1.ConditionPlanned); c != nil {
				return string(c.Status) + "/" + c.Reason
			}
			return ""
		}).Should(Equal("False/" + dbv1.ReasonSQLRefused))
		Expect(dbm.Status.Phase).To(Equal(dbv1.PhaseFailed))
		Expect(dbm.Status.Message).To(ContainSubstring("script a"))
		whole, err := json.Marshal(dbm)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(whole)).NotTo(ContainSubstring(victimPath), "the refusal names the kind, not the SQL")

		var v string
		Expect(victim.QueryRow("SELECT v FROM secrets").Scan(&v)).To(Succeed())
		Expect(v).To(Equal("keep-me"))
		Expect(tables(path)).NotTo(ContainElement("t"), "nothing was applied")
	})
})
