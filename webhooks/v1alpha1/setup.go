package v1alpha1

import (
	ctrl "sigs.k8s.io/controller-runtime"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// SetupWithManager registers the defaulting and validating webhooks with the
// manager's webhook server. The validator reads sources with the API reader,
// not the cache, so a ConfigMap created a moment ago is seen.
func SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &dbv1.DatabaseMigration{}).
		WithDefaulter(&Defaulter{}).
		WithValidator(&Validator{
			Reader:     mgr.GetAPIReader(),
			Authorizer: SubjectAccessReviewer{Client: mgr.GetClient()},
		}).
		Complete()
}
