package plugin_test

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/plandoc"
)

// bigPlan is a plan of five statements of which status holds the first
// two, as the operator writes one too large for status: the whole plan in
// the ConfigMap <name>-plan, its digest in status.
func bigPlan() plandoc.Document {
	doc := plandoc.Document{Hash: planHash}
	for i := range 5 {
		doc.Statements = append(doc.Statements, fmt.Sprintf("CREATE TABLE big_%d (id INTEGER PRIMARY KEY, note TEXT)", i))
		doc.Rollback = append(doc.Rollback, fmt.Sprintf("DROP TABLE big_%d", 4-i))
	}
	return doc
}

// plannedBig creates a migration as dev and writes a big plan as the
// operator would: status cut after two statements, the whole plan in its
// ConfigMap.
func plannedBig(ctx context.Context, name string) *corev1.ConfigMap {
	created(ctx, name)
	doc := bigPlan()
	data, digest, err := plandoc.Encode(doc)
	Expect(err).NotTo(HaveOccurred())
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name + "-plan"}, Data: data}
	Expect(admin.Create(ctx, cm)).To(Succeed())
	DeferCleanup(func(ctx context.Context) { Expect(client.IgnoreNotFound(admin.Delete(ctx, cm))).To(Succeed()) })
	setStatus(ctx, name, func(s *dbv1.DatabaseMigrationStatus) {
		s.Phase = dbv1.PhaseAwaitingApproval
		s.Plan = &dbv1.PlanStatus{
			Hash:            doc.Hash,
			Statements:      doc.Statements[:2],
			Diagnostics:     []dbv1.Diagnostic{{Code: "KS001", Severity: dbv1.SeverityInfo, Text: "about the fourth statement", Statement: ptr.To[int32](3)}},
			ComputedAt:      ptr.To(metav1.Now()),
			Truncated:       true,
			ConfigMapName:   cm.Name,
			ConfigMapDigest: digest,
		}
		s.RollbackPlan = &dbv1.RollbackPlan{Statements: doc.Rollback[:1], Truncated: true}
	})
	return cm
}

// forge edits the plan ConfigMap as someone allowed to write ConfigMaps in
// the namespace (not status) could.
func forge(ctx context.Context, cm *corev1.ConfigMap, edit func(data map[string]string)) {
	GinkgoHelper()
	Expect(admin.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
	edit(cm.Data)
	Expect(admin.Update(ctx, cm)).To(Succeed())
}

// readPlanConfigMaps lets the reviewer read ConfigMaps in the namespace,
// which a plan too large for status needs.
func readPlanConfigMaps(ctx context.Context) {
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "plan-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "plan-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "rita"}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := admin.Create(ctx, obj); !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
	}
	// RBAC takes effect a moment after the binding exists.
	Eventually(func() bool {
		err := userClient("rita").Get(ctx, client.ObjectKey{Namespace: testNamespace, Name: "no-such-configmap"}, &corev1.ConfigMap{})
		return apierrors.IsNotFound(err)
	}).Should(BeTrue(), "rita cannot read ConfigMaps yet")
}

var _ = Describe("kubectl shift with a plan too large for status", func() {
	const forged = "DROP TABLE customers"

	BeforeEach(func(ctx SpecContext) { readPlanConfigMaps(ctx) })

	It("shows the whole plan from its ConfigMap, checked against status, and approves it", func(ctx SpecContext) {
		plannedBig(ctx, "big-ok")

		out, err := shift(ctx, "rita", nil, "status", "big-ok")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring(
			"    4  CREATE TABLE big_3 (id INTEGER PRIMARY KEY, note TEXT)\n" +
				"       [info] KS001: about the fourth statement\n" +
				"    5  CREATE TABLE big_4 (id INTEGER PRIMARY KEY, note TEXT)\n"))
		Expect(out).To(ContainSubstring("(the whole plan, from ConfigMap big-ok-plan: too large for status, it matches status.plan.configMapDigest)"))
		Expect(out).To(ContainSubstring("Rollback plan:\n    1  DROP TABLE big_4\n"))
		Expect(out).To(ContainSubstring("    5  DROP TABLE big_0\n"))
		Expect(out).NotTo(ContainSubstring("!!"))

		out, err = shift(ctx, "rita", nil, "diff", "big-ok")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("+ CREATE TABLE big_4 (id INTEGER PRIMARY KEY, note TEXT)\n@@ rollback @@\n"))

		out, err = shift(ctx, "rita", nil, "approve", "big-ok", "--yes")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("    5  CREATE TABLE big_4"))
		Expect(out).To(HaveSuffix("approved plan " + planHash + " of " + testNamespace + "/big-ok\n"))
		Expect(readDBM(ctx, "big-ok").Annotations).To(HaveKeyWithValue(dbv1.AnnotationApprovedPlan, planHash))
	})

	DescribeTable("refuses to show or approve a ConfigMap edited after the operator wrote it",
		func(ctx SpecContext, name string, edit func(data map[string]string), why string) {
			cm := plannedBig(ctx, name)
			forge(ctx, cm, edit)

			for _, verb := range []string{"status", "diff"} {
				out, err := shift(ctx, "rita", nil, verb, name)
				Expect(err).To(MatchError(ContainSubstring("the whole plan of %s cannot be shown: ConfigMap %s/%s does not hold the plan the operator wrote", name, testNamespace, cm.Name)), verb)
				Expect(err).To(MatchError(ContainSubstring(why)), verb)
				Expect(out).To(ContainSubstring("truncated after statement 2, and the rest cannot be shown"), verb)
				Expect(out).To(ContainSubstring("CREATE TABLE big_1"), "%s shows what status holds", verb)
				Expect(out).NotTo(ContainSubstring("big_3"), "%s shows nothing of the ConfigMap", verb)
				Expect(out).NotTo(ContainSubstring(forged), verb)
			}

			out, err := shift(ctx, "rita", nil, "approve", name, "--yes")
			Expect(err).To(MatchError(ContainSubstring("not approving plan %s of %s/%s: it cannot be shown whole", planHash, testNamespace, name)))
			Expect(err).To(MatchError(ContainSubstring(why)))
			Expect(out).NotTo(ContainSubstring(forged))
			Expect(out).NotTo(ContainSubstring("approved plan"))
			Expect(readDBM(ctx, name).Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan))
		},
		Entry("a statement swapped in plan.json", "big-forged-json", func(data map[string]string) {
			data[plandoc.KeyJSON] = strings.Replace(data[plandoc.KeyJSON], "CREATE TABLE big_3 (id INTEGER PRIMARY KEY, note TEXT)", forged, 1)
		}, "the sha256 of its plan.json is"),
		Entry("plan.json rewritten whole, its hash kept", "big-forged-whole", func(data map[string]string) {
			doc := bigPlan()
			doc.Statements[3] = forged
			forgery, _, err := plandoc.Encode(doc)
			Expect(err).NotTo(HaveOccurred())
			data[plandoc.KeyJSON], data[plandoc.KeySQL] = forgery[plandoc.KeyJSON], forgery[plandoc.KeySQL]
		}, "changed after the operator wrote it"),
		Entry("a statement swapped in plan.sql", "big-forged-sql", func(data map[string]string) {
			data[plandoc.KeySQL] = strings.Replace(data[plandoc.KeySQL], "CREATE TABLE big_3 (id INTEGER PRIMARY KEY, note TEXT)", forged, 1)
		}, "its plan.sql is not the statements of its plan.json"),
	)

	It("refuses to approve when the ConfigMap is gone", func(ctx SpecContext) {
		cm := plannedBig(ctx, "big-gone")
		Expect(admin.Delete(ctx, cm)).To(Succeed())

		out, err := shift(ctx, "rita", nil, "status", "big-gone")
		Expect(err).To(MatchError(ContainSubstring("ConfigMap %s/big-gone-plan, which holds the whole plan, does not exist", testNamespace)))
		Expect(out).To(ContainSubstring("Phase:     AwaitingApproval\n"), "the rest of the status is shown")

		_, err = shift(ctx, "rita", nil, "approve", "big-gone", "--yes")
		Expect(err).To(MatchError(ContainSubstring("not approving plan %s of %s/big-gone: it cannot be shown whole: ConfigMap %s/big-gone-plan, which holds the whole plan, does not exist", planHash, testNamespace, testNamespace)))
		Expect(readDBM(ctx, "big-gone").Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan))
	})

	It("refuses to approve when the reviewer may not read the ConfigMap", func(ctx SpecContext) {
		plannedBig(ctx, "big-unreadable")
		// dev holds no right on ConfigMaps; the refusal comes before any
		// approval reaches the webhook.
		_, err := shift(ctx, "dev", nil, "approve", "big-unreadable", "--yes")
		Expect(err).To(MatchError(ContainSubstring("it cannot be shown whole: reading ConfigMap %s/big-unreadable-plan, which holds the whole plan", testNamespace)))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		Expect(readDBM(ctx, "big-unreadable").Annotations).NotTo(HaveKey(dbv1.AnnotationApprovedPlan))
	})
})
