package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

var tracked = map[string]string{dbv1.LabelTrackedSource: "true"}

// sourceReq is an admission request of a ConfigMap by user: old nil is a
// create.
func sourceReq(t *testing.T, user string, object, old *corev1.ConfigMap) admission.Request {
	t.Helper()
	raw := func(cm *corev1.ConfigMap) runtime.RawExtension {
		b, err := json.Marshal(cm)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: b}
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
		Operation: admissionv1.Create,
		Object:    raw(object),
		UserInfo:  authnv1.UserInfo{Username: user},
	}}
	if old != nil {
		req.Operation = admissionv1.Update
		req.OldObject = raw(old)
	}
	return req
}

func configMap(labels, annotations map[string]string, data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "scripts", Labels: labels, Annotations: annotations},
		Data:       map[string]string{"001.sql": data},
	}
}

func modifiedBy(users ...string) string {
	b, _ := json.Marshal(users)
	return string(b)
}

func TestSourceStampsRecordEveryWriterOfTheContent(t *testing.T) {
	stored := map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: modifiedBy("dev")}
	for _, tc := range []struct {
		name        string
		user        string
		object, old *corev1.ConfigMap
		want        map[string]string
	}{{
		name:   "a create names its user, whatever it wrote",
		user:   "dev",
		object: configMap(tracked, map[string]string{dbv1.AnnotationCreatedBy: "ceo", dbv1.AnnotationModifiedBy: "[]"}, "SELECT 1;"),
		want:   map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: modifiedBy("dev")},
	}, {
		name:   "a change of the data adds its user",
		user:   "rita",
		object: configMap(tracked, stored, "SELECT 2;"),
		old:    configMap(tracked, stored, "SELECT 1;"),
		want:   map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: modifiedBy("dev", "rita")},
	}, {
		name:   "a change of the metadata alone does not",
		user:   "rita",
		object: configMap(map[string]string{dbv1.LabelTrackedSource: "true", "team": "a"}, stored, "SELECT 1;"),
		old:    configMap(tracked, stored, "SELECT 1;"),
		want:   stored,
	}, {
		name:   "a change that clears the stamps gets them back",
		user:   "rita",
		object: configMap(tracked, nil, "SELECT 1;"),
		old:    configMap(tracked, stored, "SELECT 1;"),
		want:   stored,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			req := sourceReq(t, tc.user, tc.object, tc.old)
			resp := mutateSource(context.Background(), req)
			if !resp.Allowed {
				t.Fatalf("refused: %v", resp.Result)
			}
			patched := patchConfigMap(t, tc.object, resp)
			for _, key := range sourceStampKeys {
				if patched.Annotations[key] != tc.want[key] {
					t.Errorf("%s = %q, want %q", key, patched.Annotations[key], tc.want[key])
				}
			}
			// What the mutation leaves, the validation admits.
			if resp := validateSource(context.Background(), sourceReq(t, tc.user, patched, tc.old)); !resp.Allowed {
				t.Errorf("the mutated object is refused: %v", resp.Result)
			}
		})
	}
}

// patchConfigMap applies resp's patch to cm.
func patchConfigMap(t *testing.T, cm *corev1.ConfigMap, resp admission.Response) *corev1.ConfigMap {
	t.Helper()
	out := cm.DeepCopy()
	for _, op := range resp.Patches {
		switch {
		case op.Path == "/metadata/annotations" && op.Operation == "add":
			out.Annotations = map[string]string{}
			for k, v := range op.Value.(map[string]string) {
				out.Annotations[k] = v
			}
		case strings.HasPrefix(op.Path, "/metadata/annotations/"):
			key := strings.NewReplacer("~1", "/", "~0", "~").Replace(strings.TrimPrefix(op.Path, "/metadata/annotations/"))
			if op.Operation == "remove" {
				delete(out.Annotations, key)
			} else {
				out.Annotations[key] = op.Value.(string)
			}
		default:
			t.Fatalf("unexpected patch operation %s %s", op.Operation, op.Path)
		}
	}
	return out
}

func TestSourceValidationRefusesAnUnrecordedHistory(t *testing.T) {
	stored := map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: modifiedBy("dev")}
	for _, tc := range []struct {
		name        string
		object, old *corev1.ConfigMap
		want        string
	}{{
		name:   "the label added after creation",
		object: configMap(tracked, stored, "SELECT 1;"),
		old:    configMap(nil, nil, "SELECT 1;"),
		want:   "is set when the object is created",
	}, {
		name:   "the label removed",
		object: configMap(nil, stored, "SELECT 2;"),
		old:    configMap(tracked, stored, "SELECT 1;"),
		want:   "cannot be removed",
	}, {
		name:   "created-by forged",
		object: configMap(tracked, map[string]string{dbv1.AnnotationCreatedBy: "ceo", dbv1.AnnotationModifiedBy: modifiedBy("dev")}, "SELECT 1;"),
		old:    configMap(tracked, stored, "SELECT 1;"),
		want:   "created-by]: Forbidden",
	}, {
		name:   "modified-by cleared with a change of the data",
		object: configMap(tracked, map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: modifiedBy("dev")}, "SELECT 2;"),
		old:    configMap(tracked, stored, "SELECT 1;"),
		want:   "modified-by]: Forbidden",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			resp := validateSource(context.Background(), sourceReq(t, "rita", tc.object, tc.old))
			if resp.Allowed {
				t.Fatal("allowed")
			}
			if got := resp.Result.Message; !strings.Contains(got, tc.want) {
				t.Errorf("message %q does not say %q", got, tc.want)
			}
		})
	}
}

func TestSourceStampsRefuseAWriterPastTheLimit(t *testing.T) {
	users := make([]string, maxModifiers)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
	}
	stored := map[string]string{dbv1.AnnotationCreatedBy: "user-0", dbv1.AnnotationModifiedBy: modifiedBy(users...)}
	old := configMap(tracked, stored, "SELECT 1;")
	resp := mutateSource(context.Background(), sourceReq(t, "rita", configMap(tracked, stored, "SELECT 2;"), old))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "make a new object") {
		t.Fatalf("a writer past the limit: allowed %v, %v", resp.Allowed, resp.Result)
	}
	// One already named may go on writing.
	if resp := mutateSource(context.Background(), sourceReq(t, "user-0", configMap(tracked, stored, "SELECT 2;"), old)); !resp.Allowed {
		t.Fatalf("a writer already named is refused: %v", resp.Result)
	}
}

func TestSourceApprovalRequiresTrackedScriptSources(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	objects := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "plain"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tracked", Labels: tracked,
			Annotations: map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: modifiedBy("dev", "rita")}}},
		// The connection Secret is checked when tracked, never required.
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "conn"}},
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).Build()
	migration := func(sources ...string) *dbv1.DatabaseMigration {
		dbm := fixture.Migration("ns", "m", fixture.WithServer(dbv1.DatabaseTypePostgreSQL, "conn", "db", "app"))
		for i, s := range sources {
			dbm.Spec.Migration.Scripts = append(dbm.Spec.Migration.Scripts, dbv1.MigrationScript{Name: fmt.Sprint(i), Type: dbv1.ScriptTypeSchema, Source: s})
		}
		return dbm
	}
	all := migration("configmap://plain/a.sql", "configmap://plain/b.sql", "configmap://tracked/a.sql", "configmap://missing/a.sql")
	if w := (sourceApproval{reader: reader}).untrackedWarnings(context.Background(), all); len(w) != 0 {
		t.Errorf("warnings where tracking is not required: %v", w)
	}
	w := sourceApproval{reader: reader, require: true}.untrackedWarnings(context.Background(), all)
	if len(w) != 1 || !strings.Contains(w[0], "ConfigMap ns/plain has no "+dbv1.LabelTrackedSource+" label") {
		t.Errorf("warnings: %v, want one of ConfigMap plain", w)
	}
	path := field.NewPath("metadata", "annotations").Key(dbv1.AnnotationApprovedPlan)
	for _, tc := range []struct {
		name    string
		require bool
		user    string
		dbm     *dbv1.DatabaseMigration
		want    []string
	}{
		{name: "untracked, not required", user: "ana", dbm: migration("configmap://plain/a.sql")},
		{name: "untracked, required", require: true, user: "ana", dbm: migration("configmap://plain/a.sql"),
			want: []string{"ConfigMap ns/plain is not a tracked source"}},
		{name: "tracked, an editor", user: "rita", dbm: migration("configmap://tracked/a.sql", "configmap://tracked/b.sql"),
			want: []string{`"rita" changed ConfigMap ns/tracked`}},
		{name: "tracked, its creator", user: "dev", dbm: migration("configmap://tracked/a.sql"),
			want: []string{`"dev" created ConfigMap ns/tracked`}},
		{name: "tracked, someone else", require: true, user: "ana", dbm: migration("configmap://tracked/a.sql")},
		// The plan in status outlives its source: whoever wrote the
		// object could delete it, approve, and create the same again.
		{name: "a source gone", user: "ana", dbm: migration("configmap://tracked/a.sql", "configmap://missing/a.sql"),
			want: []string{"ConfigMap ns/missing, which this plan was read from, does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := sourceApproval{reader: reader, require: tc.require}.check(context.Background(), migrationSources(tc.dbm), authnv1.UserInfo{Username: tc.user}, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("got %v, want %d errors", errs, len(tc.want))
			}
			for i, want := range tc.want {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %q does not say %q", errs[i].Error(), want)
				}
			}
		})
	}
}

// TestApprovalChecksTheTargetsSecrets: a migration on a target is planned
// and applied with the target's Secrets, in the target's namespace for a
// DatabaseTarget, the operator's (or the one it names) for a
// ClusterDatabaseTarget: their writers may not approve either.
func TestApprovalChecksTheTargetsSecrets(t *testing.T) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, dbv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	byRita := map[string]string{dbv1.AnnotationCreatedBy: "dev", dbv1.AnnotationModifiedBy: modifiedBy("dev", "rita")}
	secret := func(namespace, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: tracked, Annotations: byRita}}
	}
	targetSpec := dbv1.DatabaseTargetSpec{
		Type: dbv1.DatabaseTypePostgreSQL, Host: "db", Database: "app",
		ConnectionSecret: &dbv1.TargetSecretRef{Name: "app-conn"},
		Planning:         &dbv1.TargetPlanning{DevDatabase: &dbv1.SecretKeyRef{Name: "app-dev", Key: "url"}},
		CASecret:         &dbv1.CASecretRef{Name: "app-ca", Key: "ca.crt"},
	}
	shared := dbv1.ClusterDatabaseTargetSpec{DatabaseTargetSpec: targetSpec, AllowedNamespaces: dbv1.AllowedNamespaces{Names: []string{"ns"}}}
	shared.CASecret = &dbv1.CASecretRef{Name: "app-ca", Namespace: "pki", Key: "ca.crt"}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&dbv1.DatabaseTarget{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Spec: targetSpec},
		&dbv1.ClusterDatabaseTarget{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: shared},
		secret("ns", "app-conn"), secret("ns", "app-dev"), secret("ns", "app-ca"),
		secret("ops", "app-conn"), secret("ops", "app-dev"), secret("pki", "app-ca"),
	).Build()
	v := &Validator{Reader: reader, Authorizer: approvers{"rita"}, OperatorNamespace: "ops"}
	plan := &dbv1.PlanStatus{Hash: "sha256:" + strings.Repeat("a", 64)}
	for _, tc := range []struct {
		ref  dbv1.TargetRef
		want []string
	}{
		{dbv1.TargetRef{Kind: dbv1.KindDatabaseTarget, Name: "app"}, []string{"Secret ns/app-conn", "Secret ns/app-dev", "Secret ns/app-ca"}},
		{dbv1.TargetRef{Kind: dbv1.KindClusterDatabaseTarget, Name: "shared"}, []string{"Secret ops/app-conn", "Secret ops/app-dev", "Secret pki/app-ca"}},
	} {
		t.Run(string(tc.ref.Kind), func(t *testing.T) {
			old := fixture.Migration("ns", "m", fixture.WithScripts(fixture.InlineScript("a", "CREATE TABLE a (id int);")))
			old.Spec.Database, old.Spec.TargetRef = nil, &tc.ref
			old.Status.Plan = plan
			dbm := old.DeepCopy()
			dbm.Annotations = map[string]string{dbv1.AnnotationApprovedPlan: plan.Hash}
			errs, err := v.validateApprovalBy(context.Background(), old, dbm, authnv1.UserInfo{Username: "rita"}, dbv1.AnnotationApprovedPlan)
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("got %v, want %d errors", errs, len(tc.want))
			}
			for i, want := range tc.want {
				if !strings.Contains(errs[i].Error(), `"rita" changed `+want+", which this plan reads") {
					t.Errorf("error %q does not name %s", errs[i].Error(), want)
				}
			}
		})
	}
}

var _ = Describe("tracked sources", func() {
	ctx := context.Background()

	trackedMap := func(name, sql string) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name, Labels: tracked,
			Annotations: map[string]string{dbv1.AnnotationCreatedBy: "ceo"}}, Data: map[string]string{"001.sql": sql}}
		Expect(dev.Create(ctx, cm)).To(Succeed())
		DeferCleanup(func() error { return client.IgnoreNotFound(admin.Delete(ctx, cm)) })
		return cm
	}
	edit := func(c client.Client, cm *corev1.ConfigMap, change func(*corev1.ConfigMap)) error {
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(cm), cm)).To(Succeed())
		patch := client.MergeFrom(cm.DeepCopy())
		change(cm)
		return c.Patch(ctx, cm, patch)
	}

	It("records who created and who changed a labelled ConfigMap, and keeps the record", func() {
		cm := trackedMap("recorded", "CREATE TABLE a (id int);")
		Expect(cm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationCreatedBy, "dev"))
		Expect(cm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, modifiedBy("dev")))

		Expect(edit(rita, cm, func(cm *corev1.ConfigMap) { cm.Data["001.sql"] = "CREATE TABLE b (id int);" })).To(Succeed())
		Expect(cm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, modifiedBy("dev", "rita")))

		// bob changes a label only: not a writer of the content.
		Expect(edit(bob, cm, func(cm *corev1.ConfigMap) { cm.Labels["team"] = "a" })).To(Succeed())
		Expect(cm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, modifiedBy("dev", "rita")))

		// rita cannot take her name back, nor name another creator.
		Expect(edit(rita, cm, func(cm *corev1.ConfigMap) {
			cm.Annotations[dbv1.AnnotationModifiedBy] = modifiedBy("dev")
			cm.Annotations[dbv1.AnnotationCreatedBy] = "rita"
		})).To(Succeed())
		Expect(cm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationCreatedBy, "dev"))
		Expect(cm.Annotations).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, modifiedBy("dev", "rita")))
	})

	It("refuses the label added after creation, and its removal", func() {
		plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "plain"}, Data: map[string]string{"001.sql": "SELECT 1;"}}
		Expect(dev.Create(ctx, plain)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, plain)
		Expect(edit(rita, plain, func(cm *corev1.ConfigMap) { cm.Data["001.sql"] = "SELECT 2;" })).To(Succeed())
		err := edit(dev, plain, func(cm *corev1.ConfigMap) { cm.Labels = tracked })
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("is set when the object is created"))

		cm := trackedMap("kept", "SELECT 1;")
		err = edit(rita, cm, func(cm *corev1.ConfigMap) {
			delete(cm.Labels, dbv1.LabelTrackedSource)
			cm.Data["001.sql"] = "SELECT 2;"
		})
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("cannot be removed"))
	})

	It("stamps a labelled Secret's writers, whose data it never repeats", func() {
		grantForSpec(ctx, "secret-writer", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get", "patch"}}, "bob")

		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "secret-scripts", Labels: tracked},
			StringData: map[string]string{"001.sql": "CREATE TABLE s (id int); -- " + secretMarker}}
		Expect(bob.Create(ctx, secret)).To(Succeed())
		DeferCleanup(admin.Delete, ctx, secret)
		Expect(secret.Annotations).To(HaveKeyWithValue(dbv1.AnnotationCreatedBy, "bob"))

		patch := client.MergeFrom(secret.DeepCopy())
		secret.StringData = map[string]string{"001.sql": "CREATE TABLE t (id int);"}
		Expect(admin.Patch(ctx, secret, patch)).To(Succeed())
		Expect(secret.Annotations).To(HaveKeyWithValue(dbv1.AnnotationModifiedBy, modifiedBy("bob", operatorUser)))

		patch = client.MergeFrom(secret.DeepCopy())
		delete(secret.Labels, dbv1.LabelTrackedSource)
		err := bob.Patch(ctx, secret, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).NotTo(ContainSubstring(secretMarker))
		Expect(err.Error()).NotTo(ContainSubstring("CREATE TABLE"))
	})

	It("refuses an approval by anyone who wrote a tracked source the plan reads", func() {
		cm := trackedMap("reviewed-scripts", "CREATE TABLE a (id int);")
		dbm := fixture.Migration(testNamespace, "reads-tracked", fixture.WithScripts(dbv1.MigrationScript{
			Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://reviewed-scripts/001.sql"}))
		createPlanned(ctx, dbm, "sha256:"+strings.Repeat("d", 64))
		plan := *dbm.Status.Plan
		approve := func() error {
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
			patch := client.MergeFrom(dbm.DeepCopy())
			dbm.Annotations[dbv1.AnnotationApprovedPlan] = plan.Hash
			return rita.Patch(ctx, dbm, patch)
		}

		// rita writes the script the plan runs: she may not approve it.
		Expect(edit(rita, cm, func(cm *corev1.ConfigMap) { cm.Data["001.sql"] = "CREATE TABLE b (id int);" })).To(Succeed())
		err := approve()
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring(`"rita" changed ConfigMap ` + testNamespace + `/reviewed-scripts, which this plan reads, and cannot approve it`))
	})

	It("refuses an approval while a source the plan was read from is gone", func() {
		// rita may delete ConfigMaps here, as many a reviewer may.
		grantForSpec(ctx, "configmap-deleter", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"delete", "get"}}, "rita")

		cm := trackedMap("deleted-scripts", "CREATE TABLE a (id int);")
		// rita writes the script and the plan is made from it.
		Expect(edit(rita, cm, func(cm *corev1.ConfigMap) { cm.Data["001.sql"] = "CREATE TABLE b (id int);" })).To(Succeed())
		dbm := fixture.Migration(testNamespace, "reads-deleted", fixture.WithScripts(dbv1.MigrationScript{
			Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://deleted-scripts/001.sql"}))
		createPlanned(ctx, dbm, "sha256:"+strings.Repeat("f", 64))
		plan := *dbm.Status.Plan

		// She deletes it: the plan stays in status (the reconciler marks
		// the source missing), and the same script made again would plan
		// the same hash. Her approval in between is refused.
		Expect(rita.Delete(ctx, cm)).To(Succeed())
		Expect(admin.Get(ctx, client.ObjectKeyFromObject(dbm), dbm)).To(Succeed())
		patch := client.MergeFrom(dbm.DeepCopy())
		dbm.Annotations[dbv1.AnnotationApprovedPlan] = plan.Hash
		err := rita.Patch(ctx, dbm, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("ConfigMap " + testNamespace + "/deleted-scripts, which this plan was read from, does not exist"))
	})

	It("lets a reviewer who wrote no source approve", func() {
		trackedMap("other-scripts", "CREATE TABLE a (id int);")
		dbm := fixture.Migration(testNamespace, "reads-tracked-ok", fixture.WithScripts(dbv1.MigrationScript{
			Name: "a", Type: dbv1.ScriptTypeSchema, Source: "configmap://other-scripts/001.sql"}))
		createPlanned(ctx, dbm, "sha256:"+strings.Repeat("e", 64))
		patch := client.MergeFrom(dbm.DeepCopy())
		dbm.Annotations[dbv1.AnnotationApprovedPlan] = dbm.Status.Plan.Hash
		Expect(rita.Patch(ctx, dbm, patch)).To(Succeed())
	})
})
