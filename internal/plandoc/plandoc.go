package plandoc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// The ConfigMap's keys: plan.json is the document (and what the digest
// covers); plan.sql is the forward statements as a file, for people.
const (
	KeyJSON = "plan.json"
	KeySQL  = "plan.sql"
)

// Document is the whole plan: its hash, every statement, the rollback,
// and the validation scripts the apply runs after it.
type Document struct {
	Hash        string                   `json:"hash"`
	Statements  []string                 `json:"statements"`
	Rollback    []string                 `json:"rollback"`
	Validations []dbv1.PlannedValidation `json:"validations,omitempty"`
}

// Encode returns the ConfigMap data holding doc and the digest of its
// plan.json value, for status.plan.configMapDigest.
func Encode(doc Document) (data map[string]string, digest string, err error) {
	full, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, "", err
	}
	return map[string]string{KeyJSON: string(full), KeySQL: renderSQL(doc.Statements)}, Digest(full), nil
}

// Digest is "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// renderSQL writes the forward statements as one SQL file.
func renderSQL(stmts []string) string {
	return strings.Join(stmts, ";\n\n") + ";\n"
}

// ErrUntrusted matches every error Verify returns: the ConfigMap does not
// hold the plan the controller wrote for the plan in status.
var ErrUntrusted = errors.New("the plan ConfigMap cannot be trusted")

// untrusted is a Verify failure; it names the ConfigMap and what is wrong,
// never its content.
type untrusted struct {
	configMap string
	why       string
}

func (e *untrusted) Error() string {
	return fmt.Sprintf("ConfigMap %s does not hold the plan the operator wrote: %s", e.configMap, e.why)
}

func (e *untrusted) Is(target error) bool { return target == ErrUntrusted }

// Verify returns the plan cm holds when it is the one the controller wrote
// for the plan whose hash and configMapDigest are in status: plan.json
// hashes to digest, names hash, and plan.sql (the file people read with
// kubectl) renders its statements.
// Otherwise it returns an error matching ErrUntrusted and no document: a
// forged plan is never shown.
func Verify(cm *corev1.ConfigMap, hash, digest string) (*Document, error) {
	fail := func(format string, args ...any) (*Document, error) {
		return nil, &untrusted{configMap: cm.Namespace + "/" + cm.Name, why: fmt.Sprintf(format, args...)}
	}
	if digest == "" {
		return fail("status.plan.configMapDigest is empty, so nothing vouches for it (an operator older than this plugin wrote it: let it re-plan)")
	}
	raw, ok := cm.Data[KeyJSON]
	if !ok {
		return fail("it has no %s", KeyJSON)
	}
	if got := Digest([]byte(raw)); got != digest {
		return fail("the sha256 of its %s is %s, status.plan.configMapDigest is %s: it was changed after the operator wrote it (or the operator is writing a new plan: try again)", KeyJSON, got, digest)
	}
	var doc Document
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return fail("its %s does not parse: %v", KeyJSON, err)
	}
	if doc.Hash != hash {
		return fail("its %s is of plan %s, status.plan.hash is %s", KeyJSON, doc.Hash, hash)
	}
	if cm.Data[KeySQL] != renderSQL(doc.Statements) || len(cm.BinaryData) > 0 {
		return fail("its %s is not the statements of its %s: it was changed after the operator wrote it", KeySQL, KeyJSON)
	}
	return &doc, nil
}
