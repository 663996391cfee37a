package v1alpha1

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MigrationTemplate is the migration a DatabaseMigrationSet gives every
// target it selects: a DatabaseMigration's spec without the database,
// which each target supplies.
type MigrationTemplate struct {
	// migration is what to change, as in a DatabaseMigration.
	// +required
	Migration MigrationConfig `json:"migration"`

	// policy is each child's policy, tightened by its target's. Plans are
	// approved for the whole fleet on the set: approval must be
	// `required` (or empty).
	// +optional
	Policy Policy `json:"policy,omitempty"`

	// validation runs on every target, as in a DatabaseMigration.
	// +optional
	Validation *ValidationConfig `json:"validation,omitempty"`

	// rollback is each child's rollback rule.
	// +optional
	Rollback *RollbackConfig `json:"rollback,omitempty"`

	// notifications says who hears about each child's phase changes.
	// +optional
	Notifications *NotificationConfig `json:"notifications,omitempty"`
}

// RolloutStep is one ordered group of a rollout: the targets whose labels
// the selector matches, started only once every earlier step is done.
type RolloutStep struct {
	// name names the step in status and events.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// selector picks the step's targets among those the set selects; a
	// target in several steps belongs to the first.
	// +required
	Selector metav1.LabelSelector `json:"selector"`
}

// Rollout says how a set's approved plans reach its targets.
type Rollout struct {
	// canary is how many targets go first, alone. Zero: no canary.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Canary int32 `json:"canary,omitempty"`

	// pauseAfterCanary holds the rest until a reviewer promotes the set
	// (the promoted annotation, or kubectl shift promote).
	// +optional
	PauseAfterCanary bool `json:"pauseAfterCanary,omitempty"`

	// maxParallel is how many targets may apply at once. Zero: 1.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	MaxParallel int32 `json:"maxParallel,omitempty"`

	// maxFailures is the failure budget: once more targets than this have
	// failed, no new target starts (Stalled) until a retry.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxFailures int32 `json:"maxFailures,omitempty"`

	// steps orders the targets in groups (after the canary): every
	// target of a step finishes before the next step starts. Targets no
	// step matches go last.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Steps []RolloutStep `json:"steps,omitempty"`
}

// DatabaseMigrationSetSpec is one change for many targets: reviewed once,
// rolled out in waves.
type DatabaseMigrationSetSpec struct {
	// template is the migration every selected target gets.
	// +required
	Template MigrationTemplate `json:"template"`

	// targetSelector picks, by label, the DatabaseTargets of the set's
	// namespace and the ClusterDatabaseTargets that admit it. An empty
	// selector picks them all.
	// +required
	TargetSelector metav1.LabelSelector `json:"targetSelector"`

	// rollout says how the approved plans reach the targets.
	// +optional
	Rollout Rollout `json:"rollout,omitempty"`
}

// FleetPlan is one distinct plan among a set's children, with how many
// targets have it: what a reviewer reads.
type FleetPlan struct {
	// digest identifies the plan's content (statements and findings):
	// each target's plan hash also covers where it applies, so plans
	// alike on many targets are grouped by this. A plan too long for
	// status is a group of its own.
	Digest string `json:"digest"`
	// statements are the plan's statements (truncated when long: the
	// children hold them all).
	// +optional
	Statements []string `json:"statements,omitempty"`
	// diagnostics are the plan's lint findings.
	// +optional
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// validations are the validation scripts the apply runs after the
	// statements, read-only (cut with the statements: the children hold
	// them all).
	// +optional
	// +listType=atomic
	Validations []PlannedValidation `json:"validations,omitempty"`
	// destructive is true when the plan loses data or schema.
	// +optional
	Destructive bool `json:"destructive,omitempty"`
	// truncated is true when the statements shown are not all of them.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// targets is how many targets have this plan.
	Targets int32 `json:"targets"`
	// examples names a few of them.
	// +optional
	Examples []string `json:"examples,omitempty"`
}

// FleetTargetState is where one target of a set stands.
type FleetTargetState string

const (
	// FleetPlanning: the target's plan is not known yet.
	FleetPlanning FleetTargetState = "Planning"
	// FleetUnapproved: planned; the plan is not in the approved fleet.
	FleetUnapproved FleetTargetState = "Unapproved"
	// FleetWaiting: approved, waiting for its wave.
	FleetWaiting FleetTargetState = "Waiting"
	// FleetRunning: started: its child is applying.
	FleetRunning FleetTargetState = "Running"
	// FleetSucceeded: applied, or nothing to apply.
	FleetSucceeded FleetTargetState = "Succeeded"
	// FleetFailed: its child failed (or was blocked).
	FleetFailed FleetTargetState = "Failed"
)

// FleetTarget is one target of a set.
type FleetTarget struct {
	// target is the target, as "DatabaseTarget/NAME" or
	// "ClusterDatabaseTarget/NAME".
	Target string `json:"target"`
	// migration is the child DatabaseMigration.
	Migration string `json:"migration"`
	// planHash is the child's current plan.
	// +optional
	PlanHash string `json:"planHash,omitempty"`
	// state is where it stands.
	State FleetTargetState `json:"state"`
	// wave is the wave it belongs to: 0 the canary, then one per step.
	Wave int32 `json:"wave"`
	// startTime is when the set let it apply.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when it ended, applied or failed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// message is the child's message when it failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// FleetPair is a target with the plan hash it has: what a fleet approval
// covers.
type FleetPair struct {
	// target is as in FleetTarget.
	Target string `json:"target"`
	// planHash is the plan approved for it.
	PlanHash string `json:"planHash"`
}

// FleetApproval is what reviewers approved of a fleet: every pair an
// approval covered (a later approval adds the pairs it covers, and
// replaces the plan of a target it names again).
type FleetApproval struct {
	// hash is the fleet hash last approved.
	Hash string `json:"hash"`
	// by is the reviewer who approved it.
	By string `json:"by"`
	// pairs are the targets and plans approved, by this approval and the
	// earlier ones.
	// +listType=atomic
	Pairs []FleetPair `json:"pairs"`
}

// FleetCounts counts a set's targets by state.
type FleetCounts struct {
	Total      int32 `json:"total"`
	Planning   int32 `json:"planning,omitempty"`
	Unapproved int32 `json:"unapproved,omitempty"`
	Waiting    int32 `json:"waiting,omitempty"`
	Running    int32 `json:"running,omitempty"`
	Succeeded  int32 `json:"succeeded,omitempty"`
	Failed     int32 `json:"failed,omitempty"`
}

// SetPhase is where a set stands.
// +kubebuilder:validation:Enum=Planning;AwaitingApproval;RollingOut;AwaitingPromotion;Succeeded;Stalled
type SetPhase string

const (
	SetPlanning          SetPhase = "Planning"
	SetAwaitingApproval  SetPhase = "AwaitingApproval"
	SetRollingOut        SetPhase = "RollingOut"
	SetAwaitingPromotion SetPhase = "AwaitingPromotion"
	SetSucceeded         SetPhase = "Succeeded"
	SetStalled           SetPhase = "Stalled"
)

// DatabaseMigrationSetStatus is what the operator observed of a set.
type DatabaseMigrationSetStatus struct {
	// phase sums up the set.
	// +optional
	Phase SetPhase `json:"phase,omitempty"`
	// observedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, Reconciling, Stalled (kstatus).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// message says what the set waits for, in a sentence.
	// +optional
	Message string `json:"message,omitempty"`
	// fleetHash is FleetHash over the targets whose plans wait for a
	// reviewer (FleetPairs): what a reviewer approves (the approved-fleet
	// annotation). Empty while a target is still planning, or when
	// nothing waits for approval.
	// +optional
	FleetHash string `json:"fleetHash,omitempty"`
	// plans are the distinct plans, most targets first.
	// +optional
	// +listType=atomic
	Plans []FleetPlan `json:"plans,omitempty"`
	// targets are the selected targets, in rollout order.
	// +optional
	// +listType=atomic
	Targets []FleetTarget `json:"targets,omitempty"`
	// approved is the fleet last approved.
	// +optional
	Approved *FleetApproval `json:"approved,omitempty"`
	// counts counts targets by state.
	// +optional
	Counts FleetCounts `json:"counts"`
	// wave is the wave running now: 0 the canary, then 1 + the index of
	// the step (targets no step matches: 1 + the number of steps).
	// +optional
	Wave int32 `json:"wave"`
	// waves is how many waves have targets.
	// +optional
	Waves int32 `json:"waves,omitempty"`
	// promoted is the fleet hash the rest of the rollout was promoted for
	// after the canary.
	// +optional
	Promoted string `json:"promoted,omitempty"`
	// retried is the last retry annotation acted on.
	// +optional
	Retried string `json:"retried,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=dbms,categories=kube-shift
// +kubebuilder:printcolumn:name="Phase",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="Targets",type="integer",JSONPath=".status.counts.total"
// +kubebuilder:printcolumn:name="Succeeded",type="integer",JSONPath=".status.counts.succeeded"
// +kubebuilder:printcolumn:name="Failed",type="integer",JSONPath=".status.counts.failed"
// +kubebuilder:printcolumn:name="Plans",type="integer",JSONPath=".status.plans[*].targets",priority=1
// +kubebuilder:printcolumn:name="Fleet",type="string",JSONPath=".status.fleetHash",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// DatabaseMigrationSet rolls one reviewed change out to many targets: it
// owns a DatabaseMigration per selected target, groups their plans for one
// review, and lets them apply in waves.
type DatabaseMigrationSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the change and how it rolls out.
	// +required
	Spec DatabaseMigrationSetSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status DatabaseMigrationSetStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DatabaseMigrationSetList is a list of DatabaseMigrationSets.
type DatabaseMigrationSetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DatabaseMigrationSet `json:"items"`
}

// Annotations of sets and their children.
const (
	// LabelSet labels a set's children with the set's name.
	LabelSet = annotationPrefix + "set"
	// AnnotationApprovedFleet holds the fleet hash a reviewer approved.
	AnnotationApprovedFleet = annotationPrefix + "approved-fleet"
	// AnnotationApprovedFleetBy holds that reviewer (stamped).
	AnnotationApprovedFleetBy = annotationPrefix + "approved-fleet-by"
	// AnnotationPromoted holds the fleet hash a reviewer promoted past
	// the canary.
	AnnotationPromoted = annotationPrefix + "promoted"
	// AnnotationPromotedBy holds that reviewer (stamped).
	AnnotationPromotedBy = annotationPrefix + "promoted-by"
	// AnnotationRetry, changed to any new value, resumes a stalled set:
	// its failed children are planned again and the failure budget
	// counts from zero.
	AnnotationRetry = annotationPrefix + "retry"
)

// Reasons of a set's conditions.
const (
	ReasonFleetPlanning     = "FleetPlanning"
	ReasonFleetUnapproved   = "AwaitingFleetApproval"
	ReasonFleetRollingOut   = "RollingOut"
	ReasonAwaitingPromotion = "AwaitingPromotion"
	ReasonFailureBudget     = "FailureBudgetExceeded"
	ReasonFleetSucceeded    = "FleetSucceeded"
	ReasonFleetNoTargets    = "NoTargets"
	// ReasonFleetChildRefused: a target has no migration: admission
	// refused the one the set made for it, or its name is taken.
	ReasonFleetChildRefused = "ChildRefused"
)

// SetTarget names a target in a fleet: "DatabaseTarget/NAME" or
// "ClusterDatabaseTarget/NAME" (namespaced targets are the set's own).
func SetTarget(ref TargetRef) string {
	kind := string(ref.Kind)
	if kind == "" {
		kind = KindDatabaseTarget
	}
	return kind + "/" + ref.Name
}

// ParseSetTarget is SetTarget's inverse.
func ParseSetTarget(s string) (TargetRef, bool) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || name == "" || (kind != KindDatabaseTarget && kind != KindClusterDatabaseTarget) {
		return TargetRef{}, false
	}
	return TargetRef{Kind: TargetKind(kind), Name: name}, true
}

// FleetHash is "sha256:<hex>" over the pairs, sorted by target and plan:
// the same fleet hashes the same whatever the order. Each field is
// length-prefixed, so no text in a target or a plan can pass for another
// pair.
func FleetHash(pairs []FleetPair) string {
	sorted := slices.Clone(pairs)
	slices.SortFunc(sorted, func(a, b FleetPair) int {
		return cmp.Or(strings.Compare(a.Target, b.Target), strings.Compare(a.PlanHash, b.PlanHash))
	})
	h := sha256.New()
	field := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(s)))
		h.Write([]byte(s))
	}
	field("kube-shift fleet v1")
	for _, p := range sorted {
		field(p.Target)
		field(p.PlanHash)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// FleetPairs are the targets whose plans wait for a reviewer (state
// Unapproved), with their plans: what a fleet approval covers.
func FleetPairs(targets []FleetTarget) []FleetPair {
	var pairs []FleetPair
	for _, t := range targets {
		if t.State == FleetUnapproved && t.PlanHash != "" {
			pairs = append(pairs, FleetPair{Target: t.Target, PlanHash: t.PlanHash})
		}
	}
	return pairs
}

// Approves reports whether the approval covers target with plan hash.
func (a *FleetApproval) Approves(target, hash string) bool {
	if a == nil || hash == "" {
		return false
	}
	return slices.ContainsFunc(a.Pairs, func(p FleetPair) bool { return p.Target == target && p.PlanHash == hash })
}
