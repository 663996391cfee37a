package controller

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
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
