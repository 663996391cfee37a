package v1alpha1

import (
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/sqlstatic"
)

// Options are the platform's settings the webhooks enforce.
type Options struct {
	// AllowAutoApproval lets spec.policy.approval: auto take effect
	// whoever set it (the manager's --allow-auto-approval).
	AllowAutoApproval bool
	// AllowSQL are the kinds of statements reaching outside a migration's
	// database that admission lets through (the manager's --allow-sql).
	AllowSQL map[sqlstatic.Reach]bool
	// RequireTargetRef refuses an inline spec.database (the manager's
	// --require-target-ref).
	RequireTargetRef bool
	// SQLiteRoot is the directory SQLite files must resolve under (the
	// manager's --sqlite-root); empty refuses SQLite files.
	SQLiteRoot string
	// OperatorNamespace holds the Secrets of ClusterDatabaseTargets that
	// name no namespace (the manager's namespace).
	OperatorNamespace string
	// OperatorUser is the user the manager authenticates as
	// (OperatorIdentity): it alone approves a set's children.
	OperatorUser string
	// RequireTrackedSources refuses approvals while a script source is not
	// a tracked source (the manager's --require-tracked-sources).
	RequireTrackedSources bool
}

// SetupWithManager registers the defaulting and validating webhooks with the
// manager's webhook server. The validator reads sources with the API reader,
// not the cache, so a ConfigMap created a moment ago is seen.
func SetupWithManager(mgr ctrl.Manager, o Options) error {
	targets := TargetValidator{SQLiteRoot: o.SQLiteRoot, Reader: mgr.GetAPIReader(), OperatorNamespace: o.OperatorNamespace}
	if err := ctrl.NewWebhookManagedBy(mgr, &dbv1.DatabaseTarget{}).WithValidator(&targets).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &dbv1.ClusterDatabaseTarget{}).WithValidator(&ClusterTargetValidator{targets}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &dbv1.DatabaseMigrationSet{}).
		WithDefaulter(&SetDefaulter{}).
		WithValidator(&SetValidator{
			Reader: mgr.GetAPIReader(), Client: mgr.GetClient(),
			RequireTrackedSources: o.RequireTrackedSources, OperatorNamespace: o.OperatorNamespace,
		}).
		Complete(); err != nil {
		return err
	}
	// Every create of a migration passes these two: they decode each
	// review once (migrationReview), not as controller-runtime's do.
	authz := SubjectAccessReviewer{Client: mgr.GetClient()}
	server := mgr.GetWebhookServer()
	server.Register(mutateMigrationPath, &migrationReview{
		defaulter: &Defaulter{Authorizer: authz, Reader: mgr.GetAPIReader(), OperatorUser: o.OperatorUser},
	})
	server.Register(validateMigrationPath, &migrationReview{validator: &Validator{
		Reader:            mgr.GetAPIReader(),
		Authorizer:        authz,
		AllowAutoApproval: o.AllowAutoApproval,
		AllowSQL:          o.AllowSQL,
		RequireTargetRef:  o.RequireTargetRef,
		SQLiteRoot:        o.SQLiteRoot,
		OperatorUser:      o.OperatorUser,

		RequireTrackedSources: o.RequireTrackedSources,
		OperatorNamespace:     o.OperatorNamespace,
	}})
	// ConfigMaps and Secrets that carry the tracked-source label.
	server.Register(mutateSourcePath, &admission.Webhook{Handler: mutateSource})
	server.Register(validateSourcePath, &admission.Webhook{Handler: validateSource})
	return nil
}
