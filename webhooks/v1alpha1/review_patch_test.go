package v1alpha1

import (
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"testing"

	jsonpatch4 "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/fixture"
)

// TestMigrationReviewPatchLeavesWhatTheDefaulterLeaves sends 4,000 seeded
// creates and updates, shaped as the API server sends them, through the
// served mutating handler: values missing, null, empty or to be trimmed
// in what the defaulter completes, unknown fields at every level, forged
// stamps. The patch, applied as the API server applies it, must leave the
// spec and the annotations the defaulter leaves, and every unknown
// ("future") field as it was sent, whichever way the patch was written
// (annotation operations alone, with spec.database's, with a diff of the
// spec, or a diff of the whole object).
func TestMigrationReviewPatchLeavesWhatTheDefaulterLeaves(t *testing.T) {
	served, _ := bothHandlers(t)
	h := served[mutateMigrationPath]
	rng := mrand.New(mrand.NewPCG(7, 7))
	pick := func(xs ...any) any { return xs[rng.IntN(len(xs))] }
	fails := 0
	for i := range 4000 {
		base := fixture.Migration("team", "m", fixture.WithServer("postgresql", "db", "h", "app"))
		base.Spec.Migration.Scripts = append(base.Spec.Migration.Scripts, dbv1.MigrationScript{Name: "two", Type: "schema", Source: "inline", SQL: "SELECT 1;", DependsOn: []string{"x"}})
		if rng.IntN(4) != 0 {
			DefaultSpec(&base.Spec)
		}
		raw := apiServerShaped(t, base, func(m map[string]any) {
			spec := m["spec"].(map[string]any)
			db := spec["database"].(map[string]any)
			mig := spec["migration"].(map[string]any)
			scripts := mig["scripts"].([]any)
			for n := rng.IntN(6); n > 0; n-- {
				switch rng.IntN(16) {
				case 0:
					k := pick("port", "sslMode", "host", "connectionSecret").(string)
					switch rng.IntN(4) {
					case 0:
						delete(db, k)
					case 1:
						db[k] = nil
					case 2:
						if k == "port" {
							db[k] = pick(0, 5432, 1)
						} else {
							db[k] = pick("", " ", " x ", "x")
						}
					case 3:
						db["future"] = pick(1, "x", map[string]any{"a": 1})
					}
				case 1:
					k := pick("strategy", "batchSize").(string)
					switch rng.IntN(3) {
					case 0:
						delete(mig, k)
					case 1:
						mig[k] = nil
					case 2:
						mig["future"] = 1
					}
				case 2:
					s := scripts[rng.IntN(len(scripts))].(map[string]any)
					switch rng.IntN(5) {
					case 0:
						s["name"] = pick(" a ", "a", "two ")
					case 1:
						s["timeout"] = "60s"
					case 2:
						s["future"] = pick(1, nil, []any{1})
					case 3:
						s["dependsOn"] = []any{pick(" x", "x"), pick("y ", "y")}
					case 4:
						s["source"] = pick(" inline", "inline")
					}
				case 3:
					switch rng.IntN(4) {
					case 0:
						delete(spec, "policy")
					case 1:
						spec["policy"] = nil
					case 2:
						spec["policy"] = map[string]any{"reviewers": []any{map[string]any{"name": "r", "future": 1}}}
					case 3:
						spec["policy"] = map[string]any{"approval": pick("", "auto", "required"), "future": map[string]any{"x": 1}}
					}
				case 4:
					mig["desiredSchema"] = map[string]any{"source": "inline", "sql": "CREATE TABLE a (id int);", "future": 2}
				case 5:
					spec["future"] = pick(1, map[string]any{"b": 2}, nil)
				case 6:
					md := m["metadata"].(map[string]any)
					ann, _ := md["annotations"].(map[string]any)
					if ann == nil {
						ann = map[string]any{}
						md["annotations"] = ann
					}
					ann[pick(dbv1.AnnotationCreatedBy, dbv1.AnnotationApprovedBy, dbv1.AnnotationApprovedPlan, dbv1.AnnotationSwitchApproved, dbv1.AnnotationSwitchApprovedBy, dbv1.AnnotationPolicyGranted, dbv1.AnnotationModifiedBy, dbv1.AnnotationPolicyGrantedBy, "x/y~z").(string)] = pick("evil", "", `["evil"]`, "sha256:abc", "sha256:def")
				case 7:
					m["metadata"].(map[string]any)["annotations"] = nil
				case 8:
					spec["validation"] = map[string]any{"maxMigrationTime": "60s"}
				case 9:
					mig["scripts"] = []any{}
				case 10:
					db["type"] = pick("postgresql", "mysql", "sqlite")
				case 11:
					delete(spec, "migration")
				case 12:
					spec["migration"] = nil
				case 13:
					spec["targetRef"] = map[string]any{"name": "t"}
					delete(spec, "database")
				case 14:
					mig["strategy"] = pick("", "transactional")
				case 15:
					spec["database"] = map[string]any{"type": "postgresql", "database": "app"}
					db = spec["database"].(map[string]any)
				}
			}
		})
		user := pick("developer", "reviewer").(string)
		op := admissionv1.Create
		var oldRaw []byte
		var old *dbv1.DatabaseMigration
		if rng.IntN(2) == 0 {
			op = admissionv1.Update
			o := base.DeepCopy()
			DefaultSpec(&o.Spec)
			o.Annotations = map[string]string{dbv1.AnnotationCreatedBy: "developer", dbv1.AnnotationModifiedBy: `["developer"]`, dbv1.AnnotationApprovedPlan: "sha256:abc", dbv1.AnnotationApprovedBy: "reviewer"}
			oldRaw = apiServerShaped(t, o, nil)
			old = &dbv1.DatabaseMigration{}
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(oldRaw, old); err != nil {
				t.Fatal(err)
			}
		}
		review := reviewOf(t, op, user, raw, oldRaw)
		got := answer(t, h, mutateMigrationPath, review)
		var sent dbv1.DatabaseMigration
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &sent); err != nil {
			continue
		}
		if !got.Allowed {
			continue
		}
		// The defaulter's result.
		want := sent.DeepCopy()
		d := &Defaulter{Authorizer: approvers{"reviewer"}}
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: op}}
		req.UserInfo.Username = user
		if err := d.defaultMigration(t.Context(), req, want, old); err != nil {
			t.Fatal(err)
		}
		out := raw
		if len(got.Patch) > 0 {
			p, err := jsonpatch4.DecodePatch(got.Patch)
			if err != nil {
				t.Fatal(err)
			}
			out, err = p.Apply(raw)
			if err != nil {
				t.Errorf("%d: patch %s does not apply to %s: %v", i, got.Patch, raw, err)
				fails++
				continue
			}
		}
		var res dbv1.DatabaseMigration
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(out, &res); err != nil {
			t.Fatal(err)
		}
		if res.Annotations == nil {
			res.Annotations = map[string]string{}
		}
		if !equality.Semantic.DeepEqual(res.Spec, want.Spec) || !reflect.DeepEqual(res.Annotations, want.Annotations) {
			t.Errorf("%d: sent %s\npatch %s\ngot spec %+v ann %v\nwant spec %+v ann %v", i, raw, got.Patch, res.Spec, res.Annotations, want.Spec, want.Annotations)
			fails++
		}
		// Unknown fields survive.
		var a, b map[string]any
		if err := errors.Join(json.Unmarshal(raw, &a), json.Unmarshal(out, &b)); err != nil {
			t.Fatal(err)
		}
		if msg := lostFuture(a, b, ""); msg != "" {
			t.Errorf("%d: sent %s\npatch %s\n%s", i, raw, got.Patch, msg)
			fails++
		}
		if fails > 5 {
			return
		}
	}
}

// lostFuture says where a member named "future" of a, the object as sent,
// is not the same in b, the object patched; "" when none.
func lostFuture(a, b any, path string) string {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return ""
		}
		for k, v := range a {
			if k == "future" {
				if !reflect.DeepEqual(v, bm[k]) {
					return fmt.Sprintf("%s/future %v became %v", path, v, bm[k])
				}
				continue
			}
			if s := lostFuture(v, bm[k], path+"/"+k); s != "" {
				return s
			}
		}
	case []any:
		bs, ok := b.([]any)
		if !ok {
			return ""
		}
		for i := range min(len(a), len(bs)) {
			if s := lostFuture(a[i], bs[i], fmt.Sprintf("%s/%d", path, i)); s != "" {
				return s
			}
		}
	}
	return ""
}
