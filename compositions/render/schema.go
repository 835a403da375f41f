package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Names of the CEL object types that stand for the composite.
const (
	typePrefix       = "composite."
	specTypeName     = typePrefix + "spec"
	metadataTypeName = typePrefix + "metadata"
)

// parseSchema decodes an OpenAPI v3 schema and checks that it is one this
// package can type expressions with: structural, every node typed. Unknown
// keywords are errors, so that a misspelt "propertes" is not silently
// ignored.
func parseSchema(raw *runtime.RawExtension, path string) (*apiextv1.JSONSchemaProps, []error) {
	data, err := rawJSON(raw)
	if err != nil {
		return nil, []error{fieldErr(path, "%v", err)}
	}
	if len(data) == 0 || string(data) == "null" {
		return nil, []error{fieldErr(path, "a schema is required")}
	}
	s := &apiextv1.JSONSchemaProps{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, []error{fieldErr(path, "cannot parse the OpenAPI v3 schema: %v", err)}
	}
	var errs []error
	if s.Type != "object" {
		errs = append(errs, fieldErr(path+".type", "must be object, not %q", s.Type))
	}
	errs = append(errs, validateSchema(s, path)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// validateSchema checks one node of a schema and those below it.
func validateSchema(s *apiextv1.JSONSchemaProps, path string) []error {
	var errs []error
	switch s.Type {
	case "object", "array", "string", "integer", "number", "boolean":
	case "":
		if !s.XIntOrString && !preservesUnknown(s) {
			errs = append(errs, fieldErr(path+".type", "a type is required (object, array, string, integer, number or boolean)"))
		}
	default:
		errs = append(errs, fieldErr(path+".type", "unknown type %q: use object, array, string, integer, number or boolean", s.Type))
	}
	if len(s.Properties) > 0 && s.Type != "object" {
		errs = append(errs, fieldErr(path+".properties", "only an object has properties, not %q", s.Type))
	}
	if s.AdditionalProperties != nil && s.Type != "object" {
		errs = append(errs, fieldErr(path+".additionalProperties", "only an object has additionalProperties, not %q", s.Type))
	}
	if len(s.Properties) > 0 && s.AdditionalProperties != nil && (s.AdditionalProperties.Schema != nil || s.AdditionalProperties.Allows) {
		errs = append(errs, fieldErr(path, "properties and additionalProperties are mutually exclusive"))
	}
	if s.Items != nil && s.Type != "array" {
		errs = append(errs, fieldErr(path+".items", "only an array has items, not %q", s.Type))
	}
	if s.Type == "array" {
		switch {
		case s.Items == nil || (s.Items.Schema == nil && len(s.Items.JSONSchemas) == 0):
			errs = append(errs, fieldErr(path+".items", "an array needs an items schema"))
		case s.Items.Schema == nil:
			errs = append(errs, fieldErr(path+".items", "must be a single schema, not a list of schemas"))
		default:
			errs = append(errs, validateSchema(s.Items.Schema, path+".items")...)
		}
	}
	for _, name := range sortedKeys(s.Properties) {
		p := s.Properties[name]
		errs = append(errs, validateSchema(&p, path+".properties."+name)...)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		errs = append(errs, validateSchema(s.AdditionalProperties.Schema, path+".additionalProperties")...)
	}
	for _, req := range s.Required {
		if _, ok := s.Properties[req]; !ok && s.Type == "object" && !preservesUnknown(s) && s.AdditionalProperties == nil {
			errs = append(errs, fieldErr(path+".required", "%q is not a property", req))
		}
	}
	if s.Default != nil {
		var v any
		if err := utiljson.Unmarshal(s.Default.Raw, &v); err != nil {
			errs = append(errs, fieldErr(path+".default", "%v", err))
		} else if _, err := prepareValue(v, s, "default"); err != nil {
			errs = append(errs, fieldErr(path+".default", "%v", err))
		}
	}
	return errs
}

func preservesUnknown(s *apiextv1.JSONSchemaProps) bool {
	return s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields
}

// celType returns the CEL type of values of schema s, registering an object
// type named name (and those below it) with p for objects whose properties
// are known.
func (p *typeProvider) celType(s *apiextv1.JSONSchemaProps, name string) *types.Type {
	if s == nil || s.XIntOrString {
		return types.DynType
	}
	switch s.Type {
	case "object":
		switch {
		case len(s.Properties) > 0 && !preservesUnknown(s):
			fields := make(map[string]*types.Type, len(s.Properties))
			for _, prop := range sortedKeys(s.Properties) {
				ps := s.Properties[prop]
				fields[prop] = p.celType(&ps, name+"."+prop)
			}
			return p.declareObject(name, fields)
		case s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
			return types.NewMapType(types.StringType, p.celType(s.AdditionalProperties.Schema, name+".@value"))
		default:
			return types.NewMapType(types.StringType, types.DynType)
		}
	case "array":
		if s.Items == nil || s.Items.Schema == nil {
			return types.NewListType(types.DynType)
		}
		return types.NewListType(p.celType(s.Items.Schema, name+".@item"))
	case "string":
		return types.StringType
	case "integer":
		return types.IntType
	case "number":
		return types.DoubleType
	case "boolean":
		return types.BoolType
	default:
		return types.DynType
	}
}

// schemaAt returns the schema of the field at path below s, or false when
// s does not declare it. A nil schema, or one that keeps unknown fields,
// declares everything (with a nil schema).
func schemaAt(s *apiextv1.JSONSchemaProps, path []string) (*apiextv1.JSONSchemaProps, bool) {
	for _, seg := range path {
		if s == nil || s.XIntOrString {
			return nil, true
		}
		if p, ok := s.Properties[seg]; ok {
			s = &p
			continue
		}
		switch {
		case s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil:
			s = s.AdditionalProperties.Schema
		case s.AdditionalProperties != nil && s.AdditionalProperties.Allows, preservesUnknown(s):
			s = nil
		default:
			return nil, false
		}
	}
	return s, true
}

// fits reports whether a value of CEL type t may be written to a field of
// schema s.
func fits(s *apiextv1.JSONSchemaProps, t *types.Type) bool {
	if s == nil || s.XIntOrString || s.Type == "" {
		return true
	}
	switch t.Kind() {
	case types.DynKind, types.AnyKind:
		return true
	case types.OpaqueKind:
		if t.TypeName() == "optional_type" && len(t.Parameters()) == 1 {
			return fits(s, t.Parameters()[0])
		}
		return false
	}
	switch s.Type {
	case "string":
		return t.Kind() == types.StringKind || t.Kind() == types.TimestampKind || t.Kind() == types.DurationKind || t.Kind() == types.BytesKind
	case "integer":
		return t.Kind() == types.IntKind || t.Kind() == types.UintKind
	case "number":
		return t.Kind() == types.DoubleKind || t.Kind() == types.IntKind || t.Kind() == types.UintKind
	case "boolean":
		return t.Kind() == types.BoolKind
	case "array":
		if t.Kind() != types.ListKind {
			return false
		}
		if s.Items != nil && s.Items.Schema != nil && len(t.Parameters()) == 1 {
			return fits(s.Items.Schema, t.Parameters()[0])
		}
		return true
	case "object":
		return t.Kind() == types.MapKind || t.Kind() == types.StructKind
	}
	return true
}

// prepareValue checks a value of an instance against schema s, and returns
// a copy with the schema's defaults applied and numbers in the schema's
// types, as the API server would have stored it.
func prepareValue(v any, s *apiextv1.JSONSchemaProps, path string) (any, error) {
	if s == nil || v == nil || s.XIntOrString {
		return v, nil
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: must be an object, not %s", path, jsonKind(v))
		}
		out := make(map[string]any, len(m))
		for _, k := range sortedKeys(m) {
			fs, declared := schemaAt(s, []string{k})
			if !declared {
				return nil, fmt.Errorf("%s: unknown field %q", path, k)
			}
			pv, err := prepareValue(m[k], fs, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = pv
		}
		for _, k := range sortedKeys(s.Properties) {
			ps := s.Properties[k]
			if _, ok := out[k]; ok || ps.Default == nil {
				continue
			}
			var d any
			if err := utiljson.Unmarshal(ps.Default.Raw, &d); err != nil {
				return nil, fmt.Errorf("%s.%s: bad default: %w", path, k, err)
			}
			pv, err := prepareValue(d, &ps, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = pv
		}
		for _, k := range s.Required {
			if _, ok := out[k]; !ok {
				return nil, fmt.Errorf("%s.%s: required value", path, k)
			}
		}
		return out, nil
	case "array":
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: must be an array, not %s", path, jsonKind(v))
		}
		out := make([]any, len(l))
		for i, e := range l {
			var is *apiextv1.JSONSchemaProps
			if s.Items != nil {
				is = s.Items.Schema
			}
			pv, err := prepareValue(e, is, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = pv
		}
		return out, nil
	case "string":
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("%s: must be a string, not %s", path, jsonKind(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return nil, fmt.Errorf("%s: must be a boolean, not %s", path, jsonKind(v))
		}
	case "integer":
		switch n := v.(type) {
		case int64:
		case float64:
			if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
				return nil, fmt.Errorf("%s: must be an integer, not %v", path, n)
			}
			return int64(n), nil
		default:
			return nil, fmt.Errorf("%s: must be an integer, not %s", path, jsonKind(v))
		}
	case "number":
		switch n := v.(type) {
		case int64:
			return float64(n), nil
		case float64:
		default:
			return nil, fmt.Errorf("%s: must be a number, not %s", path, jsonKind(v))
		}
	}
	return runtime.DeepCopyJSONValue(v), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("a %T", v)
}

// typeProvider declares the object types of the composite's schema to CEL,
// and adapts the unstructured values of the instance and of the composed
// resources to CEL values whose maps iterate in key order.
type typeProvider struct {
	types.Provider
	base    types.Adapter
	objects map[string]*objectType
}

// objectType is an object whose fields are known.
type objectType struct {
	t      *types.Type
	fields map[string]*types.Type
}

func newTypeProvider(base types.Provider) *typeProvider {
	a, ok := base.(types.Adapter)
	if !ok {
		a = types.DefaultTypeAdapter
	}
	return &typeProvider{Provider: base, base: a, objects: map[string]*objectType{}}
}

func (p *typeProvider) declareObject(name string, fields map[string]*types.Type) *types.Type {
	t := types.NewObjectType(name)
	p.objects[name] = &objectType{t: t, fields: fields}
	return t
}

// FindStructType implements types.Provider.
func (p *typeProvider) FindStructType(name string) (*types.Type, bool) {
	if o, ok := p.objects[name]; ok {
		return types.NewTypeTypeWithParam(o.t), true
	}
	return p.Provider.FindStructType(name)
}

// FindStructFieldNames implements types.Provider.
func (p *typeProvider) FindStructFieldNames(name string) ([]string, bool) {
	if o, ok := p.objects[name]; ok {
		return sortedKeys(o.fields), true
	}
	return p.Provider.FindStructFieldNames(name)
}

// FindStructFieldType implements types.Provider. The fields have no
// accessors: the values are unstructured maps, which CEL reads as maps.
func (p *typeProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if o, ok := p.objects[name]; ok {
		t, ok := o.fields[field]
		if !ok {
			return nil, false
		}
		return &types.FieldType{Type: t}, true
	}
	return p.Provider.FindStructFieldType(name, field)
}

// NativeToValue implements types.Adapter.
func (p *typeProvider) NativeToValue(v any) ref.Val {
	switch v := v.(type) {
	case map[string]any:
		return newSortedMap(p, v)
	case []any:
		return types.NewDynamicList(p, v)
	}
	return p.base.NativeToValue(v)
}

// sortedMap is an unstructured map that CEL iterates in key order, so that
// comprehensions over maps give the same result every time.
type sortedMap struct {
	traits.Mapper
	keys traits.Lister
}

func newSortedMap(a types.Adapter, m map[string]any) ref.Val {
	return sortedMap{Mapper: types.NewStringInterfaceMap(a, m), keys: types.NewStringList(a, sortedKeys(m))}
}

// Iterator implements traits.Iterable.
func (m sortedMap) Iterator() traits.Iterator { return m.keys.Iterator() }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// rawJSON returns the JSON of a raw extension.
func rawJSON(raw *runtime.RawExtension) ([]byte, error) {
	if raw == nil {
		return nil, nil
	}
	if len(raw.Raw) > 0 {
		return raw.Raw, nil
	}
	if raw.Object != nil {
		return json.Marshal(raw.Object)
	}
	return nil, nil
}
