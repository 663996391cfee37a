package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/script"
)

// Desired is a declarative migration's target schema, loaded and verified.
type Desired struct {
	// Format is the schema's language; sql unless the spec says hcl.
	Format dbv1.SchemaFormat
	// Text is the schema exactly as loaded.
	Text string
	// Checksum is "sha256:<hex>" of Text.
	Checksum string
	// Exclude are the spec's globs of objects the diff leaves alone.
	Exclude []string
	// Sensitive is true when the schema came from a Secret (see
	// script.Script's Sensitive).
	Sensitive bool
}

// Loader reads a migration's sources from the API server. Sources live in
// the migration's own namespace; nothing else is read.
type Loader struct {
	reader client.Reader
}

// NewLoader returns a Loader reading through r, typically the manager's
// cached client (ConfigMaps and Secrets must then be watched) or its
// APIReader.
func NewLoader(r client.Reader) *Loader {
	return &Loader{reader: r}
}

// LoadScripts returns the migration's scripts with their SQL, checksums
// verified, in execution order. Every script is tried, so one error names
// every missing source at once (errors.Is and errors.As see each of them).
func (l *Loader) LoadScripts(ctx context.Context, dbm *dbv1.DatabaseMigration) ([]script.Script, error) {
	specs := dbm.Spec.Migration.Scripts
	scripts := make([]script.Script, 0, len(specs))
	var errs []error
	for _, spec := range specs {
		owner := fmt.Sprintf("script %q", spec.Name)
		data, err := l.load(ctx, dbm.Namespace, owner, spec.Source, spec.SQL, spec.Checksum)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		scripts = append(scripts, script.Script{
			Name:      spec.Name,
			Type:      script.Type(spec.Type),
			SQL:       string(data),
			Checksum:  script.Checksum(data),
			DependsOn: spec.DependsOn,
			Timeout:   duration(spec.Timeout),
			Sensitive: IsSecret(spec.Source),
		})
	}
	if len(errs) > 0 {
		if len(errs) == 1 {
			return nil, errs[0]
		}
		return nil, errors.Join(errs...)
	}
	return Order(scripts)
}

// LoadDesired returns the migration's desired schema, its checksum verified,
// or nil for a versioned migration.
func (l *Loader) LoadDesired(ctx context.Context, dbm *dbv1.DatabaseMigration) (*Desired, error) {
	spec := dbm.Spec.Migration.DesiredSchema
	if spec == nil {
		return nil, nil
	}
	data, err := l.load(ctx, dbm.Namespace, "desiredSchema", spec.Source, spec.SQL, spec.Checksum)
	if err != nil {
		return nil, err
	}
	format := spec.Format
	if format == "" {
		format = dbv1.SchemaFormatSQL
	}
	return &Desired{
		Format:    format,
		Text:      string(data),
		Checksum:  script.Checksum(data),
		Exclude:   dbm.Spec.Migration.Exclude,
		Sensitive: IsSecret(spec.Source),
	}, nil
}

// Read returns the bytes ref points at in namespace. An inline Ref has no
// bytes to read here: the caller holds them.
func (l *Loader) Read(ctx context.Context, namespace string, ref Ref) ([]byte, error) {
	return l.read(ctx, namespace, fmt.Sprintf("source %q", ref.String()), ref)
}

func (l *Loader) load(ctx context.Context, namespace, owner, uri, inline, checksum string) ([]byte, error) {
	ref, err := ParseRef(uri)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", owner, err)
	}
	data := []byte(inline)
	if ref.Kind != KindInline {
		if data, err = l.read(ctx, namespace, owner, ref); err != nil {
			return nil, err
		}
	}
	if checksum != "" {
		if actual := script.Checksum(data); actual != checksum {
			return nil, &ChecksumError{Owner: owner, Expected: checksum, Actual: actual}
		}
	}
	return data, nil
}

func (l *Loader) read(ctx context.Context, namespace, owner string, ref Ref) ([]byte, error) {
	key := client.ObjectKey{Namespace: namespace, Name: ref.Name}
	var (
		data []byte
		ok   bool
		err  error
	)
	switch ref.Kind {
	case KindConfigMap:
		cm := &corev1.ConfigMap{}
		if err = l.reader.Get(ctx, key, cm); err == nil {
			data, ok = configMapValue(cm, ref.Key)
		}
	case KindSecret:
		secret := &corev1.Secret{}
		if err = l.reader.Get(ctx, key, secret); err == nil {
			data, ok = secret.Data[ref.Key]
		}
	default:
		return nil, fmt.Errorf("%s: %w: %s has no object to read", owner, ErrInvalidRef, ref.Kind)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, &NotFoundError{Owner: owner, Ref: ref, Namespace: namespace}
	case err != nil:
		// API errors name the object, never its data.
		return nil, fmt.Errorf("%s: reading %s %s/%s: %w", owner, ref.Kind, namespace, ref.Name, err)
	case !ok:
		return nil, &NotFoundError{Owner: owner, Ref: ref, Namespace: namespace, MissingKey: true}
	}
	return data, nil
}

// configMapValue finds key in Data or BinaryData; the API server keeps a key
// from being in both.
func configMapValue(cm *corev1.ConfigMap, key string) ([]byte, bool) {
	if s, ok := cm.Data[key]; ok {
		return []byte(s), true
	}
	b, ok := cm.BinaryData[key]
	return b, ok
}

func duration(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}
