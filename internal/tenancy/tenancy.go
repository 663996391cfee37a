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
