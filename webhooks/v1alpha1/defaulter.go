package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// +kubebuilder:webhook:path=/mutate-database-mohitnagaraj-in-v1alpha1-databasemigration,mutating=true,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=databasemigrations,verbs=create;update,versions=v1alpha1,name=mdatabasemigration-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent,reinvocationPolicy=Never

// Defaulter fills per-type defaults and stamps, from the request's
// authenticated user, who created the object and who approved its plan.
type Defaulter struct{}

var _ admission.Defaulter[*dbv1.DatabaseMigration] = &Defaulter{}

// Default mutates dbm in place.
func (d *Defaulter) Default(ctx context.Context, dbm *dbv1.DatabaseMigration) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return fmt.Errorf("defaulting needs the admission request: %w", err)
	}
	var old *dbv1.DatabaseMigration
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		old = &dbv1.DatabaseMigration{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return fmt.Errorf("decoding the stored object: %w", err)
		}
	}
	DefaultSpec(&dbm.Spec)
	StampIdentity(dbm, old, req.UserInfo.Username)
	return nil
}

// DefaultSpec fills what the CRD schema cannot default on its own because it
// depends on the database type, and trims stray whitespace from names.
func DefaultSpec(spec *dbv1.DatabaseMigrationSpec) {
	db := &spec.Database
	if db.Port == 0 {
		db.Port = db.Type.DefaultPort()
	}
	if db.SSLMode == "" {
		db.SSLMode = db.Type.DefaultSSLMode()
	}
	db.Host = strings.TrimSpace(db.Host)
	db.ConnectionSecret = strings.TrimSpace(db.ConnectionSecret)

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
		for key, by := range approvalKeys {
			setOrDelete(ann, by, username, ann[key] != "")
		}
		return
	}

	oldAnn := old.Annotations
	setOrDelete(ann, dbv1.AnnotationCreatedBy, oldAnn[dbv1.AnnotationCreatedBy], oldAnn[dbv1.AnnotationCreatedBy] != "")
	for key, by := range approvalKeys {
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
