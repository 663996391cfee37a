package v1alpha1

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// ApproveVerb is the RBAC verb on databasemigrations that lets a user
// approve plans; a migration's reviewer list narrows it further.
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
	return allowedTo(ctx, s.Client, user, "databasemigrations", dbm.Namespace, dbm.Name)
}

// approvalChange is an approval made by one update: the hash set, by whom.
type approvalChange struct {
	// key is the annotation: approved-plan, or switch-approved for a
	// blue-green switch, which follows the same rules.
	key  string
	hash string
	user authnv1.UserInfo
}

// approvalKeys are the annotations that approve something, each with the
// annotation that records who, in a fixed order: errors about them come
// in the same order every time.
var approvalKeys = []struct{ key, by string }{
	{dbv1.AnnotationApprovedPlan, dbv1.AnnotationApprovedBy},
	{dbv1.AnnotationSwitchApproved, dbv1.AnnotationSwitchApprovedBy},
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
// RBAC check: the hash is the current plan's, the approver neither created
// the object nor changed its spec, a destructive plan is approvable only
// under allowWithApproval, and a reviewer list (when the migration has one)
// names the approver. The list only narrows who may approve: RBAC is always
// asked too (see Validator.validateApprovalBy).
func validateApproval(dbm *dbv1.DatabaseMigration, policy dbv1.Policy, a *approvalChange) field.ErrorList {
	path := field.NewPath("metadata", "annotations").Key(a.key)
	plan := dbm.Status.Plan
	var errs field.ErrorList
	switch {
	case plan == nil || plan.Hash == "":
		errs = append(errs, field.Forbidden(path, "there is no plan to approve yet: wait until status.plan is set"))
	case a.hash != plan.Hash:
		errs = append(errs, field.Invalid(path, a.hash, fmt.Sprintf(
			"does not match the current plan %s: the plan changed after it was reviewed; review the new plan and approve its hash", plan.Hash)))
	case plan.Destructive && policy.Destructive != dbv1.DestructiveAllowWithApproval:
		errs = append(errs, field.Forbidden(path, "the plan is destructive and spec.policy.destructive (or the target's policy) is block: it cannot be approved"))
	}

	switch creator := dbm.Annotations[dbv1.AnnotationCreatedBy]; {
	case creator != "" && creator == a.user.Username:
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q created this migration and cannot approve its plan: another reviewer must", a.user.Username)))
	case slices.Contains(dbv1.Modifiers(dbm.Annotations), a.user.Username):
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q changed this migration's spec and cannot approve its plan: another reviewer must", a.user.Username)))
	}

	if !isReviewer(policy.Reviewers, a.user) {
		errs = append(errs, field.Forbidden(path, fmt.Sprintf("%q is not among spec.policy.reviewers (narrowed by the target's policy.reviewers)", a.user.Username)))
	}
	return errs
}

// broadGroups are groups every user, or every workload, belongs to: as a
// reviewer they would let anyone approve.
var broadGroups = []string{"system:authenticated", "system:unauthenticated", "system:serviceaccounts"}

// validateReviewers refuses reviewer entries that name everyone: the
// built-in groups of all users or all service accounts (of the cluster or
// of a namespace), and wildcards.
func validateReviewers(reviewers []dbv1.Reviewer, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range reviewers {
		name := strings.TrimSpace(r.Name)
		if slices.Contains(broadGroups, name) || strings.HasPrefix(name, "system:serviceaccounts:") || strings.Contains(name, "*") {
			errs = append(errs, field.Forbidden(path.Index(i).Child("name"), fmt.Sprintf(
				"%q names every user or workload: list the people or the reviewers' group who may approve", name)))
		}
	}
	return errs
}
