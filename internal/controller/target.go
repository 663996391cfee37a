package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/database"
)

// resolveTarget builds the database target of a migration from its spec and
// connection Secret. A missing Secret or key is permanent until the Secret
// changes (which the reconciler watches); its content never reaches an error.
func resolveTarget(ctx context.Context, c client.Reader, dbm *dbv1.DatabaseMigration) (*database.Target, error) {
	cfg := dbm.Spec.Database
	var data map[string][]byte
	if cfg.ConnectionSecret != "" {
		secret := &corev1.Secret{}
		err := c.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: cfg.ConnectionSecret}, secret)
		switch {
		case apierrors.IsNotFound(err):
			return nil, Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("connection Secret %s/%s not found", dbm.Namespace, cfg.ConnectionSecret))
		case err != nil:
			return nil, fmt.Errorf("reading connection Secret %s/%s: %w", dbm.Namespace, cfg.ConnectionSecret, err)
		}
		data = secret.Data
	}
	t, err := database.FromConfig(databaseConfig(cfg), data)
	if err != nil {
		return nil, Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("connection Secret %s/%s: %w", dbm.Namespace, cfg.ConnectionSecret, err))
	}
	return t, nil
}

// resolveDevURL reads the dev database URL a migration names, if any.
func resolveDevURL(ctx context.Context, c client.Reader, dbm *dbv1.DatabaseMigration) (string, error) {
	if dbm.Spec.Planning == nil || dbm.Spec.Planning.DevDatabase == nil {
		return "", nil
	}
	ref := dbm.Spec.Planning.DevDatabase
	key := ref.Key
	if key == "" {
		key = database.SecretKeyURL
	}
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: dbm.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("dev database Secret %s/%s not found", dbm.Namespace, ref.Name))
		}
		return "", fmt.Errorf("reading dev database Secret %s/%s: %w", dbm.Namespace, ref.Name, err)
	}
	raw, ok := secret.Data[key]
	if !ok {
		return "", Permanent(dbv1.ReasonSecretInvalid, fmt.Errorf("dev database Secret %s/%s has no key %q", dbm.Namespace, ref.Name, key))
	}
	return string(raw), nil
}
