package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/tenancy"
)

// binding is what a migration runs against: its database (inline, or its
// target's), the namespace that database's Secrets live in, and the
// policy its target adds.
type binding struct {
	config dbv1.DatabaseConfig
	// secretNamespace holds the connection and dev database Secrets.
	secretNamespace string
	devDatabase     *dbv1.SecretKeyRef
	// policy is the target's policy; nil for an inline database.
	policy *dbv1.TargetPolicy
	// target is the target; nil for an inline database. maxConnections
	// is its connection limit.
	target         *dbv1.TargetID
	maxConnections int
	// schema is the target's PostgreSQL schema; empty: the URL's.
	schema string
	// caSecret holds the authorities the target's server certificate must
	// chain to, in caNamespace; nil for the system's.
	caSecret    *dbv1.CASecretRef
	caNamespace string
}

// Errors binding a migration to its target.
var (
	// ErrTargetNotFound: the target a migration names does not exist
	// (yet): the migration waits for it.
	ErrTargetNotFound = errors.New("target not found")
	// ErrTargetNotAllowed: the ClusterDatabaseTarget does not admit the
	// migration's namespace.
	ErrTargetNotAllowed = errors.New("target does not admit this namespace")
	// ErrTargetNotReady: the target's last connection check failed: the
	// migration waits for it.
	ErrTargetNotReady = errors.New("target not ready")
	// ErrInlineDatabase: an inline spec.database while the manager
	// requires a targetRef.
	ErrInlineDatabase = errors.New("inline databases are not allowed")
)

// Targets resolves what a migration runs against. OperatorNamespace holds
// the Secrets of ClusterDatabaseTargets that name no namespace;
// RequireTargetRef refuses an inline spec.database.
type Targets struct {
	Reader            client.Reader
	OperatorNamespace string
	RequireTargetRef  bool
	// SQLiteRoot is the directory SQLite database files must resolve
	// under (--sqlite-root); empty refuses SQLite files.
	SQLiteRoot string

	// limits are the targets' connection limits, by targetKey.
	mu     sync.Mutex
	limits map[string]*database.ConnLimit
}

// DefaultMaxConnections is a target's connection limit when its spec sets
// none.
const DefaultMaxConnections = 4

// limit is the connection limit every migration on the target shares; a
// changed maxConnections starts a new one (connections open under the old
// one count there until they close).
func (t *Targets) limit(key string, n int) *database.ConnLimit {
	if n <= 0 {
		n = DefaultMaxConnections
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.limits[key]; ok && l.Max() == n {
		return l
	}
	if t.limits == nil {
		t.limits = map[string]*database.ConnLimit{}
	}
	l := database.NewConnLimit(n)
	t.limits[key] = l
	return l
}

// open is the database target of a binding, under its target's
// connection limit.
func (t *Targets) open(ctx context.Context, b *binding) (*database.Target, error) {
	if b.config.Type == dbv1.DatabaseTypeSQLite && t.SQLiteRoot == "" {
		return nil, Permanent(dbv1.ReasonTargetNotAllowed, fmt.Errorf("%w: SQLite files are refused: the manager runs without --sqlite-root", database.ErrSQLitePathOutsideRoot))
	}
	target, err := resolveTarget(ctx, t.Reader, b, t.SQLiteRoot)
	if err != nil || b.target == nil {
		return target, err
	}
	target.Limit = t.limit(b.target.Key(), b.maxConnections)
	return target, nil
}

// bind resolves dbm's database: inline, or through its targetRef, which
// must exist, admit dbm's namespace and be ready.
func (t *Targets) bind(ctx context.Context, dbm *dbv1.DatabaseMigration) (*binding, error) {
	ref := dbm.Spec.TargetRef
	if ref == nil {
		if dbm.Spec.Database == nil {
			return nil, Permanent(dbv1.ReasonPlanFailed, errors.New("the migration names neither spec.database nor spec.targetRef"))
		}
		if t.RequireTargetRef {
			return nil, Permanent(dbv1.ReasonTargetNotAllowed, fmt.Errorf("%w: the manager runs with --require-target-ref; name a DatabaseTarget in spec.targetRef", ErrInlineDatabase))
		}
		return &binding{config: *dbm.Spec.Database, secretNamespace: dbm.Namespace, devDatabase: devDatabaseOf(dbm)}, nil
	}
	var (
		spec   *dbv1.DatabaseTargetSpec
		status dbv1.DatabaseTargetStatus
		gen    int64
		id     = ref.ID(dbm.Namespace)
	)
	switch id.Kind {
	case dbv1.KindClusterDatabaseTarget:
		var cdt dbv1.ClusterDatabaseTarget
		if err := t.get(ctx, id, &cdt); err != nil {
			return nil, err
		}
		admitted, err := tenancy.Admits(ctx, t.Reader, &cdt, dbm.Namespace)
		if err != nil {
			return nil, Permanent(dbv1.ReasonTargetNotAllowed, err)
		}
		if !admitted {
			return nil, fmt.Errorf("%w: %s does not list namespace %s in its allowedNamespaces", ErrTargetNotAllowed, id, dbm.Namespace)
		}
		spec, status, gen = &cdt.Spec.DatabaseTargetSpec, cdt.Status, cdt.Generation
	default:
		var dt dbv1.DatabaseTarget
		if err := t.get(ctx, id, &dt); err != nil {
			return nil, err
		}
		spec, status, gen = &dt.Spec, dt.Status, dt.Generation
	}
	if ready := meta.FindStatusCondition(status.Conditions, dbv1.ConditionReady); ready != nil && ready.Status == metav1.ConditionFalse && ready.ObservedGeneration == gen {
		return nil, fmt.Errorf("%w: %s: %s", ErrTargetNotReady, id, ready.Message)
	}
	return t.targetBinding(id, spec), nil
}

// targetBinding is what the target id with spec gives a migration on it,
// and the target reconciler's check: a DatabaseTarget's Secrets are in
// its own namespace, a ClusterDatabaseTarget's in the operator's unless
// its reference names another.
func (t *Targets) targetBinding(id dbv1.TargetID, spec *dbv1.DatabaseTargetSpec) *binding {
	b := &binding{
		target: &id, config: spec.Connection(), policy: spec.Policy, maxConnections: int(spec.MaxConnections),
		schema: spec.Schema, caSecret: spec.CASecret,
	}
	b.secretNamespace, b.caNamespace = spec.SecretNamespaces(id, t.OperatorNamespace)
	if spec.Planning != nil {
		b.devDatabase = spec.Planning.DevDatabase
	}
	return b
}

// get reads a target; a missing one is ErrTargetNotFound.
func (t *Targets) get(ctx context.Context, id dbv1.TargetID, obj client.Object) error {
	err := t.Reader.Get(ctx, client.ObjectKey{Namespace: id.Namespace, Name: id.Name}, obj)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: %s", ErrTargetNotFound, id)
	}
	return err
}

// devDatabaseOf is the dev database an inline migration names.
func devDatabaseOf(dbm *dbv1.DatabaseMigration) *dbv1.SecretKeyRef {
	if dbm.Spec.Planning == nil {
		return nil
	}
	return dbm.Spec.Planning.DevDatabase
}

// resolveTarget builds the database target of a binding from its
// connection Secret and its CA Secret, a SQLite file confined to
// sqliteRoot. A missing Secret or key is permanent until the Secret
// changes (which the reconcilers see: a migration's watch, a target's
// periodic check); its content never reaches an error.
func resolveTarget(ctx context.Context, c client.Reader, b *binding, sqliteRoot string) (*database.Target, error) {
	cfg := b.config
	var data map[string][]byte
	if cfg.ConnectionSecret != "" {
		secret := &corev1.Secret{}
		err := c.Get(ctx, client.ObjectKey{Namespace: b.secretNamespace, Name: cfg.ConnectionSecret}, secret)
		switch {
		case apierrors.IsNotFound(err):
			return nil, Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("connection Secret %s/%s not found", b.secretNamespace, cfg.ConnectionSecret))
		case err != nil:
			return nil, fmt.Errorf("reading connection Secret %s/%s: %w", b.secretNamespace, cfg.ConnectionSecret, err)
		}
		data = secret.Data
	}
	config := databaseConfig(cfg)
	config.SQLiteRoot = sqliteRoot
	config.Schema = b.schema
	ca, err := readCA(ctx, c, b)
	if err != nil {
		return nil, err
	}
	config.CA = ca
	t, err := database.FromConfig(config, data)
	switch {
	case errors.Is(err, database.ErrSQLitePathOutsideRoot):
		return nil, err
	case errors.Is(err, database.ErrCAInvalid), errors.Is(err, database.ErrCAUnused):
		return nil, Permanent(dbv1.ReasonCAInvalid, fmt.Errorf("CA Secret %s/%s key %q: %w", b.caNamespace, b.caSecret.Name, caKey(b.caSecret), err))
	case err != nil:
		return nil, Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("connection Secret %s/%s: %w", b.secretNamespace, cfg.ConnectionSecret, err))
	}
	// A target's Secret url is held to the target's server and database
	// by FromConfig: a target always names its host (the API requires it).
	return t, nil
}

// readCA reads the PEM certificates a binding's caSecret names; nil when
// it names none. A missing Secret or key is permanent until the Secret
// changes; its content never reaches an error.
func readCA(ctx context.Context, c client.Reader, b *binding) ([]byte, error) {
	ref := b.caSecret
	if ref == nil {
		return nil, nil
	}
	secret := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: b.caNamespace, Name: ref.Name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		return nil, Permanent(dbv1.ReasonCAInvalid, fmt.Errorf("CA Secret %s/%s not found", b.caNamespace, ref.Name))
	case err != nil:
		return nil, fmt.Errorf("reading CA Secret %s/%s: %w", b.caNamespace, ref.Name, err)
	}
	pem, ok := secret.Data[caKey(ref)]
	if !ok {
		return nil, Permanent(dbv1.ReasonCAInvalid, fmt.Errorf("CA Secret %s/%s has no key %q", b.caNamespace, ref.Name, caKey(ref)))
	}
	return pem, nil
}

// caKey is the key of ref holding the certificates.
func caKey(ref *dbv1.CASecretRef) string {
	if ref.Key == "" {
		return dbv1.DefaultCAKey
	}
	return ref.Key
}

// resolveDevURL reads the dev database URL a binding names, if any.
func resolveDevURL(ctx context.Context, c client.Reader, b *binding) (string, error) {
	ref := b.devDatabase
	if ref == nil {
		return "", nil
	}
	key := ref.Key
	if key == "" {
		key = database.SecretKeyURL
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: b.secretNamespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("dev database Secret %s/%s not found", b.secretNamespace, ref.Name))
		}
		return "", fmt.Errorf("reading dev database Secret %s/%s: %w", b.secretNamespace, ref.Name, err)
	}
	raw, ok := secret.Data[key]
	if !ok {
		return "", Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("dev database Secret %s/%s has no key %q", b.secretNamespace, ref.Name, key))
	}
	return string(raw), nil
}

// policyOf is the policy dbm runs under: its own, tightened by its
// target's.
func (r *DatabaseMigrationReconciler) policyOf(ctx context.Context, dbm *dbv1.DatabaseMigration) (dbv1.Policy, error) {
	if dbm.Spec.TargetRef == nil || r.Targets == nil {
		return dbm.Spec.Policy, nil
	}
	b, err := r.Targets.bind(ctx, dbm)
	if err != nil {
		return dbv1.Policy{}, err
	}
	return b.policy.Tighten(dbm.Spec.Policy), nil
}

// targetKey names what a migration's target is for the indexes, locks
// and concurrency limits: "Kind/namespace/name" for a target, "" for an
// inline database.
func targetKey(dbm *dbv1.DatabaseMigration) string {
	if ref := dbm.Spec.TargetRef; ref != nil {
		return ref.ID(dbm.Namespace).Key()
	}
	return ""
}
