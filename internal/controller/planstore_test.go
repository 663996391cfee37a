package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/plandoc"
	"github.com/mohit-nagaraj/kube-shift/internal/plugin"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var reviewerKubeconfig = sync.OnceValue(func() string {
	user, err := testEnv.AddUser(envtest.User{Name: "rita", Groups: []string{"system:masters"}}, cfg)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "kube-shift-controller-test-")
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(dir, "rita.kubeconfig")
	Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())
	return path
})

// shift runs `kubectl shift ARGS...` in namespace as a reviewer, the way
// the plugin runs, and returns what it wrote.
func shift(ctx context.Context, namespace string, args ...string) (string, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = ptr.To(reviewerKubeconfig())
	flags.Namespace = ptr.To(namespace)
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := &cobra.Command{Use: "kubectl-shift", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(plugin.Commands(&plugin.Options{Flags: flags, Streams: streams})...)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	GinkgoWriter.Printf("$ kubectl shift %v\n%s%s(error: %v)\n", args, out.String(), errOut.String(), err)
	return out.String(), err
}

// bigScripts are three statements of which status holds two: the plan
// spills into its ConfigMap.
func bigScripts() []dbv1.MigrationScript {
	filler := strings.Repeat("x", 30_000)
	var scripts []dbv1.MigrationScript
	for i := range 3 {
		scripts = append(scripts, fixture.InlineScript(fmt.Sprintf("t%d", i),
			fmt.Sprintf("CREATE TABLE t%d (id INTEGER PRIMARY KEY, note TEXT DEFAULT '%s');", i, filler)))
	}
	return scripts
}

var _ = Describe("a plan too large for status", func() {
	const ns = "default"
	ctx := context.Background()

	planConfigMap := func(dbm *dbv1.DatabaseMigration) *corev1.ConfigMap {
		GinkgoHelper()
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: dbm.Name + "-plan"}, cm)).To(Succeed())
		return cm
	}

	It("is shown whole by kubectl shift, checked against the digest in status, and approved", func() {
		path := sqlitePath()
		const check = "SELECT count(*) = 0\nFROM t2;"
		dbm := create(fixture.Migration(ns, "big-shown", fixture.WithSQLite(path), fixture.WithScripts(append(bigScripts(),
			dbv1.MigrationScript{Name: "t2-empty", Type: dbv1.ScriptTypeValidation, Source: "inline", SQL: check, DependsOn: []string{"t2"}})...)))
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		plan := get(dbm).Status.Plan
		Expect(plan.Truncated).To(BeTrue())
		Expect(plan.Statements).To(HaveLen(2))
		cm := planConfigMap(dbm)
		Expect(plan.ConfigMapDigest).To(Equal(plandoc.Digest([]byte(cm.Data[plandoc.KeyJSON]))))
		Expect(metav1.IsControlledBy(cm, dbm)).To(BeTrue())
		doc, err := plandoc.Verify(cm, plan.Hash, plan.ConfigMapDigest)
		Expect(err).NotTo(HaveOccurred())
		Expect(doc.Validations).To(Equal([]dbv1.PlannedValidation{{Name: "t2-empty", SQL: check}}), "the whole plan holds the validation scripts")

		out, err := shift(ctx, ns, "status", dbm.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`(?m)^\s+3  CREATE TABLE t2 `), "the third statement, which status does not hold")
		Expect(out).To(ContainSubstring("(the whole plan, from ConfigMap big-shown-plan: too large for status, it matches status.plan.configMapDigest)"))
		Expect(out).To(ContainSubstring("Validation scripts (run after the statements, read-only; each must return true or the apply fails):\n  t2-empty:\n       SELECT count(*) = 0\n       FROM t2;\n"),
			"the reviewer reads the validation scripts with the statements")

		out, err = shift(ctx, ns, "approve", dbm.Name, "--yes")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("approved plan " + plan.Hash))
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseSucceeded))
		Expect(tables(path)).To(ContainElements("t0", "t1", "t2"))
	})

	It("edited after the controller wrote it, is not shown until the controller writes it back", func() {
		dbm := create(fixture.Migration(ns, "big-forged", fixture.WithSQLite(sqlitePath()), fixture.WithScripts(bigScripts()...)))
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		const forged = "DROP TABLE customers"

		for _, edit := range map[string]func(map[string]string){
			"plan.json": func(data map[string]string) {
				data[plandoc.KeyJSON] = strings.Replace(data[plandoc.KeyJSON], "CREATE TABLE t2", forged+"; CREATE TABLE t2", 1)
			},
			"plan.sql": func(data map[string]string) {
				data[plandoc.KeySQL] = strings.Replace(data[plandoc.KeySQL], "CREATE TABLE t2", forged+"; CREATE TABLE t2", 1)
			},
		} {
			// The controller writes its plan back on its next re-plan
			// (every two seconds here): a run it interrupted proves
			// nothing and is made again. Approval of a forged plan is
			// refused in the plugin's own suite, where no controller
			// races the edit (an approval of the restored plan would
			// apply it here).
			var (
				statusOut string
				statusErr error
			)
			Eventually(func(g Gomega) {
				cm := planConfigMap(dbm)
				edit(cm.Data)
				g.Expect(k8sClient.Update(ctx, cm)).To(Succeed())
				statusOut, statusErr = shift(ctx, ns, "status", dbm.Name)
				g.Expect(planConfigMap(dbm).ResourceVersion).To(Equal(cm.ResourceVersion), "the controller wrote its plan back during the run, which proves nothing: run again")
			}).Should(Succeed())

			Expect(statusErr).To(MatchError(ContainSubstring("does not hold the plan the operator wrote")))
			Expect(statusOut).To(ContainSubstring("truncated after statement 2, and the rest cannot be shown"))
			Expect(statusOut).NotTo(ContainSubstring(forged))

			By("the controller writes its plan back at the next re-plan")
			Eventually(func() error { _, err := shift(ctx, ns, "status", dbm.Name); return err }).Should(Succeed())
			Expect(planConfigMap(dbm).Data[plandoc.KeySQL]).NotTo(ContainSubstring(forged))
		}
	})

	It("never takes over a ConfigMap of the same name it does not own", func() {
		theirs := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "big-taken-plan", Labels: map[string]string{"team": "a"}},
			Data:       map[string]string{"plan.json": `{"hash": "not ours"}`, "notes": "someone else's"},
		}
		Expect(k8sClient.Create(ctx, theirs)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(ctx, theirs) })

		dbm := create(fixture.Migration(ns, "big-taken", fixture.WithSQLite(sqlitePath()), fixture.WithScripts(bigScripts()...)))
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseFailed))
		planned := meta.FindStatusCondition(get(dbm).Status.Conditions, dbv1.ConditionPlanned)
		Expect(planned).NotTo(BeNil())
		Expect(planned.Status).To(Equal(metav1.ConditionFalse))
		Expect(planned.Reason).To(Equal(dbv1.ReasonPlanConfigMapConflict))
		Expect(planned.Message).To(ContainSubstring("ConfigMap big-taken-plan exists and is not owned by this migration: rename or delete it"))
		Expect(dbm.Status.Reason).To(Equal(dbv1.ReasonPlanConfigMapConflict))

		Consistently(func() *corev1.ConfigMap { return planConfigMap(dbm) }, "3s").Should(SatisfyAll(
			HaveField("ResourceVersion", theirs.ResourceVersion),
			HaveField("OwnerReferences", BeEmpty()),
			HaveField("Data", Equal(theirs.Data)),
		), "left exactly as its owner made it")

		By("once it is out of the way, the migration plans")
		Expect(k8sClient.Delete(ctx, theirs)).To(Succeed())
		Eventually(phase(dbm)).Should(Equal(dbv1.PhaseAwaitingApproval))
		Expect(metav1.IsControlledBy(planConfigMap(dbm), dbm)).To(BeTrue())
	})
})
