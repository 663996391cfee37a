package v1alpha1

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/metrics"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// +kubebuilder:webhook:path=/validate-database-mohitnagaraj-in-v1alpha1-databasemigration,mutating=false,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=databasemigrations,verbs=create;update,versions=v1alpha1,name=vdatabasemigration-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent

// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Validator lints DatabaseMigrations and enforces the approval rules.
type Validator struct {
	// Reader reads the ConfigMaps and Secrets scripts come from.
	Reader client.Reader
	// Authorizer decides whether a user holds the approve verb.
	Authorizer Authorizer
	// AllowAutoApproval says the platform lets spec.policy.approval: auto
	// take effect whoever set it (the manager's --allow-auto-approval).
	AllowAutoApproval bool
	// AllowSQL are the kinds of statements reaching outside a migration's
	// database that the platform lets through (the manager's --allow-sql);
	// every other such statement is refused (see sqlstatic.Gate).
	AllowSQL map[sqlstatic.Reach]bool
	// RequireTargetRef refuses an inline spec.database: migrations name a
	// DatabaseTarget or ClusterDatabaseTarget (--require-target-ref).
	RequireTargetRef bool
	// SQLiteRoot is the directory SQLite files must resolve under
	// (--sqlite-root); empty refuses SQLite files.
	SQLiteRoot string
	// OperatorNamespace holds the Secrets of ClusterDatabaseTargets that
	// name no namespace (the manager's namespace).
	OperatorNamespace string
	// RequireTrackedSources refuses an approval while a script or
	// desired-schema source is not a tracked source
	// (--require-tracked-sources; see dbv1.LabelTrackedSource).
	RequireTrackedSources bool
	// OperatorUser is the user the manager authenticates as: the only one
	// that creates, changes and approves a DatabaseMigrationSet's
	// children (see OperatorIdentity). Empty: no one does.
	OperatorUser string
}

var _ admission.Validator[*dbv1.DatabaseMigration] = &Validator{}

var groupKind = schema.GroupKind{Group: dbv1.GroupVersion.Group, Kind: "DatabaseMigration"}

// ValidateCreate lints a new migration. An approval at creation is refused:
// there is no plan yet.
func (v *Validator) ValidateCreate(ctx context.Context, dbm *dbv1.DatabaseMigration) (admission.Warnings, error) {
	errs, warnings := v.validateSpec(ctx, dbm)
	if owningSet(dbm) != nil {
		req, err := admission.RequestFromContext(ctx)
		if err != nil {
			return warnings, apierrors.NewInternalError(err)
		}
		childErrs, err := v.validateSetChild(ctx, nil, dbm, req.UserInfo)
		if err != nil {
			return warnings, apierrors.NewInternalError(err)
		}
		errs = append(errs, childErrs...)
	}
	for _, key := range []string{dbv1.AnnotationApprovedPlan, dbv1.AnnotationSwitchApproved} {
		if hash := dbm.Annotations[key]; hash != "" {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(key),
				"a new migration has no plan to approve yet: approve it once status.plan is set"))
		}
	}
	return warnings, invalid(dbm, errs)
}

// ValidateUpdate lints a changed spec and checks an approval the update
// makes. Updates of an object being deleted pass: only finalizers change then.
func (v *Validator) ValidateUpdate(ctx context.Context, old, dbm *dbv1.DatabaseMigration) (admission.Warnings, error) {
	if !dbm.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	var errs field.ErrorList
	var warnings admission.Warnings
	if !equality.Semantic.DeepEqual(old.Spec, dbm.Spec) {
		errs, warnings = v.validateSpec(ctx, dbm)
	}
	errs = append(errs, validateStamps(old, dbm)...)

	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return warnings, apierrors.NewInternalError(err)
	}
	if owningSet(dbm) != nil {
		// A set's child: the set's rules replace a reviewer's.
		childErrs, err := v.validateSetChild(ctx, old, dbm, req.UserInfo)
		if err != nil {
			return warnings, apierrors.NewInternalError(err)
		}
		return warnings, invalid(dbm, append(errs, childErrs...))
	}
	if v.OperatorUser != "" && dbm.Annotations[dbv1.AnnotationCreatedBy] == v.OperatorUser {
		// A set's child no longer owned by its set (its owner reference
		// removed, or the set deleted with its children orphaned): its
		// plan was the fleet's to approve, and the stamps of the set's
		// author are not on it, so no one approves it here.
		for _, key := range []string{dbv1.AnnotationApprovedPlan, dbv1.AnnotationSwitchApproved} {
			if newApproval(old, dbm, req.UserInfo, key) != nil {
				errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(key),
					"kube-shift made this migration for a DatabaseMigrationSet that no longer owns it: its plans are approved on a set only; delete it, or make a migration of your own"))
			}
		}
		return warnings, invalid(dbm, errs)
	}
	for _, key := range []string{dbv1.AnnotationApprovedPlan, dbv1.AnnotationSwitchApproved} {
		approvalErrs, err := v.validateApprovalBy(ctx, old, dbm, req.UserInfo, key)
		if err != nil {
			return warnings, apierrors.NewInternalError(err)
		}
		errs = append(errs, approvalErrs...)
	}
	return warnings, invalid(dbm, errs)
}

// validateApprovalBy checks the approval an update makes through the
// annotation key, if it makes one: the rules, then RBAC, always. A
// reviewer list written by the migration's author narrows who may
// approve; it never stands in for the approve verb.
func (v *Validator) validateApprovalBy(ctx context.Context, old, dbm *dbv1.DatabaseMigration, user authnv1.UserInfo, key string) (field.ErrorList, error) {
	a := newApproval(old, dbm, user, key)
	if a == nil {
		return nil, nil
	}
	// The target is read once: its policy tightens the migration's, and
	// its Secrets are objects the plan is read from.
	policy := dbm.Spec.Policy
	objects := migrationSources(dbm)
	if ref := dbm.Spec.TargetRef; ref != nil {
		target, targetPolicy, err := v.target(ctx, dbm)
		if err != nil {
			return nil, err
		}
		policy = targetPolicy.Tighten(policy)
		for _, o := range targetSources(ref.ID(dbm.Namespace), target, v.OperatorNamespace) {
			objects = addSource(objects, o)
		}
	}
	errs := validateApproval(dbm, policy, a)
	sourceErrs, err := sourceApproval{reader: v.Reader, require: v.RequireTrackedSources}.check(
		ctx, objects, a.user, field.NewPath("metadata", "annotations").Key(key))
	if err != nil {
		return nil, err
	}
	errs = append(errs, sourceErrs...)
	allowed, err := v.Authorizer.CanApprove(ctx, a.user, dbm)
	if err != nil {
		return nil, err
	}
	if !allowed {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(key), fmt.Sprintf(
			"%q may not approve plans: grant the %q verb on databasemigrations in namespace %q (spec.policy.reviewers narrows who may approve; it grants nothing)",
			a.user.Username, ApproveVerb, dbm.Namespace)))
	}
	return errs, nil
}

// ValidateDelete allows every delete: the finalizer protects what must be.
func (v *Validator) ValidateDelete(context.Context, *dbv1.DatabaseMigration) (admission.Warnings, error) {
	return nil, nil
}

// validateSpec reads the scripts admission can reach and runs every pure
// check on the spec, so the user sees all problems at once.
func (v *Validator) validateSpec(ctx context.Context, dbm *dbv1.DatabaseMigration) (field.ErrorList, admission.Warnings) {
	spec := &dbm.Spec
	specPath := field.NewPath("spec")
	migPath := specPath.Child("migration")
	scriptsPath := migPath.Child("scripts")

	var warnings admission.Warnings
	texts := make([]scriptText, len(spec.Migration.Scripts))
	for i, s := range spec.Migration.Scripts {
		text, warning := v.readSource(ctx, dbm.Namespace, s.Source, s.SQL)
		texts[i] = text
		if warning != "" {
			warnings = append(warnings, fmt.Sprintf("%s: %s", scriptsPath.Index(i).Child("source"), warning))
		}
	}

	db, errs := v.databaseOf(ctx, dbm)
	errs = append(errs, validateStrategy(spec.Migration.Strategy, migPath.Child("strategy"))...)
	errs = append(errs, validateReviewers(spec.Policy.Reviewers, specPath.Child("policy", "reviewers"))...)
	if spec.Policy.Approval == dbv1.ApprovalAuto && !v.AllowAutoApproval && dbm.Annotations[dbv1.AnnotationPolicyGrantedBy] == "" {
		warnings = append(warnings, "spec.policy.approval: auto takes effect only when the platform allows it (--allow-auto-approval) or a user allowed to approve sets the policy; until then every plan waits for a reviewer")
	}
	errs = append(errs, validateScriptNames(spec.Migration.Scripts, scriptsPath)...)
	errs = append(errs, validateAppliedScripts(dbm.Status, spec.Migration.Scripts, texts, scriptsPath)...)
	if db != nil {
		// What depends on the engine is checked once the database is known.
		if spec.Migration.Strategy == dbv1.MigrationStrategyBlueGreen && db.Type == dbv1.DatabaseTypeSQLite {
			errs = append(errs, field.Invalid(migPath.Child("strategy"), spec.Migration.Strategy,
				"blue-green copies the database on its server: PostgreSQL, MySQL and MariaDB only (SQLite has no server; use transactional)"))
		}
		gate := gateFor(*db, v.AllowSQL)
		errs = append(errs, validateScriptContents(db.Type, spec.Migration.Scripts, texts, spec.Policy, gate, scriptsPath)...)
		if d := spec.Migration.DesiredSchema; d != nil {
			text, warning := v.readSource(ctx, dbm.Namespace, d.Source, d.SQL)
			if warning != "" {
				warnings = append(warnings, fmt.Sprintf("%s: %s", migPath.Child("desiredSchema", "source"), warning))
			}
			errs = append(errs, validateDesiredSchema(db.Type, d, text, gate, migPath.Child("desiredSchema"))...)
		}
	}
	warnings = append(warnings, sourceApproval{reader: v.Reader, require: v.RequireTrackedSources}.untrackedWarnings(ctx, dbm)...)
	for _, f := range notActedOn(spec) {
		warnings = append(warnings, fmt.Sprintf("%s is accepted but not acted on yet by this version of kube-shift", f))
	}
	warnings = append(warnings, unmeasurable(spec)...)
	return errs, warnings
}

// readSource returns a script's SQL: inline from the spec, or read from its
// ConfigMap or Secret. One that does not exist yet is a warning, not an
// error, so `kubectl apply -f dir/` works in any order; the reconciler
// waits for it.
func (v *Validator) readSource(ctx context.Context, namespace, uri, inline string) (scriptText, string) {
	ref, err := source.ParseRef(uri)
	if err != nil {
		return scriptText{}, "" // reported by the pure checks
	}
	if ref.Kind == source.KindInline {
		return scriptText{sql: inline, known: true}, ""
	}
	data, err := source.NewLoader(v.Reader).Read(ctx, namespace, ref)
	switch {
	case errors.Is(err, source.ErrNotFound):
		return scriptText{}, err.Error() + " yet; the migration waits for it and is linted when planned"
	case err != nil:
		return scriptText{}, err.Error() + "; it is linted when planned"
	}
	return scriptText{sql: string(data), known: true}, ""
}

// validateStamps refuses edits of created-by and approved-by that the
// mutating webhook did not make: they are the audit trail of who did what.
func validateStamps(old, dbm *dbv1.DatabaseMigration) field.ErrorList {
	path := field.NewPath("metadata", "annotations")
	var errs field.ErrorList
	if old.Annotations[dbv1.AnnotationCreatedBy] != dbm.Annotations[dbv1.AnnotationCreatedBy] {
		errs = append(errs, field.Forbidden(path.Key(dbv1.AnnotationCreatedBy), "is set by kube-shift from the creator's identity and cannot be edited"))
	}
	for _, a := range approvalKeys {
		key, by := a.key, a.by
		changed := old.Annotations[key] != dbm.Annotations[key]
		if !changed && old.Annotations[by] != dbm.Annotations[by] {
			errs = append(errs, field.Forbidden(path.Key(by), "is set by kube-shift from the approver's identity and cannot be edited"))
		}
	}
	return errs
}

func invalid(dbm *dbv1.DatabaseMigration, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	metrics.WebhookDenials.WithLabelValues(denialReason(errs)).Inc()
	return apierrors.NewInvalid(groupKind, dbm.Name, errs)
}

// denialReason sums up a denial for the metric: an approval refused, a
// destructive statement, or any other invalid spec.
func denialReason(errs field.ErrorList) string {
	for _, e := range errs {
		if strings.Contains(e.Field, dbv1.AnnotationApprovedPlan) {
			return "approval"
		}
	}
	for _, e := range errs {
		if strings.Contains(e.Detail, "destructive statements are refused") {
			return "destructive"
		}
	}
	return "invalid"
}
