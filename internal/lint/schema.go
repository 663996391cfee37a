package lint

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiextensionsvalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/mohit-nagaraj/kube-shift/config/crd"
)

// crdSchema is one served version of a CustomResourceDefinition as the API
// server holds it once the CRD is installed: its structural schema (for
// pruning and defaulting), its OpenAPI validator and its CEL rules.
type crdSchema struct {
	namespaced bool
	hasStatus  bool
	structural *structuralschema.Structural
	validator  apiextensionsvalidation.SchemaValidator
	rules      *cel.Validator
}

// schemas reads the CRDs kubectl-shift was built with, once.
var schemas = sync.OnceValues(func() (map[schema.GroupVersionKind]*crdSchema, error) {
	return loadSchemas(crd.Bases)
})

// loadSchemas reads every CustomResourceDefinition of fsys.
func loadSchemas(fsys fs.FS) (map[schema.GroupVersionKind]*crdSchema, error) {
	files, err := fs.Glob(fsys, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	out := map[schema.GroupVersionKind]*crdSchema{}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.UnmarshalStrict(data, &def); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range def.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			s, err := newCRDSchema(v)
			if err != nil {
				return nil, fmt.Errorf("%s, version %s: %w", f, v.Name, err)
			}
			s.namespaced = def.Spec.Scope == apiextensionsv1.NamespaceScoped
			out[schema.GroupVersionKind{Group: def.Spec.Group, Version: v.Name, Kind: def.Spec.Names.Kind}] = s
		}
	}
	return out, nil
}

func newCRDSchema(v apiextensionsv1.CustomResourceDefinitionVersion) (*crdSchema, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		return nil, err
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, err
	}
	validator, _, err := apiextensionsvalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, err
	}
	return &crdSchema{
		hasStatus:  v.Subresources != nil && v.Subresources.Status != nil,
		structural: structural,
		validator:  validator,
		rules:      cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// unknownFields are the fields of obj the schema does not declare, which
// the API server refuses under kubectl's default --validate=strict ("unknown
// field"), as paths; it prunes them from obj as the server would.
func (s *crdSchema) unknownFields(obj map[string]any) []string {
	pruned := structuralpruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	sort.Strings(pruned)
	return pruned
}

// applyDefaults sets the schema's defaults in obj, as the API server does
// when it decodes a custom resource, before any admission webhook.
func (s *crdSchema) applyDefaults(obj map[string]any) {
	structuraldefaulting.Default(obj, s.structural)
}

// validateCreate runs the checks the API server runs on a custom resource
// being created, after the mutating webhooks and before the validating
// ones: object metadata, the OpenAPI schema, list types, and the CEL rules
// (only once nothing blocking was found, as the server does). status is
// dropped first where the status subresource owns it.
func (s *crdSchema) validateCreate(ctx context.Context, obj map[string]any) field.ErrorList {
	if s.hasStatus {
		delete(obj, "status")
	}
	var errs field.ErrorList
	errs = append(errs, s.validateMeta(obj)...)
	errs = append(errs, apiextensionsvalidation.ValidateCustomResource(nil, obj, s.validator)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	if blocking(errs) {
		return append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	}
	ruleErrs, _ := s.rules.Validate(ctx, nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, ruleErrs...)
}

func (s *crdSchema) validateMeta(obj map[string]any) field.ErrorList {
	path := field.NewPath("metadata")
	raw, ok := obj["metadata"].(map[string]any)
	if !ok {
		raw = map[string]any{}
	}
	meta := &metav1.ObjectMeta{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, meta); err != nil {
		return field.ErrorList{field.Invalid(path, raw, err.Error())}
	}
	return metavalidation.ValidateObjectMeta(meta, s.namespaced, metavalidation.NameIsDNSSubdomain, path)
}

// blocking says whether errs hold an error that keeps the API server from
// evaluating CEL rules (which assume a well-formed object).
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}
