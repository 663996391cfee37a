package v1alpha1

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// approvers is an Authorizer that lets the named users approve.
type approvers []string

func (a approvers) CanApprove(_ context.Context, user authnv1.UserInfo, _ *dbv1.DatabaseMigration) (bool, error) {
	for _, name := range a {
		if user.Username == name {
			return true, nil
		}
	}
	return false, nil
}

// TestMigrationReviewAnswersAsControllerRuntime sends the same reviews to
// the DatabaseMigration webhooks as served (migrationReview) and as
// controller-runtime serves the same Defaulter and Validator, and wants
// the same answer from both: allowed or not, the same status, warnings
// and patch, byte for byte.
func TestMigrationReviewAnswersAsControllerRuntime(t *testing.T) {
	served, oracle := bothHandlers(t)

	planned := func(dbm *dbv1.DatabaseMigration) *dbv1.DatabaseMigration {
		dbm = dbm.DeepCopy()
		dbm.Annotations = map[string]string{dbv1.AnnotationCreatedBy: "developer", dbv1.AnnotationModifiedBy: `["developer"]`}
		dbm.Status.Plan = &dbv1.PlanStatus{Hash: "sha256:abc", Statements: []string{"CREATE TABLE widgets (id INTEGER PRIMARY KEY)"}}
		DefaultSpec(&dbm.Spec)
		return dbm
	}
	approve := func(dbm *dbv1.DatabaseMigration, hash string) *dbv1.DatabaseMigration {
		dbm = dbm.DeepCopy()
		dbm.Annotations[dbv1.AnnotationApprovedPlan] = hash
		return dbm
	}
	valid := fixture.Migration("team", "valid", fixture.WithSQLite("/data/app.db"))
	stored := planned(valid)
	// What the API server sends on a create: the CRD's defaults applied.
	defaulted := valid.DeepCopy()
	DefaultSpec(&defaulted.Spec)
	annotated := func(kv map[string]string) *dbv1.DatabaseMigration {
		dbm := defaulted.DeepCopy()
		dbm.Annotations = kv
		return dbm
	}
	approvedBefore := approve(stored, "sha256:old")
	approvedBefore.Annotations[dbv1.AnnotationApprovedBy] = "earlier-reviewer"

	for _, tc := range []struct {
		name     string
		op       admissionv1.Operation
		user     string
		obj, old any // a migration, or raw JSON
	}{
		{name: "a valid create", op: admissionv1.Create, user: "developer", obj: valid},
		{name: "a create that forges its stamps and approves", op: admissionv1.Create, user: "developer",
			obj: fixture.Migration("team", "forged", fixture.WithSQLite("/data/app.db"), fixture.WithAnnotations(map[string]string{
				dbv1.AnnotationCreatedBy: "someone-else", dbv1.AnnotationApprovedPlan: "sha256:abc", dbv1.AnnotationModifiedBy: `["x"]`,
			}))},
		{name: "a destructive create", op: admissionv1.Create, user: "developer",
			obj: fixture.Migration("team", "drop", fixture.WithSQLite("/data/app.db"),
				fixture.WithScripts(fixture.InlineScript("drop", "DROP TABLE widgets;")))},
		{name: "a file outside the SQLite root", op: admissionv1.Create, user: "developer",
			obj: fixture.Migration("team", "escape", fixture.WithSQLite("/etc/passwd"))},
		{name: "auto approval set by a reviewer", op: admissionv1.Create, user: "reviewer",
			obj: fixture.Migration("team", "auto", fixture.WithSQLite("/data/app.db"), fixture.WithPolicy(dbv1.Policy{Approval: dbv1.ApprovalAuto}))},
		{name: "auto approval set by a developer", op: admissionv1.Create, user: "developer",
			obj: fixture.Migration("team", "auto", fixture.WithSQLite("/data/app.db"), fixture.WithPolicy(dbv1.Policy{Approval: dbv1.ApprovalAuto}))},
		{name: "fields these API types do not know stay", op: admissionv1.Create, user: "developer",
			obj: withField(t, valid, "spec", "futureField", map[string]any{"on": true})},
		{name: "an object without its kind (an older API server)", op: admissionv1.Create, user: "developer",
			obj: withoutTypeMeta(t, valid)},
		{name: "an object of another kind", op: admissionv1.Create, user: "developer",
			obj: withField(t, valid, "", "kind", "DatabaseTarget")},
		{name: "an object whose apiVersion does not parse", op: admissionv1.Create, user: "developer",
			obj: withField(t, withoutTypeMeta(t, valid), "", "apiVersion", "a/b/c")},
		{name: "a create of a defaulted spec", op: admissionv1.Create, user: "developer", obj: defaulted},
		{name: "a defaulted create with annotations of its own", op: admissionv1.Create, user: "developer",
			obj: annotated(map[string]string{"team.example/owner": "payments", "a~b/c": "d", dbv1.AnnotationCreatedBy: "forged"})},
		{name: "a defaulted create with empty annotations", op: admissionv1.Create, user: "developer",
			obj: withField(t, defaulted, "metadata", "annotations", map[string]any{})},
		{name: "a defaulted create that approves", op: admissionv1.Create, user: "developer",
			obj: annotated(map[string]string{dbv1.AnnotationApprovedPlan: "sha256:abc", dbv1.AnnotationApprovedBy: "forged"})},
		{name: "a PostgreSQL create without a port", op: admissionv1.Create, user: "developer",
			obj: func() *dbv1.DatabaseMigration {
				dbm := defaulted.DeepCopy()
				dbm.Spec.Database = &dbv1.DatabaseConfig{Type: dbv1.DatabaseTypePostgreSQL, Host: " db.example ", Database: "app", ConnectionSecret: "db"}
				return dbm
			}()},
		{name: "an approval by a reviewer", op: admissionv1.Update, user: "reviewer", obj: approve(stored, "sha256:abc"), old: stored},
		{name: "an approval of a new plan", op: admissionv1.Update, user: "reviewer", obj: approve(approvedBefore, "sha256:abc"), old: approvedBefore},
		{name: "an approval taken back", op: admissionv1.Update, user: "developer",
			obj: func() *dbv1.DatabaseMigration {
				dbm := approvedBefore.DeepCopy()
				delete(dbm.Annotations, dbv1.AnnotationApprovedPlan)
				return dbm
			}(), old: approvedBefore},
		{name: "an update that drops every annotation", op: admissionv1.Update, user: "developer",
			obj: func() *dbv1.DatabaseMigration {
				dbm := stored.DeepCopy()
				dbm.Annotations = nil
				return dbm
			}(), old: stored},
		{name: "an approval of another plan", op: admissionv1.Update, user: "reviewer", obj: approve(stored, "sha256:def"), old: stored},
		{name: "an approval by the creator", op: admissionv1.Update, user: "developer", obj: approve(stored, "sha256:abc"), old: stored},
		{name: "a spec change by another user", op: admissionv1.Update, user: "second",
			obj: func() *dbv1.DatabaseMigration {
				dbm := stored.DeepCopy()
				dbm.Spec.Migration.Scripts[0].SQL = "CREATE TABLE gadgets (id INTEGER PRIMARY KEY);"
				return dbm
			}(), old: stored},
		{name: "an edit of created-by", op: admissionv1.Update, user: "second",
			obj: func() *dbv1.DatabaseMigration {
				dbm := stored.DeepCopy()
				dbm.Annotations[dbv1.AnnotationCreatedBy] = "second"
				return dbm
			}(), old: stored},
		{name: "a delete", op: admissionv1.Delete, user: "developer", old: stored},
		{name: "a malformed object", op: admissionv1.Create, user: "developer", obj: []byte(`{"spec": "not an object"}`)},
		{name: "no object", op: admissionv1.Create, user: "developer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			review := reviewOf(t, tc.op, tc.user, tc.obj, tc.old)
			for _, path := range []string{mutateMigrationPath, validateMigrationPath} {
				t.Run(path, func(t *testing.T) {
					g := NewWithT(t)
					got, want := answer(t, served[path], path, review), answer(t, oracle[path], path, review)
					g.Expect(got.UID).To(Equal(want.UID))
					g.Expect(got.Allowed).To(Equal(want.Allowed), "allowed")
					if want.Result != nil && want.Result.Code == http.StatusBadRequest {
						// A review that cannot be decoded: the words differ.
						g.Expect(got.Result).NotTo(BeNil())
						g.Expect(got.Result.Code).To(Equal(want.Result.Code), got.Result.Message)
						return
					}
					g.Expect(got.Result).To(Equal(want.Result))
					g.Expect(got.Warnings).To(Equal(want.Warnings))
					g.Expect(got.PatchType).To(Equal(want.PatchType))
					g.Expect(patchOps(t, got.Patch)).To(Equal(patchOps(t, want.Patch)))
				})
			}
		})
	}
}

// TestMigrationReviewRefusesWhatIsNotAReview checks the answers to
// requests that carry no AdmissionReview this webhook can read.
func TestMigrationReviewRefusesWhatIsNotAReview(t *testing.T) {
	h := &migrationReview{validator: &Validator{}}
	good := reviewOf(t, admissionv1.Create, "developer", fixture.Migration("team", "m"), nil)
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		want              string
	}{
		{name: "an empty body", contentType: "application/json", want: "request body is empty"},
		{name: "another content type", contentType: "text/plain", body: good, want: "expected application/json"},
		{name: "a v1beta1 review", contentType: "application/json",
			body: bytes.Replace(good, []byte(`"admission.k8s.io/v1"`), []byte(`"admission.k8s.io/v1beta1"`), 1), want: "expected an admission.k8s.io/v1 AdmissionReview"},
		{name: "a review without a request", contentType: "application/json",
			body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), want: "has no request"},
		{name: "a review of another kind of object", contentType: "application/json",
			body: bytes.Replace(good, []byte(`"kind":{"group":"database.mohitnagaraj.in","version":"v1alpha1","kind":"DatabaseMigration"}`),
				[]byte(`"kind":{"group":"","version":"v1","kind":"Secret"}`), 1), want: "admits DatabaseMigration.database.mohitnagaraj.in"},
		{name: "a body over the limit", contentType: "application/json", body: bytes.Repeat([]byte(" "), maxReviewBytes+1), want: "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			resp := answer(t, h, validateMigrationPath, tc.body, withContentType(tc.contentType))
			g.Expect(resp.Allowed).To(BeFalse())
			g.Expect(resp.Result).NotTo(BeNil())
			g.Expect(resp.Result.Code).To(BeNumerically(">=", 400))
			g.Expect(resp.Result.Message).To(ContainSubstring(tc.want))
		})
	}
}

// reviewOf is the AdmissionReview the API server sends for op by user on
// obj (and old), each a migration or raw JSON.
func reviewOf(t testing.TB, op admissionv1.Operation, user string, obj, old any) []byte {
	t.Helper()
	raw := func(o any) runtime.RawExtension {
		switch o := o.(type) {
		case nil:
			return runtime.RawExtension{}
		case []byte:
			return runtime.RawExtension{Raw: o}
		default:
			b, err := json.Marshal(o)
			NewWithT(t).Expect(err).NotTo(HaveOccurred())
			return runtime.RawExtension{Raw: b}
		}
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(fmt.Sprintf("review-%s-%s", op, user)),
			Kind:      metav1.GroupVersionKind(migrationKind),
			Resource:  metav1.GroupVersionResource(dbv1.GroupVersion.WithResource("databasemigrations")),
			Namespace: "team",
			Operation: op,
			UserInfo:  authnv1.UserInfo{Username: user},
			Object:    raw(obj),
			OldObject: raw(old),
		},
	})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return b
}

// patchOps are the operations of a JSON patch, in path order: the
// order of a diff's operations follows map iteration.
func patchOps(t *testing.T, patch []byte) []string {
	t.Helper()
	if patch == nil {
		return nil
	}
	var ops []json.RawMessage
	NewWithT(t).Expect(json.Unmarshal(patch, &ops)).To(Succeed())
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = string(op)
	}
	slices.Sort(out)
	return out
}

type requestOption func(*http.Request)

func withContentType(ct string) requestOption {
	return func(r *http.Request) { r.Header.Set("Content-Type", ct) }
}

// answer posts body to h and decodes the AdmissionReview it answers.
func answer(t *testing.T, h http.Handler, path string, body []byte, opts ...requestOption) *admissionv1.AdmissionResponse {
	t.Helper()
	var r *http.Request
	if body == nil {
		r = httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, http.NoBody)
	} else {
		r = httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, bytes.NewReader(body))
	}
	r.Header.Set("Content-Type", "application/json")
	for _, opt := range opts {
		opt(r)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var review admissionv1.AdmissionReview
	NewWithT(t).Expect(json.Unmarshal(rec.Body.Bytes(), &review)).To(Succeed(), rec.Body.String())
	NewWithT(t).Expect(review.Response).NotTo(BeNil(), rec.Body.String())
	return review.Response
}

// withField is dbm as JSON with field set under the top-level member
// parent (the object itself when parent is empty).
func withField(t *testing.T, dbm *dbv1.DatabaseMigration, parent, field string, value any) []byte {
	t.Helper()
	var doc map[string]any
	b, err := json.Marshal(dbm)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	NewWithT(t).Expect(json.Unmarshal(b, &doc)).To(Succeed())
	m := doc
	if parent != "" {
		m = doc[parent].(map[string]any)
	}
	m[field] = value
	b, err = json.Marshal(doc)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return b
}

func withoutTypeMeta(t *testing.T, dbm *dbv1.DatabaseMigration) *dbv1.DatabaseMigration {
	t.Helper()
	dbm = dbm.DeepCopy()
	dbm.TypeMeta = metav1.TypeMeta{}
	return dbm
}
