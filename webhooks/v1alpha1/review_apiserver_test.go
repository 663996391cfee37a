package v1alpha1

// Reviews of objects shaped as the API server sends them, to the served
// handlers and to controller-runtime's.

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	jsonpatch4 "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// bothHandlers are the webhooks as served and as controller-runtime
// serves the same Defaulter and Validator.
func bothHandlers(t *testing.T) (served, oracle map[string]http.Handler) {
	t.Helper()
	s := runtime.NewScheme()
	NewWithT(t).Expect(clientgoscheme.AddToScheme(s)).To(Succeed())
	NewWithT(t).Expect(dbv1.AddToScheme(s)).To(Succeed())
	reader := fake.NewClientBuilder().WithScheme(s).Build()
	authz := approvers{"reviewer"}
	defaulter := &Defaulter{Authorizer: authz, Reader: reader, OperatorUser: "op"}
	validator := &Validator{Reader: reader, Authorizer: authz, SQLiteRoot: "/data", OperatorUser: "op"}
	return map[string]http.Handler{
			mutateMigrationPath:   &migrationReview{defaulter: defaulter},
			validateMigrationPath: &migrationReview{validator: validator},
		}, map[string]http.Handler{
			mutateMigrationPath:   admission.WithDefaulter(s, defaulter),
			validateMigrationPath: admission.WithValidator(s, validator),
		}
}

// apiServerShaped is obj as the API server puts a custom resource in a
// review: an unstructured map encoded again, so no empty status member
// and values as the user wrote them (edit), not as Go would encode them.
func apiServerShaped(t testing.TB, obj any, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := json.Marshal(obj)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var m map[string]any
	NewWithT(t).Expect(json.Unmarshal(b, &m)).To(Succeed())
	if st, ok := m["status"].(map[string]any); ok && len(st) == 0 {
		delete(m, "status")
	}
	if edit != nil {
		edit(m)
	}
	out, err := json.Marshal(m)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return out
}

// applied is raw with resp's patch applied as the API server applies it,
// decoded as the controller reads it.
func applied(t *testing.T, raw []byte, resp *admissionv1.AdmissionResponse) *dbv1.DatabaseMigration {
	t.Helper()
	out := raw
	if len(resp.Patch) > 0 {
		p, err := jsonpatch4.DecodePatch(resp.Patch)
		NewWithT(t).Expect(err).NotTo(HaveOccurred())
		out, err = p.Apply(raw)
		NewWithT(t).Expect(err).NotTo(HaveOccurred(), "the API server could not apply %s", resp.Patch)
	}
	dbm := &dbv1.DatabaseMigration{}
	NewWithT(t).Expect(json.Unmarshal(out, dbm)).To(Succeed())
	if dbm.Annotations == nil {
		dbm.Annotations = map[string]string{}
	}
	return dbm
}

// TestMigrationReviewPatchesOnlyAnnotations: on objects shaped as the API
// server sends them, controller-runtime's patch also writes back Go's
// encoding of the whole object (status: {}, 60s as 1m0s, timestamps cut
// to seconds); the served one changes the annotations only, and the spec
// fields the defaulter sets where the CRD's schema cannot (a database's
// port and sslMode, which depend on its type). What the approval rules and
// the controller read, the spec and the annotations once the patch is
// applied, is the same.
func TestMigrationReviewPatchesOnlyAnnotations(t *testing.T) {
	served, oracle := bothHandlers(t)
	defaulted := fixture.Migration("team", "m", fixture.WithSQLite("/data/app.db"))
	DefaultSpec(&defaulted.Spec)
	stored := defaulted.DeepCopy()
	stored.Annotations = map[string]string{dbv1.AnnotationCreatedBy: "developer", dbv1.AnnotationModifiedBy: `["developer"]`}
	stored.Status.Plan = &dbv1.PlanStatus{Hash: "sha256:abc"}
	approved := stored.DeepCopy()
	approved.Annotations[dbv1.AnnotationApprovedPlan] = "sha256:abc"
	timeout := func(m map[string]any) {
		m["spec"].(map[string]any)["migration"].(map[string]any)["scripts"].([]any)[0].(map[string]any)["timeout"] = "60s"
	}
	computedAt := func(m map[string]any) {
		m["status"].(map[string]any)["plan"].(map[string]any)["computedAt"] = "2026-01-01T00:00:00.123456Z"
	}
	for _, tc := range []struct {
		name      string
		op        admissionv1.Operation
		user      string
		obj, old  []byte
		unchanged bool
		// specPaths are the spec fields the patch sets, besides the
		// annotations.
		specPaths []string
	}{
		{name: "a create without a status member", op: admissionv1.Create, user: "developer",
			obj: apiServerShaped(t, defaulted, nil)},
		{name: "a create with a timeout written 60s", op: admissionv1.Create, user: "developer",
			obj: apiServerShaped(t, defaulted, timeout)},
		{name: "an approval of a plan computed at a fraction of a second", op: admissionv1.Update, user: "reviewer",
			obj: apiServerShaped(t, approved, computedAt), old: apiServerShaped(t, stored, computedAt)},
		{name: "a create the CRD's schema could not default (sslMode)", op: admissionv1.Create, user: "developer",
			obj: apiServerShaped(t, defaulted, func(m map[string]any) {
				timeout(m)
				delete(m["spec"].(map[string]any)["database"].(map[string]any), "sslMode")
			}), specPaths: []string{"/spec/database/sslMode"}},
		{name: "a PostgreSQL create without a port or sslMode", op: admissionv1.Create, user: "developer",
			obj: apiServerShaped(t, defaulted, func(m map[string]any) {
				timeout(m)
				m["spec"].(map[string]any)["database"] = map[string]any{"type": "postgresql", "host": "db", "database": "app", "connectionSecret": "db"}
			}), specPaths: []string{"/spec/database/port", "/spec/database/sslMode"}},
		{name: "a create whose script name the defaulter trims", op: admissionv1.Create, user: "developer",
			obj: apiServerShaped(t, defaulted, func(m map[string]any) {
				timeout(m)
				m["spec"].(map[string]any)["migration"].(map[string]any)["scripts"].([]any)[0].(map[string]any)["name"] = " create-widgets "
			}), specPaths: []string{"/spec/migration/scripts/0/name"}},
		{name: "an unchanged update of a migration without annotations", op: admissionv1.Update, user: "developer",
			obj: apiServerShaped(t, defaulted, nil), old: apiServerShaped(t, defaulted, nil), unchanged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			review := reviewOf(t, tc.op, tc.user, tc.obj, tc.old)
			got := answer(t, served[mutateMigrationPath], mutateMigrationPath, review)
			want := answer(t, oracle[mutateMigrationPath], mutateMigrationPath, review)
			g.Expect(got.Allowed).To(Equal(want.Allowed))
			// What the approval rules and the controller act on is the same.
			gotObj, wantObj := applied(t, tc.obj, got), applied(t, tc.obj, want)
			g.Expect(equality.Semantic.DeepEqual(gotObj.Spec, wantObj.Spec)).To(BeTrue(), "spec")
			g.Expect(gotObj.Annotations).To(Equal(wantObj.Annotations), "annotations")
			if tc.unchanged {
				g.Expect(got.Patch).To(BeEmpty(), "a patch where nothing changes makes the API server decode the object again")
			}
			var specPaths []string
			for _, op := range patchOps(t, got.Patch) {
				var o struct{ Path string }
				g.Expect(json.Unmarshal([]byte(op), &o)).To(Succeed())
				if !strings.HasPrefix(o.Path, "/metadata/annotations") {
					specPaths = append(specPaths, o.Path)
				}
			}
			g.Expect(specPaths).To(ConsistOf(tc.specPaths), "what the patch changes besides the annotations")
		})
	}
}

// TestMigrationReviewDecidesAsControllerRuntimeOnUserContent sends 1,500
// reviews of what a user controls (forged stamps, approvals, policy, destructive SQL, on
// create and update, by the creator, a reviewer, another user and the
// operator), shaped as the API server sends them, and wants the same
// decision, status and warnings from both, and the same object as the
// controller reads it once the patch is applied.
func TestMigrationReviewDecidesAsControllerRuntimeOnUserContent(t *testing.T) {
	served, oracle := bothHandlers(t)
	rng := mrand.New(mrand.NewPCG(5, 5))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	keys := []string{dbv1.AnnotationCreatedBy, dbv1.AnnotationModifiedBy, dbv1.AnnotationApprovedPlan, dbv1.AnnotationApprovedBy,
		dbv1.AnnotationSwitchApproved, dbv1.AnnotationSwitchApprovedBy, dbv1.AnnotationPolicyGranted, dbv1.AnnotationPolicyGrantedBy, "a~b/c", "x"}
	mutate := func(dbm *dbv1.DatabaseMigration) {
		for n := rng.IntN(4); n > 0; n-- {
			switch rng.IntN(10) {
			case 0, 1, 2:
				if dbm.Annotations == nil {
					dbm.Annotations = map[string]string{}
				}
				k := keys[rng.IntN(len(keys))]
				if rng.IntN(3) == 0 {
					delete(dbm.Annotations, k)
				} else {
					dbm.Annotations[k] = pick("sha256:abc", "sha256:def", "developer", "reviewer", `["developer"]`, `["reviewer"]`, "", dbv1.PolicyDigest(dbm.Spec.Policy))
				}
			case 3:
				dbm.Annotations = nil
			case 4:
				dbm.Spec.Policy.Approval = dbv1.ApprovalMode(pick("", "auto", "required"))
			case 5:
				dbm.Spec.Policy.Destructive = dbv1.DestructivePolicy(pick("", "block", "allowWithApproval"))
			case 6:
				dbm.Spec.Migration.Scripts[0].SQL = pick("CREATE TABLE a (id int);", "DROP TABLE widgets;", "DELETE FROM widgets;")
			case 7:
				dbm.Spec.Policy.Reviewers = []dbv1.Reviewer{{Name: pick("reviewer", "developer")}}
			case 8:
				dbm.Spec.Migration.BatchSize = int32(rng.IntN(2) * 1000)
			case 9:
				if dbm.Status.Plan != nil {
					dbm.Status.Plan.Destructive = !dbm.Status.Plan.Destructive
				}
			}
		}
	}
	base := fixture.Migration("team", "m", fixture.WithSQLite("/data/app.db"))
	DefaultSpec(&base.Spec)
	allowed := 0
	for i := range 1500 {
		old := base.DeepCopy()
		old.Annotations = map[string]string{dbv1.AnnotationCreatedBy: "developer", dbv1.AnnotationModifiedBy: `["developer"]`}
		old.Status.Plan = &dbv1.PlanStatus{Hash: "sha256:abc"}
		mutate(old)
		obj := old.DeepCopy()
		mutate(obj)
		op, oldRaw := admissionv1.Update, apiServerShaped(t, old, nil)
		if rng.IntN(3) == 0 {
			op, oldRaw = admissionv1.Create, nil
			obj.Status = dbv1.DatabaseMigrationStatus{}
		}
		raw := apiServerShaped(t, obj, nil)
		user := pick("developer", "reviewer", "second", "op")
		review := reviewOf(t, op, user, raw, oldRaw)
		for _, path := range []string{mutateMigrationPath, validateMigrationPath} {
			got, want := answer(t, served[path], path, review), answer(t, oracle[path], path, review)
			what := fmt.Sprintf("review %d: %s by %s at %s of %s (old %s)", i, op, user, path, raw, oldRaw)
			g := NewWithT(t)
			g.Expect(got.Allowed).To(Equal(want.Allowed), what)
			g.Expect(got.Result).To(Equal(want.Result), what)
			g.Expect(got.Warnings).To(Equal(want.Warnings), what)
			g.Expect(equality.Semantic.DeepEqual(applied(t, raw, got), applied(t, raw, want))).To(BeTrue(), what)
			if got.Allowed {
				allowed++
			}
		}
	}
	NewWithT(t).Expect(allowed).To(BeNumerically(">", 300), "reviews admitted: the comparison must see both answers")
}

// TestDatabasePatchOnlyForItsFields: defaultingPatch writes operations
// for the four fields the defaulter sets or trims in spec.database, and
// gives way to a diff when anything else differs (here, where the review
// carries no spec to diff, to the whole object's).
func TestDatabasePatchOnlyForItsFields(t *testing.T) {
	original := fixture.Migration("team", "m", fixture.WithSQLite("/data/app.db"))
	original.Spec.Database.Host = " h "
	for _, tc := range []struct {
		name   string
		change func(*dbv1.DatabaseMigration)
		want   []string // nil: not this patch's to write
	}{
		{name: "its fields", change: func(d *dbv1.DatabaseMigration) {
			d.Spec.Database.Port, d.Spec.Database.SSLMode, d.Spec.Database.Host = 5432, "require", ""
		}, want: []string{
			`{"op":"add","path":"/spec/database/port","value":5432}`,
			`{"op":"add","path":"/spec/database/sslMode","value":"require"}`,
			`{"op":"remove","path":"/spec/database/host"}`,
		}},
		{name: "another field of the database", change: func(d *dbv1.DatabaseMigration) { d.Spec.Database.Database = "other.db" }},
		{name: "another field of the spec", change: func(d *dbv1.DatabaseMigration) { d.Spec.Migration.BatchSize = 7 }},
		{name: "the metadata", change: func(d *dbv1.DatabaseMigration) { d.Labels = map[string]string{"a": "b"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			dbm := original.DeepCopy()
			dbm.Annotations = map[string]string{}
			tc.change(dbm)
			ops, ok := defaultingPatch(nil, original, dbm)
			if tc.want == nil {
				g.Expect(ok).To(BeFalse())
				return
			}
			g.Expect(ok).To(BeTrue())
			var got []string
			for _, op := range ops {
				got = append(got, op.Json())
			}
			g.Expect(got).To(ConsistOf(tc.want))
		})
	}
}
