// Package tenancy answers which namespaces may use which database
// targets, for the webhook and the reconciler alike.
package tenancy

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
)

// Admits reports whether the ClusterDatabaseTarget admits namespace: it
// is listed by name, or its labels match the selector. The Namespace is
// read only when the selector decides.
func Admits(ctx context.Context, c client.Reader, cdt *dbv1.ClusterDatabaseTarget, namespace string) (bool, error) {
	allowed := cdt.Spec.AllowedNamespaces
	if slices.Contains(allowed.Names, namespace) {
		return true, nil
	}
	if allowed.Selector == nil {
		return false, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(allowed.Selector)
	if err != nil {
		return false, fmt.Errorf("%s %s: spec.allowedNamespaces.selector: %w", dbv1.KindClusterDatabaseTarget, cdt.Name, err)
	}
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, &ns); err != nil {
		return false, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	return selector.Matches(labels.Set(ns.Labels)), nil
}

// Target is a target a namespace may use, as it stands.
type Target struct {
	ID         dbv1.TargetID
	Spec       *dbv1.DatabaseTargetSpec
	Status     dbv1.DatabaseTargetStatus
	Generation int64
	// Labels are the target's labels, which sets select by.
	Labels map[string]string
}

// Usable lists the DatabaseTargets of namespace and the
// ClusterDatabaseTargets that admit it. A reader that may not list
// ClusterDatabaseTargets (a user's) still gets the namespace's own.
func Usable(ctx context.Context, c client.Reader, namespace string) ([]Target, error) {
	var dts dbv1.DatabaseTargetList
	if err := c.List(ctx, &dts, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing DatabaseTargets in %s: %w", namespace, err)
	}
	var out []Target
	for i := range dts.Items {
		t := &dts.Items[i]
		out = append(out, Target{ID: dbv1.TargetID{Kind: dbv1.KindDatabaseTarget, Namespace: namespace, Name: t.Name}, Spec: &t.Spec, Status: t.Status, Generation: t.Generation, Labels: t.Labels})
	}
	var cdts dbv1.ClusterDatabaseTargetList
	if err := c.List(ctx, &cdts); err != nil {
		return out, nil //nolint:nilerr // cluster targets are listed when the reader may list them
	}
	for i := range cdts.Items {
		t := &cdts.Items[i]
		if ok, err := Admits(ctx, c, t, namespace); err == nil && ok {
			out = append(out, Target{ID: dbv1.TargetID{Kind: dbv1.KindClusterDatabaseTarget, Name: t.Name}, Spec: &t.Spec.DatabaseTargetSpec, Status: t.Status, Generation: t.Generation, Labels: t.Labels})
		}
	}
	return out, nil
}
