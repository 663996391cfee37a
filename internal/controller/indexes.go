package controller

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	dbv1 "github.com/mohit-nagaraj/kube-shift/api/v1alpha1"
	"github.com/mohit-nagaraj/kube-shift/internal/source"
)

// Field indexes from a DatabaseMigration to the ConfigMaps and Secrets it
// reads, so a change to one re-plans exactly the migrations that use it.
const (
	configMapIndex = ".spec.references.configmaps"
	secretIndex    = ".spec.references.secrets"
	// targetIndex maps a migration to its target's key (targetKey).
	targetIndex = ".spec.targetRef"
)

func referencedNames(kind source.Kind) client.IndexerFunc {
	return func(obj client.Object) []string {
		var names []string
		seen := map[string]bool{}
		for _, ref := range source.References(obj.(*dbv1.DatabaseMigration)) {
			if ref.Kind == kind && !seen[ref.Name] {
				seen[ref.Name] = true
				names = append(names, ref.Name)
			}
		}
		return names
	}
}

// migrationsReferencing maps a ConfigMap or Secret event to the migrations
// in its namespace that read it. A ConfigMap named like a plan ConfigMap
// maps to the migration whose full plan it would hold too, so deleting
// one that blocked that migration's plan lets it plan again.
func (r *DatabaseMigrationReconciler) migrationsReferencing(index string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var list dbv1.DatabaseMigrationList
		if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{index: obj.GetName()}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items)+1)
		for _, dbm := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&dbm)})
		}
		if owner, ok := strings.CutSuffix(obj.GetName(), planConfigMapSuffix); ok && index == configMapIndex && owner != "" {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: owner}})
		}
		return reqs
	}
}

// indexFields registers the reference indexes with the manager's cache.
func indexFields(ctx context.Context, indexer client.FieldIndexer) error {
	for index, kind := range map[string]source.Kind{configMapIndex: source.KindConfigMap, secretIndex: source.KindSecret} {
		if err := indexer.IndexField(ctx, &dbv1.DatabaseMigration{}, index, referencedNames(kind)); err != nil {
			return fmt.Errorf("indexing %s: %w", index, err)
		}
	}
	err := indexer.IndexField(ctx, &dbv1.DatabaseMigration{}, targetIndex, func(obj client.Object) []string {
		if key := targetKey(obj.(*dbv1.DatabaseMigration)); key != "" {
			return []string{key}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("indexing %s: %w", targetIndex, err)
	}
	return nil
}

// migrationsOnTarget maps a target event to the migrations that use it.
func (r *DatabaseMigrationReconciler) migrationsOnTarget(kind string) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		key := dbv1.TargetID{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}.Key()
		var list dbv1.DatabaseMigrationList
		if err := r.List(ctx, &list, client.MatchingFields{targetIndex: key}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, dbm := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&dbm)})
		}
		return reqs
	}
}
