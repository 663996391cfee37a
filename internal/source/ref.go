package source

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Kind is the kind of object a source lives in.
type Kind string

const (
	// KindInline is SQL written in the spec itself.
	KindInline Kind = "inline"
	// KindConfigMap is a key of a ConfigMap (Data or BinaryData).
	KindConfigMap Kind = "ConfigMap"
	// KindSecret is a key of a Secret.
	KindSecret Kind = "Secret"
)

// scheme is how each kind is written in a source URI.
var scheme = map[Kind]string{
	KindConfigMap: "configmap://",
	KindSecret:    "secret://",
}

// Ref points at the bytes of a source. Name and Key are empty for an inline
// source; Key is empty when a Ref stands for a whole Secret (a connection or
// SMTP Secret, as References reports them).
type Ref struct {
	Kind Kind
	Name string
	Key  string
}

// ErrInvalidRef is wrapped by every error ParseRef returns.
var ErrInvalidRef = errors.New("invalid source")

const sourceForms = "configmap://<name>/<key>, secret://<name>/<key> or inline"

// ParseRef reads a source URI as the spec writes it. The name must be a
// valid object name and the key a valid ConfigMap/Secret key, so a typo is
// reported at admission rather than as an object that never appears.
func ParseRef(uri string) (Ref, error) {
	if uri == string(KindInline) {
		return Ref{Kind: KindInline}, nil
	}
	for kind, prefix := range scheme {
		rest, ok := strings.CutPrefix(uri, prefix)
		if !ok {
			continue
		}
		name, key, ok := strings.Cut(rest, "/")
		if !ok || key == "" {
			return Ref{}, refError(uri, "missing key: want %s<name>/<key>", prefix)
		}
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			return Ref{}, refError(uri, "%s name %q: %s", kind, name, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsConfigMapKey(key); len(msgs) > 0 {
			return Ref{}, refError(uri, "key %q: %s", key, strings.Join(msgs, "; "))
		}
		return Ref{Kind: kind, Name: name, Key: key}, nil
	}
	if before, _, ok := strings.Cut(uri, "://"); ok {
		return Ref{}, refError(uri, "unknown scheme %q: want %s", before, sourceForms)
	}
	return Ref{}, refError(uri, "want %s", sourceForms)
}

func refError(uri, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidRef, uri, fmt.Sprintf(format, args...))
}

// String writes the Ref back as a source URI; a whole-object Ref has no key.
func (r Ref) String() string {
	if r.Kind == KindInline {
		return string(KindInline)
	}
	s := scheme[r.Kind] + r.Name
	if r.Key != "" {
		s += "/" + r.Key
	}
	return s
}

// IsSecret says whether uri points into a Secret: the text it names must
// never be shown.
func IsSecret(uri string) bool {
	ref, err := ParseRef(uri)
	return err == nil && ref.Kind == KindSecret
}
