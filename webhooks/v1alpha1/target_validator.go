package v1alpha1

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// +kubebuilder:webhook:path=/validate-database-mohitnagaraj-in-v1alpha1-databasetarget,mutating=false,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=databasetargets,verbs=create;update,versions=v1alpha1,name=vdatabasetarget-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent
// +kubebuilder:webhook:path=/validate-database-mohitnagaraj-in-v1alpha1-clusterdatabasetarget,mutating=false,failurePolicy=fail,sideEffects=None,groups=database.mohitnagaraj.in,resources=clusterdatabasetargets,verbs=create;update,versions=v1alpha1,name=vclusterdatabasetarget-v1alpha1.kb.io,admissionReviewVersions=v1,timeoutSeconds=10,matchPolicy=Equivalent

// TargetValidator admits DatabaseTargets: a SQLite file must resolve
// under the manager's --sqlite-root (symlinks followed), and a caSecret
// needs an sslMode that verifies the server's certificate with it. A
// caSecret that is not there yet, or holds no certificate, is admitted
// with a warning: the Secret may come after the target (the target is not
// Ready until it does).
type TargetValidator struct {
	// SQLiteRoot is the directory SQLite files must resolve under; empty
	// refuses SQLite targets.
	SQLiteRoot string
	// Reader reads caSecrets for the warnings; nil gives none.
	Reader client.Reader
	// OperatorNamespace holds the Secrets of ClusterDatabaseTargets that
	// name no namespace.
	OperatorNamespace string
}

func (v *TargetValidator) ValidateCreate(ctx context.Context, t *dbv1.DatabaseTarget) (admission.Warnings, error) {
	return v.caWarnings(ctx, t.Namespace, &t.Spec), targetInvalid(dbv1.KindDatabaseTarget, t.Name, v.validate(&t.Spec))
}

func (v *TargetValidator) ValidateUpdate(ctx context.Context, _, t *dbv1.DatabaseTarget) (admission.Warnings, error) {
	return v.caWarnings(ctx, t.Namespace, &t.Spec), targetInvalid(dbv1.KindDatabaseTarget, t.Name, v.validate(&t.Spec))
}

func (v *TargetValidator) ValidateDelete(context.Context, *dbv1.DatabaseTarget) (admission.Warnings, error) {
	return nil, nil
}

func (v *TargetValidator) validate(spec *dbv1.DatabaseTargetSpec) field.ErrorList {
	errs := sqlitePathErrors(v.SQLiteRoot, spec.Connection(), field.NewPath("spec", "database"))
	return append(errs, caSecretErrors(spec, field.NewPath("spec"))...)
}

// withoutVerification says what each sslMode that checks no certificate
// does instead.
var withoutVerification = map[dbv1.SSLMode]string{
	dbv1.SSLModeDisable: "connects without TLS",
	dbv1.SSLModeAllow:   "may connect without TLS and checks no certificate",
	dbv1.SSLModePrefer:  "may connect without TLS and checks no certificate",
	dbv1.SSLModeRequire: "encrypts but checks no certificate",
}

// caSecretErrors refuses a caSecret that would change nothing: on a SQLite
// file, or with an sslMode that does not verify the server's certificate
// (the connection would trust whatever the server presents while the
// platform team believes it checked).
func caSecretErrors(spec *dbv1.DatabaseTargetSpec, path *field.Path) field.ErrorList {
	if spec.CASecret == nil {
		return nil
	}
	if spec.Type == dbv1.DatabaseTypeSQLite {
		return field.ErrorList{field.Forbidden(path.Child("caSecret"), "a SQLite file has no server certificate to verify")}
	}
	mode, shown := spec.SSLMode, string(spec.SSLMode)
	if mode == "" {
		mode, shown = dbv1.SSLModeRequire, "require (the default)"
	}
	does, ok := withoutVerification[mode]
	if !ok {
		return nil
	}
	return field.ErrorList{field.Invalid(path.Child("sslMode"), spec.SSLMode, fmt.Sprintf(
		"caSecret is set, but sslMode %s %s: set sslMode to verify-full (the server's certificate must chain to the CA and name spec.host) or verify-ca (it must chain to the CA)", shown, does))}
}

// caWarnings says what the reconciler will find wrong with the caSecret of
// a target whose Secrets are in namespace (empty: a ClusterDatabaseTarget),
// without quoting the Secret.
func (v *TargetValidator) caWarnings(ctx context.Context, namespace string, spec *dbv1.DatabaseTargetSpec) admission.Warnings {
	ref := spec.CASecret
	if ref == nil || v.Reader == nil {
		return nil
	}
	if namespace == "" {
		namespace = v.OperatorNamespace
		if ref.Namespace != "" {
			namespace = ref.Namespace
		}
	}
	if namespace == "" {
		return nil
	}
	key := ref.Key
	if key == "" {
		key = dbv1.DefaultCAKey
	}
	name := namespace + "/" + ref.Name
	secret := &corev1.Secret{}
	err := v.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		return admission.Warnings{"spec.caSecret: Secret " + name + " does not exist (yet): the target is not Ready until it does"}
	case err != nil:
		return nil
	}
	pem, ok := secret.Data[key]
	if !ok {
		return admission.Warnings{fmt.Sprintf("spec.caSecret: Secret %s has no key %q: the target is not Ready until it has", name, key)}
	}
	if _, err := database.ParseCA(pem); err != nil {
		return admission.Warnings{fmt.Sprintf("spec.caSecret: key %q of Secret %s %v: the target is not Ready until it holds the CA's certificate", key, name, err)}
	}
	return nil
}

// ClusterTargetValidator admits ClusterDatabaseTargets: what
// TargetValidator checks, and an allowedNamespaces selector that parses.
type ClusterTargetValidator struct {
	TargetValidator
}

func (v *ClusterTargetValidator) ValidateCreate(ctx context.Context, t *dbv1.ClusterDatabaseTarget) (admission.Warnings, error) {
	return v.caWarnings(ctx, "", &t.Spec.DatabaseTargetSpec), targetInvalid(dbv1.KindClusterDatabaseTarget, t.Name, v.validateCluster(t))
}

func (v *ClusterTargetValidator) ValidateUpdate(ctx context.Context, _, t *dbv1.ClusterDatabaseTarget) (admission.Warnings, error) {
	return v.caWarnings(ctx, "", &t.Spec.DatabaseTargetSpec), targetInvalid(dbv1.KindClusterDatabaseTarget, t.Name, v.validateCluster(t))
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
