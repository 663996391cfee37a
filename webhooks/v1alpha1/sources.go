package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

// The tracked-source webhooks see only ConfigMaps and Secrets that carry
// dbv1.LabelTrackedSource, before or after the change (the API server
// matches an objectSelector against both objects of an update).
//
// +kubebuilder:webhook:path=/mutate-v1-tracked-source,mutating=true,failurePolicy=fail,sideEffects=None,groups="",resources=configmaps;secrets,verbs=create;update,versions=v1,name=mtrackedsource-v1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent,reinvocationPolicy=IfNeeded,patch=`{"objectSelector":{"matchExpressions":[{"key":"database.mohitnagaraj.in/tracked-source","operator":"Exists"}]}}`
// +kubebuilder:webhook:path=/validate-v1-tracked-source,mutating=false,failurePolicy=fail,sideEffects=None,groups="",resources=configmaps;secrets,verbs=create;update,versions=v1,name=vtrackedsource-v1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent,patch=`{"objectSelector":{"matchExpressions":[{"key":"database.mohitnagaraj.in/tracked-source","operator":"Exists"}]}}`

const (
	mutateSourcePath   = "/mutate-v1-tracked-source"
	validateSourcePath = "/validate-v1-tracked-source"
)

// trackedSource is what the source webhooks read of a ConfigMap or a
// Secret: its metadata, and the rest whole, to tell whether a change
// touched its content. Nothing of the content is ever written out.
type trackedSource struct {
	meta    metav1.ObjectMeta
	content map[string]any
}

func decodeSource(raw []byte) (*trackedSource, error) {
	var whole map[string]any
	if err := json.Unmarshal(raw, &whole); err != nil {
		return nil, err
	}
	var object struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &object); err != nil {
		return nil, err
	}
	delete(whole, "metadata")
	return &trackedSource{meta: object.Metadata, content: whole}, nil
}

// sourceRequest is a review of a tracked source, decoded: old is nil on
// create.
type sourceRequest struct {
	object, old *trackedSource
	user        string
}

func readSourceRequest(req admission.Request) (*sourceRequest, error) {
	if req.Kind.Group != "" || (req.Kind.Kind != "ConfigMap" && req.Kind.Kind != "Secret") {
		return nil, fmt.Errorf("this webhook admits ConfigMaps and Secrets, not %s", req.Kind)
	}
	object, err := decodeSource(req.Object.Raw)
	if err != nil {
		return nil, fmt.Errorf("decoding the object: %w", err)
	}
	r := &sourceRequest{object: object, user: req.UserInfo.Username}
	if req.Operation == admissionv1.Update {
		if r.old, err = decodeSource(req.OldObject.Raw); err != nil {
			return nil, fmt.Errorf("decoding the stored object: %w", err)
		}
	}
	return r, nil
}

// stamps are the annotations the request leaves on the source: created-by
// and modified-by as kube-shift writes them, whatever the request wrote.
// modified-by gains the user when the request creates the source or
// changes anything but its metadata (data, binaryData, stringData, type).
func (r *sourceRequest) stamps() (map[string]string, error) {
	ann := map[string]string{}
	if r.old == nil {
		ann[dbv1.AnnotationCreatedBy] = r.user
		return ann, stampModifier(ann, nil, true, r.user)
	}
	oldAnn := r.old.meta.Annotations
	setOrDelete(ann, dbv1.AnnotationCreatedBy, oldAnn[dbv1.AnnotationCreatedBy], oldAnn[dbv1.AnnotationCreatedBy] != "")
	return ann, stampModifier(ann, oldAnn, !reflect.DeepEqual(r.old.content, r.object.content), r.user)
}

// sourceStampKeys are the annotations the source webhooks own.
var sourceStampKeys = []string{dbv1.AnnotationCreatedBy, dbv1.AnnotationModifiedBy}

// sourceHandler serves one of the source webhooks: creates and updates
// are decoded, their stamps worked out (a writer past the limit is
// refused), and decide answers; anything else is allowed.
func sourceHandler(decide func(req admission.Request, r *sourceRequest, stamps map[string]string) admission.Response) admission.HandlerFunc {
	return func(_ context.Context, req admission.Request) admission.Response {
		if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
			return admission.Allowed("")
		}
		r, err := readSourceRequest(req)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		stamps, err := r.stamps()
		if err != nil {
			return admission.Denied(err.Error())
		}
		return decide(req, r, stamps)
	}
}

// mutateSource stamps a tracked source with who created it and who
// changed its content.
var mutateSource = sourceHandler(func(_ admission.Request, r *sourceRequest, stamps map[string]string) admission.Response {
	from := r.object.meta.Annotations
	to := maps.Clone(from)
	if to == nil {
		to = map[string]string{}
	}
	for _, key := range sourceStampKeys {
		setOrDelete(to, key, stamps[key], stamps[key] != "")
	}
	resp := admission.Response{Patches: annotationOps(from, to), AdmissionResponse: admissionv1.AdmissionResponse{Allowed: true}}
	if len(resp.Patches) > 0 {
		resp.PatchType = ptr.To(admissionv1.PatchTypeJSONPatch)
	}
	return resp
})

// validateSource refuses what would let a tracked source's history go
// unrecorded: the label added to an object that was created without it
// (who wrote it before is unknown), the label removed (who writes it next
// would be), and stamps that are not kube-shift's.
var validateSource = sourceHandler(func(req admission.Request, r *sourceRequest, stamps map[string]string) admission.Response {
	labels := field.NewPath("metadata", "labels").Key(dbv1.LabelTrackedSource)
	annotations := field.NewPath("metadata", "annotations")
	var errs field.ErrorList
	_, tracked := r.object.meta.Labels[dbv1.LabelTrackedSource]
	switch {
	case r.old == nil:
	case !tracked:
		errs = append(errs, field.Forbidden(labels, "cannot be removed: kube-shift would not see who changes this source next; delete the object to stop tracking it"))
	default:
		if _, was := r.old.meta.Labels[dbv1.LabelTrackedSource]; !was {
			errs = append(errs, field.Forbidden(labels, "is set when the object is created: who wrote it before is unknown; create the object again with the label"))
		}
	}
	for _, key := range sourceStampKeys {
		if r.object.meta.Annotations[key] != stamps[key] {
			errs = append(errs, field.Forbidden(annotations.Key(key), "is set by kube-shift from the writers' identities and cannot be edited"))
		}
	}
	if len(errs) == 0 {
		return admission.Allowed("")
	}
	status := apierrors.NewInvalid(schema.GroupKind{Kind: req.Kind.Kind}, r.object.meta.Name, errs).Status()
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Result: &status}}
})

// sourceObject is a ConfigMap or Secret a plan is read from: a source of
// its SQL (a script's or the desired schema's), or a Secret that says
// where the plan runs or is computed (connection, dev database, CA).
// required ones must be tracked under --require-tracked-sources: the SQL
// sources, and a migration's own dev-database Secret, whose server the
// plan's statements are computed on (both the migration's author's).
type sourceObject struct {
	namespace string
	ref       source.Ref // Kind and Name; no Key
	required  bool
}

func (o sourceObject) String() string {
	return fmt.Sprintf("%s %s/%s", o.ref.Kind, o.namespace, o.ref.Name)
}

// migrationSources lists the objects dbm's plan is read from, in its
// namespace (its SQL, an inline database's Secrets), each once.
func migrationSources(dbm *dbv1.DatabaseMigration) []sourceObject {
	var objects []sourceObject
	for _, r := range source.SQLReferences(dbm) {
		object := source.Ref{Kind: r.Kind, Name: r.Name}
		objects = addSource(objects, sourceObject{namespace: dbm.Namespace, ref: object, required: true})
	}
	if db := dbm.Spec.Database; db != nil && db.ConnectionSecret != "" {
		objects = addSource(objects, sourceObject{namespace: dbm.Namespace, ref: source.Ref{Kind: source.KindSecret, Name: db.ConnectionSecret}})
	}
	if p := dbm.Spec.Planning; p != nil && p.DevDatabase != nil {
		objects = addSource(objects, sourceObject{namespace: dbm.Namespace, ref: source.Ref{Kind: source.KindSecret, Name: p.DevDatabase.Name}, required: true})
	}
	return objects
}

// targetSources lists the Secrets of the target id with spec: the
// connection and dev-database Secrets and the CA Secret.
func targetSources(id dbv1.TargetID, spec *dbv1.DatabaseTargetSpec, operatorNamespace string) []sourceObject {
	secrets, caNamespace := spec.SecretNamespaces(id, operatorNamespace)
	var objects []sourceObject
	add := func(namespace, name string) {
		if namespace != "" && name != "" {
			objects = addSource(objects, sourceObject{namespace: namespace, ref: source.Ref{Kind: source.KindSecret, Name: name}})
		}
	}
	if r := spec.ConnectionSecret; r != nil {
		add(secrets, r.Name)
	}
	if p := spec.Planning; p != nil && p.DevDatabase != nil {
		add(secrets, p.DevDatabase.Name)
	}
	if r := spec.CASecret; r != nil {
		add(caNamespace, r.Name)
	}
	return objects
}

// addSource adds o to objects unless it is there; a required one stays so.
func addSource(objects []sourceObject, o sourceObject) []sourceObject {
	i := slices.IndexFunc(objects, func(x sourceObject) bool { return x.namespace == o.namespace && x.ref == o.ref })
	if i < 0 {
		return append(objects, o)
	}
	objects[i].required = objects[i].required || o.required
	return objects
}

// sourceApproval holds the approval rules for the objects a plan is read
// from: each must exist (a plan outlives the object it was read from, and
// one made again after the approval would be vouched for by no one), no
// one a tracked object's stamps name may approve the plan, and under
// --require-tracked-sources every required one must be tracked.
type sourceApproval struct {
	reader  client.Reader
	require bool
}

// check refuses user's approval, at path, of a plan read from objects.
func (s sourceApproval) check(ctx context.Context, objects []sourceObject, user authnv1.UserInfo, path *field.Path) (field.ErrorList, error) {
	var errs field.ErrorList
	for _, object := range objects {
		meta, err := readSourceMeta(ctx, s.reader, object.namespace, object.ref)
		if apierrors.IsNotFound(err) {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf(
				"%s, which this plan was read from, does not exist: no one can say who wrote what the plan was made from; approve once it is back and planned again", object)))
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, tracked := meta.Labels[dbv1.LabelTrackedSource]; !tracked {
			if s.require && object.required {
				errs = append(errs, field.Forbidden(path, fmt.Sprintf(
					"%s is not a tracked source: the platform requires the %s label (set when the object is created) on every script source and a migration's own dev-database Secret, so that their writers are known",
					object, dbv1.LabelTrackedSource)))
			}
			continue
		}
		switch {
		case meta.Annotations[dbv1.AnnotationCreatedBy] == user.Username:
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q created %s, which this plan reads, and cannot approve it: another reviewer must", user.Username, object)))
		case slices.Contains(dbv1.Modifiers(meta.Annotations), user.Username):
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q changed %s, which this plan reads, and cannot approve it: another reviewer must", user.Username, object)))
		}
	}
	return errs, nil
}

// untrackedWarnings warns, when tracking is required, of each object dbm's
// plan is read from that must be tracked, exists and is not: approvals
// will be refused until it is made again with the label.
func (s sourceApproval) untrackedWarnings(ctx context.Context, dbm *dbv1.DatabaseMigration) []string {
	if !s.require {
		return nil
	}
	var warnings []string
	for _, object := range migrationSources(dbm) {
		if !object.required {
			continue
		}
		meta, err := readSourceMeta(ctx, s.reader, object.namespace, object.ref)
		if err != nil {
			continue // missing: warned of as a source; unreadable: checked at approval
		}
		if _, tracked := meta.Labels[dbv1.LabelTrackedSource]; !tracked {
			warnings = append(warnings, fmt.Sprintf("%s has no %s label, which the platform requires: no plan reading it can be approved until it is created again with the label",
				object, dbv1.LabelTrackedSource))
		}
	}
	return warnings
}

// readSourceMeta reads the metadata of the ConfigMap or Secret ref names,
// never its data.
func readSourceMeta(ctx context.Context, reader client.Reader, namespace string, ref source.Ref) (*metav1.ObjectMeta, error) {
	if ref.Kind != source.KindConfigMap && ref.Kind != source.KindSecret {
		return nil, fmt.Errorf("%s has no object to read", ref.Kind)
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(string(ref.Kind)))
	if err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, meta); err != nil {
		return nil, err
	}
	return &meta.ObjectMeta, nil
}
