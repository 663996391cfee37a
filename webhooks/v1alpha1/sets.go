package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/tenancy"
)

// +kubebuilder:webhook:path=/mutate-database-mohitnagaraj-in-v1alpha1-databasemigrationset,mutating=true,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=databasemigrationsets,verbs=create;update,versions=v1alpha1,name=mdatabasemigrationset-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent,reinvocationPolicy=Never
// +kubebuilder:webhook:path=/validate-database-mohitnagaraj-in-v1alpha1-databasemigrationset,mutating=false,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=databasemigrationsets,verbs=create;update,versions=v1alpha1,name=vdatabasemigrationset-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent

// setKind is the kind of a DatabaseMigrationSet, for messages and owner
// references.
const setKind = "DatabaseMigrationSet"

// SetDefaulter defaults a set's template as a migration's spec is, and
// stamps who created it, changed its spec, approved its fleet and
// promoted it.
type SetDefaulter struct{}

var _ admission.Defaulter[*dbv1.DatabaseMigrationSet] = &SetDefaulter{}

// Default implements admission.Defaulter.
func (d *SetDefaulter) Default(ctx context.Context, set *dbv1.DatabaseMigrationSet) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return fmt.Errorf("defaulting needs the admission request: %w", err)
	}
	var old *dbv1.DatabaseMigrationSet
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		old = &dbv1.DatabaseMigrationSet{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return fmt.Errorf("decoding the stored object: %w", err)
		}
	}
	defaultTemplate(&set.Spec.Template)
	if set.Annotations == nil {
		set.Annotations = map[string]string{}
	}
	ann, user := set.Annotations, req.UserInfo.Username
	var oldAnn map[string]string
	if old != nil {
		oldAnn = old.Annotations
	}
	if old == nil {
		ann[dbv1.AnnotationCreatedBy] = user
	} else {
		setOrDelete(ann, dbv1.AnnotationCreatedBy, oldAnn[dbv1.AnnotationCreatedBy], oldAnn[dbv1.AnnotationCreatedBy] != "")
	}
	for by, key := range map[string]string{dbv1.AnnotationApprovedFleetBy: dbv1.AnnotationApprovedFleet, dbv1.AnnotationPromotedBy: dbv1.AnnotationPromoted} {
		switch {
		case ann[key] == "":
			delete(ann, by)
		case ann[key] != oldAnn[key]:
			ann[by] = user
		default:
			setOrDelete(ann, by, oldAnn[by], oldAnn[by] != "")
		}
	}
	return stampModifier(ann, oldAnn, old == nil || !equality.Semantic.DeepEqual(old.Spec, set.Spec), user)
}

// defaultTemplate defaults a template's fields as DefaultSpec defaults a
// migration's, so a child's spec is the template as stored.
func defaultTemplate(t *dbv1.MigrationTemplate) {
	spec := dbv1.DatabaseMigrationSpec{Migration: t.Migration, Policy: t.Policy}
	DefaultSpec(&spec)
	t.Migration, t.Policy = spec.Migration, spec.Policy
}

// SetValidator checks a set's spec and the fleet approvals and promotions
// its updates make.
type SetValidator struct {
	// Reader reads targets, and the template's sources on an approval.
	Reader client.Reader
	// Client asks the API server SubjectAccessReviews.
	Client client.Client
	// RequireTrackedSources refuses a fleet approval while a script
	// source is not a tracked source (--require-tracked-sources).
	RequireTrackedSources bool
	// OperatorNamespace holds the Secrets of ClusterDatabaseTargets that
	// name no namespace (the manager's namespace).
	OperatorNamespace string
}

var _ admission.Validator[*dbv1.DatabaseMigrationSet] = &SetValidator{}

var setGroupKind = schema.GroupKind{Group: dbv1.GroupVersion.Group, Kind: setKind}

// ValidateCreate checks a new set; approvals at creation are refused:
// nothing is planned yet.
func (v *SetValidator) ValidateCreate(_ context.Context, set *dbv1.DatabaseMigrationSet) (admission.Warnings, error) {
	errs := validateSetSpec(set)
	for _, key := range []string{dbv1.AnnotationApprovedFleet, dbv1.AnnotationPromoted} {
		if set.Annotations[key] != "" {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(key), "a new set has no plans yet: approve its fleet once status.fleetHash is set"))
		}
	}
	return nil, invalidSet(set, errs)
}

// ValidateUpdate checks a changed spec, the stamps, and an approval or a
// promotion the update makes.
func (v *SetValidator) ValidateUpdate(ctx context.Context, old, set *dbv1.DatabaseMigrationSet) (admission.Warnings, error) {
	if !set.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	var errs field.ErrorList
	if !equality.Semantic.DeepEqual(old.Spec, set.Spec) {
		errs = validateSetSpec(set)
	}
	path := field.NewPath("metadata", "annotations")
	if old.Annotations[dbv1.AnnotationCreatedBy] != set.Annotations[dbv1.AnnotationCreatedBy] {
		errs = append(errs, field.Forbidden(path.Key(dbv1.AnnotationCreatedBy), "is set by kube-shift from the creator's identity and cannot be edited"))
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	user := req.UserInfo
	if hash := set.Annotations[dbv1.AnnotationApprovedFleet]; hash != "" && hash != old.Annotations[dbv1.AnnotationApprovedFleet] {
		key := path.Key(dbv1.AnnotationApprovedFleet)
		switch {
		case set.Status.FleetHash == "":
			errs = append(errs, field.Forbidden(key, "there is no fleet to approve: every target must be planned, and some plan must wait for a reviewer (status.fleetHash)"))
		case hash != set.Status.FleetHash:
			errs = append(errs, field.Invalid(key, hash, fmt.Sprintf("does not match the current fleet %s: a target joined or a plan changed after it was reviewed; review status.plans again and approve the current fleet hash", set.Status.FleetHash)))
		}
		if slices.ContainsFunc(set.Status.Plans, func(p dbv1.FleetPlan) bool { return p.Destructive }) && set.Spec.Template.Policy.Destructive != dbv1.DestructiveAllowWithApproval {
			errs = append(errs, field.Forbidden(key, "a plan of the fleet is destructive and spec.template.policy.destructive is block: it cannot be approved"))
		}
		reviewerErrs, err := v.validateReviewer(ctx, set, user, key)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		errs = append(errs, reviewerErrs...)
		targetErrs, err := v.validateTargetReviewers(ctx, set, user, key)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		errs = append(errs, targetErrs...)
	}
	if hash := set.Annotations[dbv1.AnnotationPromoted]; hash != "" && hash != old.Annotations[dbv1.AnnotationPromoted] {
		key := path.Key(dbv1.AnnotationPromoted)
		if set.Status.Approved == nil || hash != set.Status.Approved.Hash {
			errs = append(errs, field.Invalid(key, hash, "does not name the approved fleet (status.approved.hash): promote the fleet that was approved"))
		}
		reviewerErrs, err := v.validateReviewer(ctx, set, user, key)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		errs = append(errs, reviewerErrs...)
	}
	return nil, invalidSet(set, errs)
}

// ValidateDelete allows every delete: the set's finalizer deletes the
// children, each waiting for its own apply.
func (v *SetValidator) ValidateDelete(context.Context, *dbv1.DatabaseMigrationSet) (admission.Warnings, error) {
	return nil, nil
}

// validateSetSpec runs the checks a set's spec needs before any target is
// known: each child is checked again, against its target's engine, when
// the operator creates it.
func validateSetSpec(set *dbv1.DatabaseMigrationSet) field.ErrorList {
	var errs field.ErrorList
	if msgs := validation.IsValidLabelValue(set.Name); len(msgs) > 0 {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), set.Name, "a set's name labels its children: "+msgs[0]))
	}
	t := &set.Spec.Template
	path := field.NewPath("spec", "template")
	migPath := path.Child("migration")
	errs = append(errs, validateStrategy(t.Migration.Strategy, migPath.Child("strategy"))...)
	if t.Migration.Strategy == dbv1.MigrationStrategyBlueGreen {
		errs = append(errs, field.NotSupported(migPath.Child("strategy"), t.Migration.Strategy, []string{
			string(dbv1.MigrationStrategyTransactional), string(dbv1.MigrationStrategyRolling), string(dbv1.MigrationStrategyShadowTable)}))
	}
	errs = append(errs, validateScriptNames(t.Migration.Scripts, migPath.Child("scripts"))...)
	errs = append(errs, validateReviewers(t.Policy.Reviewers, path.Child("policy", "reviewers"))...)
	if t.Policy.Approval == dbv1.ApprovalAuto {
		errs = append(errs, field.Forbidden(path.Child("policy", "approval"), "a set's plans are approved once for the whole fleet by a reviewer (the approved-fleet annotation): auto is not allowed"))
	}
	if _, err := metav1.LabelSelectorAsSelector(&set.Spec.TargetSelector); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec", "targetSelector"), set.Spec.TargetSelector, err.Error()))
	}
	seen := map[string]bool{}
	for i, s := range set.Spec.Rollout.Steps {
		p := field.NewPath("spec", "rollout", "steps").Index(i)
		if seen[s.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), s.Name))
		}
		seen[s.Name] = true
		if _, err := metav1.LabelSelectorAsSelector(&s.Selector); err != nil {
			errs = append(errs, field.Invalid(p.Child("selector"), s.Selector, err.Error()))
		}
	}
	return errs
}

// validateReviewer checks who approves or promotes a fleet: not its
// author, not someone who changed its spec, among the template's
// reviewers when it names some, and holding the approve verb on the set.
func (v *SetValidator) validateReviewer(ctx context.Context, set *dbv1.DatabaseMigrationSet, user authnv1.UserInfo, path *field.Path) (field.ErrorList, error) {
	var errs field.ErrorList
	switch {
	case set.Annotations[dbv1.AnnotationCreatedBy] == user.Username:
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q created this set and cannot approve its fleet: another reviewer must", user.Username)))
	case slices.Contains(dbv1.Modifiers(set.Annotations), user.Username):
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q changed this set's spec and cannot approve its fleet: another reviewer must", user.Username)))
	}
	if !isReviewer(set.Spec.Template.Policy.Reviewers, user) {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q is not among spec.template.policy.reviewers", user.Username)))
	}
	objects, gone, err := v.fleetSources(ctx, set)
	if err != nil {
		return nil, err
	}
	for _, target := range gone {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf(
			"%s, a target of the fleet, does not exist or no longer admits namespace %s: its plan cannot be approved; wait until the set plans its fleet again", target, set.Namespace)))
	}
	sourceErrs, err := sourceApproval{reader: v.Reader, require: v.RequireTrackedSources}.check(ctx, objects, user, path)
	if err != nil {
		return nil, err
	}
	errs = append(errs, sourceErrs...)
	allowed, err := allowedTo(ctx, v.Client, user, "databasemigrationsets", set.Namespace, set.Name)
	if err != nil {
		return nil, err
	}
	if !allowed {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q may not approve fleets: grant the %q verb on databasemigrationsets in namespace %q",
			user.Username, ApproveVerb, set.Namespace)))
	}
	return errs, nil
}

// fleetSources lists the objects the fleet's plans are read from: the
// template's SQL sources, in the set's namespace, and the Secrets of each
// target in the fleet; and the fleet's targets the namespace cannot use
// (gone, or no longer admitting it), whose Secrets no one can check.
func (v *SetValidator) fleetSources(ctx context.Context, set *dbv1.DatabaseMigrationSet) ([]sourceObject, []string, error) {
	objects := migrationSources(&dbv1.DatabaseMigration{
		ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace},
		Spec:       dbv1.DatabaseMigrationSpec{Migration: set.Spec.Template.Migration},
	})
	usable, err := tenancy.Usable(ctx, v.Reader, set.Namespace)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]tenancy.Target{}
	for _, t := range usable {
		byName[dbv1.SetTarget(dbv1.TargetRef{Kind: dbv1.TargetKind(t.ID.Kind), Name: t.ID.Name})] = t
	}
	var gone []string
	for _, p := range dbv1.FleetPairs(set.Status.Targets) {
		t, ok := byName[p.Target]
		if !ok {
			gone = append(gone, p.Target)
			continue
		}
		for _, o := range targetSources(t.ID, t.Spec, v.OperatorNamespace) {
			objects = addSource(objects, o)
		}
	}
	return objects, gone, nil
}

// validateTargetReviewers holds a fleet approval to the reviewers of each
// target whose plan it approves, as each child's approval would be.
func (v *SetValidator) validateTargetReviewers(ctx context.Context, set *dbv1.DatabaseMigrationSet, user authnv1.UserInfo, path *field.Path) (field.ErrorList, error) {
	usable, err := tenancy.Usable(ctx, v.Reader, set.Namespace)
	if err != nil {
		return nil, err
	}
	policies := map[string]*dbv1.TargetPolicy{}
	for _, t := range usable {
		policies[dbv1.SetTarget(dbv1.TargetRef{Kind: dbv1.TargetKind(t.ID.Kind), Name: t.ID.Name})] = t.Spec.Policy
	}
	var refused []string
	for _, p := range dbv1.FleetPairs(set.Status.Targets) {
		policy := policies[p.Target].Tighten(set.Spec.Template.Policy)
		if !isReviewer(policy.Reviewers, user) {
			refused = append(refused, p.Target)
		}
	}
	if len(refused) == 0 {
		return nil, nil
	}
	if len(refused) > 5 {
		refused = append(refused[:5], fmt.Sprintf("and %d more", len(refused)-5))
	}
	return field.ErrorList{field.Forbidden(path, fmt.Sprintf("%q is not among the reviewers the targets' policies allow for %v", user.Username, refused))}, nil
}

// isReviewer reports whether user is in reviewers; an empty list names no
// one and so leaves it to RBAC.
func isReviewer(reviewers []dbv1.Reviewer, user authnv1.UserInfo) bool {
	if len(reviewers) == 0 {
		return true
	}
	return slices.ContainsFunc(reviewers, func(r dbv1.Reviewer) bool {
		if r.Kind == dbv1.SubjectGroup {
			return slices.Contains(user.Groups, r.Name)
		}
		return r.Name == user.Username
	})
}

// allowedTo asks the API server whether user holds the approve verb on
// the named object of resource.
func allowedTo(ctx context.Context, c client.Client, user authnv1.UserInfo, resource, namespace, name string) (bool, error) {
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range user.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Group: dbv1.GroupVersion.Group, Version: dbv1.GroupVersion.Version, Resource: resource,
			Namespace: namespace, Name: name, Verb: ApproveVerb,
		},
	}}
	if err := c.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("asking the API server whether %q may approve: %w", user.Username, err)
	}
	return sar.Status.Allowed, nil
}

func invalidSet(set *dbv1.DatabaseMigrationSet, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(setGroupKind, set.Name, errs)
}

// owningSet names the set controlling dbm, if one does.
func owningSet(dbm *dbv1.DatabaseMigration) *metav1.OwnerReference {
	ref := metav1.GetControllerOf(dbm)
	if ref == nil || ref.Kind != setKind || ref.APIVersion != dbv1.GroupVersion.String() {
		return nil
	}
	return ref
}

// validateSetChild holds a set's child to the set: only the operator
// creates it, changes its spec or approves its plan, and only a plan of
// the fleet a reviewer approved on the set.
func (v *Validator) validateSetChild(ctx context.Context, old, dbm *dbv1.DatabaseMigration, user authnv1.UserInfo) (field.ErrorList, error) {
	ref := owningSet(dbm)
	if ref == nil {
		return nil, nil
	}
	operator := v.OperatorUser != "" && user.Username == v.OperatorUser
	path := field.NewPath("metadata", "ownerReferences")
	if !operator && (old == nil || owningSet(old) == nil || !equality.Semantic.DeepEqual(old.Spec, dbm.Spec)) {
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf("this migration belongs to %s %s: change the set, not its migrations", setKind, ref.Name))}, nil
	}
	if old == nil {
		return nil, nil
	}
	var errs field.ErrorList
	for _, key := range []string{dbv1.AnnotationApprovedPlan, dbv1.AnnotationSwitchApproved} {
		a := newApproval(old, dbm, user, key)
		if a == nil {
			continue
		}
		annPath := field.NewPath("metadata", "annotations").Key(key)
		if !operator || key == dbv1.AnnotationSwitchApproved {
			errs = append(errs, field.Forbidden(annPath, fmt.Sprintf("this migration belongs to %s %s: approve the fleet on the set (kubectl shift fleet approve %s)", setKind, ref.Name, ref.Name)))
			continue
		}
		fleetErrs, err := v.validateFleetApproval(ctx, dbm, ref, a, annPath)
		if err != nil {
			return nil, err
		}
		errs = append(errs, fleetErrs...)
	}
	return errs, nil
}

// validateFleetApproval checks an approval the operator writes on a
// set's child: the child is the operator's own, unchanged by anyone else,
// and its target and plan are a pair the set's approved fleet holds.
func (v *Validator) validateFleetApproval(ctx context.Context, dbm *dbv1.DatabaseMigration, ref *metav1.OwnerReference, a *approvalChange, path *field.Path) (field.ErrorList, error) {
	var errs field.ErrorList
	if dbm.Annotations[dbv1.AnnotationCreatedBy] != v.OperatorUser || slices.ContainsFunc(dbv1.Modifiers(dbm.Annotations), func(u string) bool { return u != v.OperatorUser }) {
		errs = append(errs, field.Forbidden(path, "only a migration the operator made and no one else changed is approved for a fleet"))
	}
	plan := dbm.Status.Plan
	if plan == nil || a.hash != plan.Hash {
		errs = append(errs, field.Invalid(path, a.hash, "is not the migration's current plan"))
	}
	set := &dbv1.DatabaseMigrationSet{}
	err := v.Reader.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: ref.Name}, set)
	if apierrors.IsNotFound(err) || (err == nil && set.UID != ref.UID) {
		return append(errs, field.Forbidden(path, fmt.Sprintf("%s %s is gone", setKind, ref.Name))), nil
	}
	if err != nil {
		return nil, err
	}
	target := ""
	if dbm.Spec.TargetRef != nil {
		target = dbv1.SetTarget(*dbm.Spec.TargetRef)
	}
	approved := set.Status.Approved
	if set.Annotations[dbv1.AnnotationApprovedFleet] == "" || set.Annotations[dbv1.AnnotationApprovedFleetBy] == "" || !approved.Approves(target, a.hash) {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("plan %s of %s is not in the fleet a reviewer approved on %s %s", a.hash, target, setKind, ref.Name)))
	}
	policy, err := v.policyOf(ctx, dbm)
	if err != nil {
		return nil, err
	}
	if plan != nil && plan.Destructive && policy.Destructive != dbv1.DestructiveAllowWithApproval {
		errs = append(errs, field.Forbidden(path, "the plan is destructive and the policy (or the target's) is block: it cannot be approved"))
	}
	return errs, nil
}

// fleetApprover is who a set's child was approved by: the reviewer who
// approved the set's fleet.
func fleetApprover(ctx context.Context, r client.Reader, dbm *dbv1.DatabaseMigration) string {
	ref := owningSet(dbm)
	if ref == nil {
		return ""
	}
	set := &dbv1.DatabaseMigrationSet{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: ref.Name}, set); err != nil || set.UID != ref.UID {
		return ""
	}
	by := set.Annotations[dbv1.AnnotationApprovedFleetBy]
	if by == "" {
		return ""
	}
	return by + " (fleet " + set.Annotations[dbv1.AnnotationApprovedFleet] + " of " + setKind + " " + set.Name + ")"
}

// OperatorIdentity is the user the manager's client authenticates as
// (asked of the API server): the only user that may approve a set's
// children, for the fleet.
func OperatorIdentity(ctx context.Context, c client.Client) (string, error) {
	review := &authnv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("asking the API server who the manager is (SelfSubjectReview): %w", err)
	}
	return review.Status.UserInfo.Username, nil
}
