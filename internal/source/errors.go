package source

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is wrapped by errors for a source object or key that does
	// not exist (yet). The reconciler waits for it rather than failing.
	ErrNotFound = errors.New("source not found")
	// ErrChecksumMismatch is wrapped by errors for a source whose bytes do
	// not match the checksum the spec pins. It stays wrong until the spec or
	// the source changes.
	ErrChecksumMismatch = errors.New("checksum mismatch")
)

// NotFoundError reports a missing ConfigMap or Secret, or a missing key in
// one that exists.
type NotFoundError struct {
	// Owner says what needed the source: `script "x"` or `desiredSchema`.
	Owner     string
	Ref       Ref
	Namespace string
	// MissingKey is true when the object exists but lacks Ref.Key.
	MissingKey bool
}

func (e *NotFoundError) Error() string {
	if e.MissingKey {
		return fmt.Sprintf("%s: %s %s/%s has no key %q", e.Owner, e.Ref.Kind, e.Namespace, e.Ref.Name, e.Ref.Key)
	}
	return fmt.Sprintf("%s: %s %s/%s not found", e.Owner, e.Ref.Kind, e.Namespace, e.Ref.Name)
}

func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ChecksumError reports a source whose bytes do not hash to the checksum the
// spec pins. Both checksums are hashes, never the content.
type ChecksumError struct {
	// Owner says what was checked: `script "x"` or `desiredSchema`.
	Owner    string
	Expected string
	Actual   string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: checksum mismatch: the spec expects %s but the content's checksum is %s", e.Owner, e.Expected, e.Actual)
}

func (e *ChecksumError) Is(target error) bool { return target == ErrChecksumMismatch }
