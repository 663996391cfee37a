package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
)

// Condition types. Planned, Approved, Applied and Ready follow the migration
// through its lifecycle; Reconciling and Stalled follow kstatus so that
// generic tools (Flux, Argo CD, `kubectl wait`) can read a migration.
const (
	ConditionPlanned  = "Planned"
	ConditionApproved = "Approved"
	ConditionApplied  = "Applied"
	ConditionReady    = "Ready"
	// ConditionPreChecks reports spec.validation.preChecks, run before
	// each apply.
	ConditionPreChecks = "PreChecks"
	// ConditionNotified reports the delivery of spec.notifications: False
	// when the last message could not be delivered. It never holds a
	// migration back.
	ConditionNotified    = "Notified"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
)

// Condition reasons. Events carry the same reason as the condition they
// accompany.
const (
	ReasonInitializing        = "Initializing"
	ReasonPlanning            = "Planning"
	ReasonPlanReady           = "PlanReady"
	ReasonPlanEmpty           = "PlanEmpty"
	ReasonPlanFailed          = "PlanFailed"
	ReasonSourceNotFound      = "SourceNotFound"
	ReasonChecksumMismatch    = "ChecksumMismatch"
	ReasonInvalidSQL          = "InvalidSQL"
	ReasonSecretInvalid       = "SecretInvalid"
	ReasonDatabaseUnreachable = "DatabaseUnreachable"
	ReasonDestructiveBlocked  = "DestructiveBlocked"
	ReasonAwaitingApproval    = "AwaitingApproval"
	ReasonApprovalMismatch    = "ApprovalMismatch"
	ReasonApproved            = "Approved"
	ReasonAutoApproved        = "AutoApproved"
	ReasonRejected            = "Rejected"
	ReasonApplying            = "Applying"
	// ReasonApplyQueued: the approved apply waits for a free apply
	// worker, or for another apply on its database to end.
	ReasonApplyQueued      = "ApplyQueued"
	ReasonApplied          = "Applied"
	ReasonAlreadyApplied   = "AlreadyApplied"
	ReasonApplyFailed      = "ApplyFailed"
	ReasonSchemaDrifted    = "SchemaDrifted"
	ReasonLockBusy         = "LockBusy"
	ReasonDeadlineExceeded = "DeadlineExceeded"
	ReasonPreCheckFailed   = "PreCheckFailed"
	ReasonPreChecksPassed  = "PreChecksPassed"
	// ReasonPreChecksIncomplete: every check that could run passed, and
	// at least one could not be decided on this engine.
	ReasonPreChecksIncomplete = "PreChecksIncomplete"
	ReasonValidationFailed    = "ValidationFailed"
	ReasonRollingBack         = "RollingBack"
	ReasonRolledBack          = "RolledBack"
	// ReasonMaxDowntimeExceeded: the apply held its locks longer than
	// performanceThresholds.maxDowntime and was stopped.
	ReasonMaxDowntimeExceeded = "MaxDowntimeExceeded"
	// ReasonDataCorruption: a data integrity check found rows lost or
	// changed.
	ReasonDataCorruption = "DataCorruption"
	ReasonNotified       = "Notified"
	ReasonDeliveryFailed = "DeliveryFailed"
	// ReasonAwaitingSwitch: green is migrated and validated; the switch
	// waits for a switch-approved annotation.
	ReasonAwaitingSwitch = "AwaitingSwitch"
	ReasonSwitched       = "Switched"
	ReasonCloning        = "Cloning"
	ReasonSucceeded      = "Succeeded"
	ReasonDeleting       = "Deleting"
	// ReasonSQLRefused: a statement reaches outside the migration's own
	// database (roles, grants, files, other schemas) and the platform does
	// not allow that kind. Nothing was replayed or applied.
	ReasonSQLRefused = "SQLRefused"
	// ReasonNoDevDatabase: there is no dev database to plan on that is not
	// the target's own server.
	ReasonNoDevDatabase = "NoDevDatabase"
	// ReasonPolicyNotGranted: spec.policy asks for automatic approval, but
	// neither the platform nor a user allowed to approve granted it.
	ReasonPolicyNotGranted = "PolicyNotGranted"
)

// LabelTrackedSource marks a ConfigMap or Secret whose writers kube-shift
// records: its webhooks stamp created-by and modified-by on it as on a
// migration, and no one they name may approve a plan that reads it. The
// label is set when the object is created (its history before would be
// unknown) and cannot be removed; its value is not read.
const LabelTrackedSource = annotationPrefix + "tracked-source"

// Annotation keys. approved-by and created-by are stamped by the mutating
// webhook from the request's authenticated user; values a user writes there
// are overwritten.
const (
	annotationPrefix = "database.mohitnagaraj.in/"

	// AnnotationApprovedPlan holds the plan hash a reviewer approved.
	AnnotationApprovedPlan = annotationPrefix + "approved-plan"
	// AnnotationApprovedBy holds the user who set approved-plan.
	AnnotationApprovedBy = annotationPrefix + "approved-by"
	// AnnotationCreatedBy holds the user who created the object.
	AnnotationCreatedBy = annotationPrefix + "created-by"
	// AnnotationSwitchApproved holds the plan hash a reviewer lets a
	// blue-green migration switch to green for (same rules as
	// approved-plan).
	AnnotationSwitchApproved = annotationPrefix + "switch-approved"
	// AnnotationSwitchApprovedBy holds the user who set switch-approved.
	AnnotationSwitchApprovedBy = annotationPrefix + "switch-approved-by"
	// AnnotationRejected holds a reviewer's reason for refusing the plan.
	AnnotationRejected = annotationPrefix + "rejected"
	// AnnotationModifiedBy lists, as a JSON array, every user who created
	// or changed the spec (of a tracked source: its data): none of them
	// may approve the plan.
	AnnotationModifiedBy = annotationPrefix + "modified-by"
	// AnnotationPolicyGrantedBy holds the user allowed to approve who set
	// spec.policy as it is (approval: auto takes effect only so, or when
	// the platform allows it).
	AnnotationPolicyGrantedBy = annotationPrefix + "policy-granted-by"
	// AnnotationPolicyGranted holds the digest of the spec.policy that
	// user granted (see PolicyDigest): any later change to the policy by
	// someone else voids the grant.
	AnnotationPolicyGranted = annotationPrefix + "policy-granted"
)

// Modifiers reads the modified-by list in annotations. The list is JSON:
// a user name may hold any character, a comma included.
func Modifiers(annotations map[string]string) []string {
	var users []string
	_ = json.Unmarshal([]byte(annotations[AnnotationModifiedBy]), &users)
	return users
}

// Wrote reports whether user created the object these annotations are
// of, or is in its modified-by list: an author, who approves none of it.
func Wrote(annotations map[string]string, user string) bool {
	return annotations[AnnotationCreatedBy] == user || slices.Contains(Modifiers(annotations), user)
}

// PolicyDigest is "sha256:<hex>" over the approval rules of p, the value
// of the policy-granted annotation.
func PolicyDigest(p Policy) string {
	var b strings.Builder
	b.WriteString(string(p.Approval))
	b.WriteByte(0)
	b.WriteString(string(p.Destructive))
	for _, r := range p.Reviewers {
		b.WriteByte(0)
		b.WriteString(string(r.Kind))
		b.WriteByte(1)
		b.WriteString(r.Name)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Finalizer keeps a DatabaseMigration until no apply is in flight and its
// scratch resources are released. It never drops the target schema.
const Finalizer = annotationPrefix + "finalizer"

// DefaultPort is the port a database type listens on unless told otherwise.
func (t DatabaseType) DefaultPort() int32 {
	switch t {
	case DatabaseTypePostgreSQL:
		return 5432
	case DatabaseTypeMySQL, DatabaseTypeMariaDB:
		return 3306
	}
	return 0
}

// DefaultSSLMode is the sslMode a database type gets unless told otherwise.
func (t DatabaseType) DefaultSSLMode() SSLMode {
	if t == DatabaseTypeSQLite {
		return SSLModeDisable
	}
	return SSLModeRequire
}

// ThresholdsUnmeasurable says why performanceThresholds.maxCpuUsage and
// maxMemoryUsage are not checked: admission warns with it, and
// status.metrics notes it.
const ThresholdsUnmeasurable = "PostgreSQL, MySQL and MariaDB report no host CPU or memory use to a SQL client, and SQLite has no server"

// ReasonPlanConfigMapConflict: the ConfigMap a plan too large for status
// spills into (<name>-plan) exists and is not controlled by the migration.
// The controller neither adopts nor overwrites it; the user renames or
// deletes it.
const ReasonPlanConfigMapConflict = "PlanConfigMapConflict"

// Reasons of a migration bound to a target, and of a target's Ready
// condition.
const (
	// ReasonTargetNotFound: the DatabaseTarget or ClusterDatabaseTarget
	// spec.targetRef names does not exist (yet); the migration waits.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonTargetNotAllowed: the target does not admit the migration's
	// namespace, or the manager requires a targetRef and the migration
	// has an inline database.
	ReasonTargetNotAllowed = "TargetNotAllowed"
	// ReasonTargetNotReady: the target's last connection check failed;
	// the migration waits for it.
	ReasonTargetNotReady = "TargetNotReady"
	// ReasonTargetReachable: the operator reached the target's database
	// with its credentials.
	ReasonTargetReachable = "Reachable"
	// ReasonTargetUnreachable: the operator could not reach or log in to
	// the target's database.
	ReasonTargetUnreachable = "Unreachable"
	// ReasonTargetPrivileges: the target's user lacks privileges a
	// migration needs (create in the schema, own its tables).
	ReasonTargetPrivileges = "InsufficientPrivileges"
	// ReasonCAInvalid: the target's caSecret is missing, lacks its key,
	// holds no PEM certificate, or the connection (a url in the
	// connection Secret) does not verify the server with it.
	ReasonCAInvalid = "CAInvalid"
)
