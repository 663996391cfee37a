package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// +kubebuilder:webhook:path=/mutate-database-mohitnagaraj-in-v1alpha1-databasemigration,mutating=true,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=databasemigrations,verbs=create;update,versions=v1alpha1,name=mdatabasemigration-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent,reinvocationPolicy=Never

// Defaulter fills per-type defaults and stamps, from the request's
// authenticated user, who created the object, who changed its spec, who
// approved its plan, and who granted its approval policy.
type Defaulter struct {
	// Authorizer decides whether the user setting spec.policy may
	// approve, which is what grants approval: auto. Nil grants nothing.
	Authorizer Authorizer
	// Reader reads the set a child belongs to, and OperatorUser is the
	// manager's user: the approval the operator writes on a set's child
	// is stamped with the reviewer who approved the set's fleet.
	Reader       client.Reader
	OperatorUser string
}

var _ admission.Defaulter[*dbv1.DatabaseMigration] = &Defaulter{}

// Default mutates dbm in place.
func (d *Defaulter) Default(ctx context.Context, dbm *dbv1.DatabaseMigration) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return fmt.Errorf("defaulting needs the admission request: %w", err)
	}
	var old *dbv1.DatabaseMigration
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if old, err = decodeMigration(req.OldObject); err != nil {
			return fmt.Errorf("decoding the stored object: %w", err)
		}
	}
	return d.defaultMigration(ctx, req, dbm, old)
}

// defaultMigration defaults dbm, which req creates or changes from old
// (nil on create).
func (d *Defaulter) defaultMigration(ctx context.Context, req admission.Request, dbm, old *dbv1.DatabaseMigration) error {
	DefaultSpec(&dbm.Spec)
	StampIdentity(dbm, old, req.UserInfo.Username)
	if err := StampModifiedBy(dbm, old, req.UserInfo.Username); err != nil {
		return err
	}
	if d.Reader != nil && d.OperatorUser != "" && req.UserInfo.Username == d.OperatorUser && old != nil &&
		dbm.Annotations[dbv1.AnnotationApprovedPlan] != "" && dbm.Annotations[dbv1.AnnotationApprovedPlan] != old.Annotations[dbv1.AnnotationApprovedPlan] {
		if by := fleetApprover(ctx, d.Reader, dbm); by != "" {
			dbm.Annotations[dbv1.AnnotationApprovedBy] = by
		}
	}
	return d.stampPolicyGrant(ctx, dbm, old, req.UserInfo)
}

// stampPolicyGrant records who granted spec.policy when a request sets or
// changes it to approval: auto: the user, if allowed to approve this
// migration and none of its authors (four eyes, as for an approval: not
// its creator, not a user who wrote its spec before, and a request that
// changes nothing but the policy); nobody otherwise. An unchanged policy
// keeps its grant, whatever the request wrote in the annotations, unless
// the grantor itself changes the spec: its own change would run
// unreviewed.
func (d *Defaulter) stampPolicyGrant(ctx context.Context, dbm, old *dbv1.DatabaseMigration, user authnv1.UserInfo) error {
	ann := dbm.Annotations
	digest := dbv1.PolicyDigest(dbm.Spec.Policy)
	if old != nil && dbv1.PolicyDigest(old.Spec.Policy) == digest {
		grantor := old.Annotations[dbv1.AnnotationPolicyGrantedBy]
		keep := grantor != "" && (grantor != user.Username || equality.Semantic.DeepEqual(old.Spec, dbm.Spec))
		for _, key := range []string{dbv1.AnnotationPolicyGrantedBy, dbv1.AnnotationPolicyGranted} {
			setOrDelete(ann, key, old.Annotations[key], keep && old.Annotations[key] != "")
		}
		return nil
	}
	delete(ann, dbv1.AnnotationPolicyGrantedBy)
	delete(ann, dbv1.AnnotationPolicyGranted)
	if dbm.Spec.Policy.Approval != dbv1.ApprovalAuto || d.Authorizer == nil || !grantsAsReviewer(dbm, old, user.Username) {
		return nil
	}
	allowed, err := d.Authorizer.CanApprove(ctx, user, dbm)
	if err != nil {
		return err
	}
	if allowed {
		ann[dbv1.AnnotationPolicyGrantedBy] = user.Username
		ann[dbv1.AnnotationPolicyGranted] = digest
	}
	return nil
}

// grantsAsReviewer reports whether username, setting dbm's policy (from
// old's; nil on create), does so as a reviewer would approve: it did not
// create the migration, did not write its spec before, and changes
// nothing but the policy now.
func grantsAsReviewer(dbm, old *dbv1.DatabaseMigration, username string) bool {
	if old == nil || dbv1.Wrote(old.Annotations, username) {
		return false
	}
	rest, oldRest := dbm.Spec, old.Spec
	rest.Policy, oldRest.Policy = dbv1.Policy{}, dbv1.Policy{}
	return equality.Semantic.DeepEqual(rest, oldRest)
}

// maxModifiers bounds a modified-by list. An object that many users have
// changed refuses a change by another: dropping the oldest names instead
// would let a user with enough identities clear its own.
const maxModifiers = 50

// StampModifiedBy adds the user to modified-by when the request creates
// the object or changes its spec, and otherwise keeps the stored list,
// whatever the request wrote there: none of these users may approve.
func StampModifiedBy(dbm, old *dbv1.DatabaseMigration, username string) error {
	if dbm.Annotations == nil {
		dbm.Annotations = map[string]string{}
	}
	var oldAnn map[string]string
	if old != nil {
		oldAnn = old.Annotations
	}
	return stampModifier(dbm.Annotations, oldAnn, old == nil || !equality.Semantic.DeepEqual(old.Spec, dbm.Spec), username)
}

// stampModifier writes into ann the modified-by list of oldAnn (the
// stored object's annotations, nil on create), with username added when
// changed says the request changes what the list records.
func stampModifier(ann, oldAnn map[string]string, changed bool, username string) error {
	users := dbv1.Modifiers(oldAnn)
	if changed && !slices.Contains(users, username) {
		if len(users) >= maxModifiers {
			return fmt.Errorf("%d users have changed this object already, the most %s records: make a new object for further changes", maxModifiers, dbv1.AnnotationModifiedBy)
		}
		users = append(users, username)
	}
	encoded, _ := json.Marshal(users) // a list of strings always encodes
	setOrDelete(ann, dbv1.AnnotationModifiedBy, string(encoded), len(users) > 0)
	return nil
}

// DefaultSpec fills what the CRD schema cannot default on its own because it
// depends on the database type, and trims stray whitespace from names.
func DefaultSpec(spec *dbv1.DatabaseMigrationSpec) {
	if db := spec.Database; db != nil {
		if db.Port == 0 {
			db.Port = db.Type.DefaultPort()
		}
		if db.SSLMode == "" {
			db.SSLMode = db.Type.DefaultSSLMode()
		}
		db.Host = strings.TrimSpace(db.Host)
		db.ConnectionSecret = strings.TrimSpace(db.ConnectionSecret)
	}
	if ref := spec.TargetRef; ref != nil && ref.Kind == "" {
		ref.Kind = dbv1.KindDatabaseTarget
	}

	m := &spec.Migration
	if m.Strategy == "" {
		m.Strategy = dbv1.MigrationStrategyTransactional
	}
	if m.BatchSize == 0 {
		m.BatchSize = 1000
	}
	for i := range m.Scripts {
		s := &m.Scripts[i]
		s.Name = strings.TrimSpace(s.Name)
		s.Source = strings.TrimSpace(s.Source)
		for j := range s.DependsOn {
			s.DependsOn[j] = strings.TrimSpace(s.DependsOn[j])
		}
	}
	if m.DesiredSchema != nil && m.DesiredSchema.Format == "" {
		m.DesiredSchema.Format = dbv1.SchemaFormatSQL
	}

	if spec.Policy.Approval == "" {
		spec.Policy.Approval = dbv1.ApprovalRequired
	}
	if spec.Policy.Destructive == "" {
		spec.Policy.Destructive = dbv1.DestructiveBlock
	}
	for i := range spec.Policy.Reviewers {
		if spec.Policy.Reviewers[i].Kind == "" {
			spec.Policy.Reviewers[i].Kind = dbv1.SubjectUser
		}
	}
}

// StampIdentity sets created-by and approved-by from the authenticated user,
// whatever the request wrote there: created-by is the creator and stays so;
// approved-by is whoever last changed approved-plan, switch-approved-by
// whoever last changed switch-approved.
func StampIdentity(dbm, old *dbv1.DatabaseMigration, username string) {
	if dbm.Annotations == nil {
		dbm.Annotations = map[string]string{}
	}
	ann := dbm.Annotations
	if old == nil {
		ann[dbv1.AnnotationCreatedBy] = username
		for _, a := range approvalKeys {
			setOrDelete(ann, a.by, username, ann[a.key] != "")
		}
		return
	}

	oldAnn := old.Annotations
	setOrDelete(ann, dbv1.AnnotationCreatedBy, oldAnn[dbv1.AnnotationCreatedBy], oldAnn[dbv1.AnnotationCreatedBy] != "")
	for _, a := range approvalKeys {
		key, by := a.key, a.by
		hash := ann[key]
		switch {
		case hash == "":
			delete(ann, by)
		case hash != oldAnn[key]:
			ann[by] = username
		default:
			setOrDelete(ann, by, oldAnn[by], oldAnn[by] != "")
		}
	}
}

func setOrDelete(m map[string]string, key, value string, set bool) {
	if set {
		m[key] = value
		return
	}
	delete(m, key)
}
