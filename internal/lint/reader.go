package lint

import (
	"context"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// objectReader is the cluster as the input describes it: the validator
// reads ConfigMaps, Secrets and targets through it, and finds only what
// the same input holds. Something it does not find is, to the webhook,
// not created yet.
type objectReader struct {
	scheme *runtime.Scheme
	items  []client.Object
}

var _ client.Reader = &objectReader{}

// Get copies the stored object with obj's kind and key into obj.
func (r *objectReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	gvk, err := apiutil.GVKForObject(obj, r.scheme)
	if err != nil {
		return err
	}
	for _, item := range r.items {
		if r.kindOf(item) == gvk && item.GetNamespace() == key.Namespace && item.GetName() == key.Name {
			reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(item.DeepCopyObject()).Elem())
			return nil
		}
	}
	return apierrors.NewNotFound(resourceOf(gvk), key.Name)
}

// List fills list with the stored objects of its item kind, in the
// namespace asked for (all when none is).
func (r *objectReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	gvk, err := apiutil.GVKForObject(list, r.scheme)
	if err != nil {
		return err
	}
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	o := (&client.ListOptions{}).ApplyOptions(opts)
	var items []runtime.Object
	for _, item := range r.items {
		if r.kindOf(item) != gvk || (o.Namespace != "" && item.GetNamespace() != o.Namespace) {
			continue
		}
		if o.LabelSelector != nil && !o.LabelSelector.Matches(labels.Set(item.GetLabels())) {
			continue
		}
		items = append(items, item.DeepCopyObject())
	}
	return meta.SetList(list, items)
}

func (r *objectReader) kindOf(obj client.Object) schema.GroupVersionKind {
	gvk, err := apiutil.GVKForObject(obj, r.scheme)
	if err != nil {
		return schema.GroupVersionKind{}
	}
	return gvk
}

// resourceOf names a kind's resource for a NotFound error the way the API
// server would ("configmaps").
func resourceOf(gvk schema.GroupVersionKind) schema.GroupResource {
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	return plural.GroupResource()
}
