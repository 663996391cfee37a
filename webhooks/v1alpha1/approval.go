package v1alpha1

import (
	"context"
	"fmt"
	"slices"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// ApproveVerb is the RBAC verb on databasemigrations that lets a user
// approve plans when a migration names no reviewers of its own.
const ApproveVerb = "approve"

// Authorizer answers whether a user may approve plans of a migration.
type Authorizer interface {
	CanApprove(ctx context.Context, user authnv1.UserInfo, dbm *dbv1.DatabaseMigration) (bool, error)
}

// SubjectAccessReviewer asks the API server, through a SubjectAccessReview,
// whether the user holds the approve verb on the migration.
type SubjectAccessReviewer struct {
	Client client.Client
}

var _ Authorizer = SubjectAccessReviewer{}

// CanApprove implements Authorizer.
func (s SubjectAccessReviewer) CanApprove(ctx context.Context, user authnv1.UserInfo, dbm *dbv1.DatabaseMigration) (bool, error) {
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range user.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:   user.Username,
		Groups: user.Groups,
		UID:    user.UID,
		Extra:  extra,
		ResourceAttributes: &authzv1.ResourceAttributes{
			Group:     dbv1.GroupVersion.Group,
			Version:   dbv1.GroupVersion.Version,
			Resource:  "databasemigrations",
			Namespace: dbm.Namespace,
			Name:      dbm.Name,
			Verb:      ApproveVerb,
		},
	}}
	if err := s.Client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("asking the API server whether %q may approve: %w", user.Username, err)
	}
	return sar.Status.Allowed, nil
}

// approvalChange is an approval made by one update: the hash set, by whom.
type approvalChange struct {
	// key is the annotation: approved-plan, or switch-approved for a
	// blue-green switch, which follows the same rules.
	key  string
	hash string
	user authnv1.UserInfo
}

// approvalKeys are the annotations that approve something, with the
// annotation that records who.
var approvalKeys = map[string]string{
	dbv1.AnnotationApprovedPlan:   dbv1.AnnotationApprovedBy,
	dbv1.AnnotationSwitchApproved: dbv1.AnnotationSwitchApprovedBy,
}

// newApproval returns the approval an update makes through annotation key,
// or nil when the annotation did not change or was removed.
func newApproval(old, dbm *dbv1.DatabaseMigration, user authnv1.UserInfo, key string) *approvalChange {
	hash := dbm.Annotations[key]
	if hash == "" || (old != nil && hash == old.Annotations[key]) {
		return nil
	}
	return &approvalChange{key: key, hash: hash, user: user}
}

// validateApproval checks the rules a plan approval must meet, all but the
// RBAC check: the hash is the current plan's, the approver did not create
// the object, a destructive plan is approvable only under allowWithApproval,
// and a listed reviewer list (when the migration has one) names the approver.
// It returns whether the approver is a listed reviewer, so the caller asks
// RBAC only when no list decides.
func validateApproval(dbm *dbv1.DatabaseMigration, a *approvalChange) (listed bool, errs field.ErrorList) {
	path := field.NewPath("metadata", "annotations").Key(a.key)
	plan := dbm.Status.Plan
	switch {
	case plan == nil || plan.Hash == "":
		errs = append(errs, field.Forbidden(path, "there is no plan to approve yet: wait until status.plan is set"))
	case a.hash != plan.Hash:
		errs = append(errs, field.Invalid(path, a.hash, fmt.Sprintf(
			"does not match the current plan %s: the plan changed after it was reviewed; review the new plan and approve its hash", plan.Hash)))
	case plan.Destructive && dbm.Spec.Policy.Destructive != dbv1.DestructiveAllowWithApproval:
		errs = append(errs, field.Forbidden(path, "the plan is destructive and spec.policy.destructive is block: it cannot be approved"))
	}

	if creator := dbm.Annotations[dbv1.AnnotationCreatedBy]; creator != "" && creator == a.user.Username {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q created this migration and cannot approve its plan: another reviewer must", a.user.Username)))
	}

	if len(dbm.Spec.Policy.Reviewers) == 0 {
		return false, errs
	}
	listed = slices.ContainsFunc(dbm.Spec.Policy.Reviewers, func(r dbv1.Reviewer) bool {
		if r.Kind == dbv1.SubjectGroup {
			return slices.Contains(a.user.Groups, r.Name)
		}
		return r.Name == a.user.Username
	})
	if !listed {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q is not among spec.policy.reviewers", a.user.Username)))
	}
	return listed, errs
}
