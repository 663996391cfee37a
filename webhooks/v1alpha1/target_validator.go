package v1alpha1

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-database-mohitnagaraj-in-v1alpha1-databasetarget,mutating=false,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=databasetargets,verbs=create;update,versions=v1alpha1,name=vdatabasetarget-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent
// +kubebuilder:webhook:path=/validate-database-mohitnagaraj-in-v1alpha1-clusterdatabasetarget,mutating=false,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=clusterdatabasetargets,verbs=create;update,versions=v1alpha1,name=vclusterdatabasetarget-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent

// TargetValidator admits DatabaseTargets: a SQLite file must resolve
// under the manager's --sqlite-root (symlinks followed).
type TargetValidator struct {
	// SQLiteRoot is the directory SQLite files must resolve under; empty
	// refuses SQLite targets.
	SQLiteRoot string
}

func (v *TargetValidator) ValidateCreate(_ context.Context, t *dbv1.DatabaseTarget) (admission.Warnings, error) {
	return nil, targetInvalid(dbv1.KindDatabaseTarget, t.Name, v.validate(&t.Spec))
}

func (v *TargetValidator) ValidateUpdate(_ context.Context, _, t *dbv1.DatabaseTarget) (admission.Warnings, error) {
	return nil, targetInvalid(dbv1.KindDatabaseTarget, t.Name, v.validate(&t.Spec))
}

func (v *TargetValidator) ValidateDelete(context.Context, *dbv1.DatabaseTarget) (admission.Warnings, error) {
	return nil, nil
}

func (v *TargetValidator) validate(spec *dbv1.DatabaseTargetSpec) field.ErrorList {
	return sqlitePathErrors(v.SQLiteRoot, spec.Connection(), field.NewPath("spec", "database"))
}

// ClusterTargetValidator admits ClusterDatabaseTargets: a SQLite file
// under the root, and an allowedNamespaces selector that parses.
type ClusterTargetValidator struct {
	TargetValidator
}

func (v *ClusterTargetValidator) ValidateCreate(_ context.Context, t *dbv1.ClusterDatabaseTarget) (admission.Warnings, error) {
	return nil, targetInvalid(dbv1.KindClusterDatabaseTarget, t.Name, v.validateCluster(t))
}

func (v *ClusterTargetValidator) ValidateUpdate(_ context.Context, _, t *dbv1.ClusterDatabaseTarget) (admission.Warnings, error) {
	return nil, targetInvalid(dbv1.KindClusterDatabaseTarget, t.Name, v.validateCluster(t))
}

func (v *ClusterTargetValidator) ValidateDelete(context.Context, *dbv1.ClusterDatabaseTarget) (admission.Warnings, error) {
	return nil, nil
}

func (v *ClusterTargetValidator) validateCluster(t *dbv1.ClusterDatabaseTarget) field.ErrorList {
	errs := v.validate(&t.Spec.DatabaseTargetSpec)
	if sel := t.Spec.AllowedNamespaces.Selector; sel != nil {
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "allowedNamespaces", "selector"), sel, err.Error()))
		}
	}
	return errs
}

// targetInvalid is errs as the API server's Invalid error for a target.
func targetInvalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: dbv1.GroupVersion.Group, Kind: kind}, name, errs)
}
