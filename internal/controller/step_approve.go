package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

// approverAuto is the approver recorded when policy.approval is auto.
const approverAuto = "auto (policy.approval)"

// awaitApproval owns the Approved condition: the plan goes on only when
// approved-plan names its hash, or when the policy approves safe plans by
// itself. A plan already applied needs no new approval.
func (r *DatabaseMigrationReconciler) awaitApproval(ctx context.Context, dbm *dbv1.DatabaseMigration, _ *statusWriter) (ctrl.Result, bool, error) {
	plan := dbm.Status.Plan
	if applied := dbm.Status.LastApplied; applied != nil && applied.PlanHash == plan.Hash {
		return ctrl.Result{}, false, nil
	}

	ann := dbm.Annotations
	if reason := ann[dbv1.AnnotationRejected]; reason != "" {
		message := "the plan was rejected: " + reason
		setCondition(dbm, dbv1.ConditionApproved, false, dbv1.ReasonRejected, message)
		setPhase(dbm, dbv1.PhaseBlocked, dbv1.ReasonRejected, message)
		return ctrl.Result{RequeueAfter: r.replanInterval()}, true, nil
	}

	// auto says whether spec.policy.approval: auto is in force: asked for,
	// and granted by the platform or a user allowed to approve.
	policy, err := r.policyOf(ctx, dbm)
	if err != nil {
		return r.planFailed(dbm, err)
	}
	wantsAuto := policy.Approval == dbv1.ApprovalAuto
	auto := wantsAuto && r.autoApprovalGranted(dbm)
	var grantorWrote string
	if auto && !r.AllowAutoApproval {
		if grantorWrote, err = r.grantorWroteASource(ctx, dbm); err != nil {
			return ctrl.Result{}, true, err
		}
		auto = grantorWrote == ""
	}
	switch approved := ann[dbv1.AnnotationApprovedPlan]; {
	case approved == plan.Hash:
		setCondition(dbm, dbv1.ConditionApproved, true, dbv1.ReasonApproved,
			fmt.Sprintf("plan %s approved by %s", plan.Hash, ann[dbv1.AnnotationApprovedBy]))
		return ctrl.Result{}, false, nil
	case auto && !plan.Destructive && !hasLintErrors(plan):
		setCondition(dbm, dbv1.ConditionApproved, true, dbv1.ReasonAutoApproved,
			fmt.Sprintf("plan %s has no destructive change and no lint error: approved by policy", plan.Hash))
		return ctrl.Result{}, false, nil
	case approved == "" && wantsAuto && !auto:
		message := fmt.Sprintf("plan %s waits for a reviewer: spec.policy.approval is auto, but automatic approval was not granted (the manager does not allow it, and no user allowed to approve set the policy): kubectl shift approve %s", plan.Hash, dbm.Name)
		if grantorWrote != "" {
			message = fmt.Sprintf("plan %s waits for a reviewer: %s, who granted automatic approval, changed %s, which this plan reads, and its own change does not approve itself: kubectl shift approve %s",
				plan.Hash, dbm.Annotations[dbv1.AnnotationPolicyGrantedBy], grantorWrote, dbm.Name)
		}
		setCondition(dbm, dbv1.ConditionApproved, false, dbv1.ReasonPolicyNotGranted, message)
		setPhase(dbm, dbv1.PhaseAwaitingApproval, dbv1.ReasonPolicyNotGranted, message)
	case approved != "":
		message := fmt.Sprintf("approved-plan %s does not match the current plan %s: review the current plan and approve its hash", approved, plan.Hash)
		setCondition(dbm, dbv1.ConditionApproved, false, dbv1.ReasonApprovalMismatch, message)
		setPhase(dbm, dbv1.PhaseAwaitingApproval, dbv1.ReasonApprovalMismatch, message)
	default:
		message := fmt.Sprintf("plan %s waits for a reviewer: kubectl shift approve %s", plan.Hash, dbm.Name)
		setCondition(dbm, dbv1.ConditionApproved, false, dbv1.ReasonAwaitingApproval, message)
		setPhase(dbm, dbv1.PhaseAwaitingApproval, dbv1.ReasonAwaitingApproval, message)
	}
	return ctrl.Result{RequeueAfter: r.replanInterval()}, true, nil
}

// autoApprovalGranted says whether spec.policy.approval: auto takes
// effect: the platform allows it for every migration (--allow-auto-approval),
// or a user allowed to approve set the policy as it now is (the mutating
// webhook records who and the policy's digest; a user cannot write them).
// The migration's authors cannot approve their own plans this way: the
// webhook grants only to a user who is none of them, and voids the grant
// when its grantor writes the spec.
func (r *DatabaseMigrationReconciler) autoApprovalGranted(dbm *dbv1.DatabaseMigration) bool {
	if r.AllowAutoApproval {
		return true
	}
	ann := dbm.Annotations
	return ann[dbv1.AnnotationPolicyGrantedBy] != "" && ann[dbv1.AnnotationPolicyGranted] == dbv1.PolicyDigest(dbm.Spec.Policy)
}

// approver is who let the plan run, for the revision record.
func approver(dbm *dbv1.DatabaseMigration) string {
	if dbm.Annotations[dbv1.AnnotationApprovedPlan] == dbm.Status.Plan.Hash {
		return dbm.Annotations[dbv1.AnnotationApprovedBy]
	}
	return approverAuto
}

func hasLintErrors(p *dbv1.PlanStatus) bool {
	for _, d := range p.Diagnostics {
		if d.Severity == dbv1.SeverityError {
			return true
		}
	}
	return false
}

// grantorWroteASource names the first tracked source of dbm's SQL (see
// dbv1.LabelTrackedSource) that the user who granted its automatic
// approval created or changed, or "": that user's own edit would
// otherwise run unreviewed. Sources are read from the cache, as planning
// reads them; one that is gone has no plan to approve.
func (r *DatabaseMigrationReconciler) grantorWroteASource(ctx context.Context, dbm *dbv1.DatabaseMigration) (string, error) {
	grantor := dbm.Annotations[dbv1.AnnotationPolicyGrantedBy]
	for _, ref := range source.SQLReferences(dbm) {
		var obj client.Object = &corev1.ConfigMap{}
		if ref.Kind == source.KindSecret {
			obj = &corev1.Secret{}
		}
		err := r.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: ref.Name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading %s %s: %w", ref.Kind, ref.Name, err)
		}
		if _, tracked := obj.GetLabels()[dbv1.LabelTrackedSource]; !tracked {
			continue
		}
		if dbv1.Wrote(obj.GetAnnotations(), grantor) {
			return fmt.Sprintf("%s %s", ref.Kind, ref.Name), nil
		}
	}
	return "", nil
}
