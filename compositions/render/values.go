package render

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"google.golang.org/protobuf/types/known/structpb"
)

// toJSON converts a CEL value to the value of an unstructured object:
// string, int64, float64, bool, nil, []any or map[string]any. Bytes become
// base64 (as JSON encodes []byte), timestamps RFC 3339 in UTC, durations
// CEL's string form ("90s").
func toJSON(v ref.Val) (any, error) {
	switch v := v.(type) {
	case types.String:
		return string(v), nil
	case types.Int:
		return int64(v), nil
	case types.Uint:
		if uint64(v) > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit in an int64", uint64(v))
		}
		return int64(v), nil
	case types.Double:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", f)
		}
		return f, nil
	case types.Bool:
		return bool(v), nil
	case types.Null:
		return nil, nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(v), nil
	case types.Timestamp:
		return v.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return toText(v)
	case *types.Optional:
		return nil, fmt.Errorf("an optional value is allowed only as the whole value of a field")
	case traits.Mapper:
		out := map[string]any{}
		it := v.Iterator()
		for it.HasNext() == types.True {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is a %s, not a string", k, k.Type().TypeName())
			}
			e, err := toJSON(v.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	case traits.Lister:
		var out []any
		it := v.Iterator()
		for it.HasNext() == types.True {
			e, err := toJSON(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case *types.Err:
		return nil, v
	}
	// Anything else that converts to JSON, such as a protobuf value.
	pv, err := v.ConvertToNative(reflect.TypeOf(&structpb.Value{}))
	if err != nil {
		return nil, fmt.Errorf("a %s cannot be written to an object", v.Type().TypeName())
	}
	return fromStructpb(pv.(*structpb.Value)), nil
}

// fromStructpb converts a protobuf JSON value, keeping integral numbers
// integers.
func fromStructpb(v *structpb.Value) any {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		if k.NumberValue == math.Trunc(k.NumberValue) && math.Abs(k.NumberValue) < 1<<53 {
			return int64(k.NumberValue)
		}
		return k.NumberValue
	case *structpb.Value_ListValue:
		out := []any{}
		for _, e := range k.ListValue.GetValues() {
			out = append(out, fromStructpb(e))
		}
		return out
	case *structpb.Value_StructValue:
		out := map[string]any{}
		for key, e := range k.StructValue.GetFields() {
			out[key] = fromStructpb(e)
		}
		return out
	}
	return v.AsInterface()
}

// toText converts a CEL value to the text interpolated into a string, as
// CEL's string() conversion does.
func toText(v ref.Val) (string, error) {
	if s, ok := v.(types.String); ok {
		return string(s), nil
	}
	switch v.(type) {
	case traits.Mapper, traits.Lister, *types.Optional, types.Null:
		return "", fmt.Errorf("a %s cannot be interpolated into a string", v.Type().TypeName())
	}
	s := v.ConvertToType(types.StringType)
	if err, ok := s.(*types.Err); ok {
		return "", err
	}
	str, ok := s.(types.String)
	if !ok {
		return "", fmt.Errorf("a %s cannot be interpolated into a string", v.Type().TypeName())
	}
	return string(str), nil
}

// toData converts a CEL value to the bytes of a Secret key: bytes as they
// are, anything else as text.
func toData(v ref.Val) ([]byte, error) {
	if b, ok := v.(types.Bytes); ok {
		return []byte(b), nil
	}
	s, err := toText(v)
	return []byte(s), err
}

// isText reports whether values of type t can be interpolated into a
// string or written to a Secret.
func isText(t *types.Type) bool {
	switch t.Kind() {
	case types.StringKind, types.IntKind, types.UintKind, types.DoubleKind, types.BoolKind,
		types.BytesKind, types.TimestampKind, types.DurationKind, types.DynKind, types.AnyKind:
		return true
	}
	return false
}

// isString reports whether values of type t are strings: a string, an
// optional string, or a type only known at run time.
func isString(t *types.Type) bool {
	switch t.Kind() {
	case types.StringKind, types.DynKind, types.AnyKind:
		return true
	case types.OpaqueKind:
		if t.TypeName() == "optional_type" && len(t.Parameters()) == 1 {
			return isString(t.Parameters()[0])
		}
	}
	return false
}

// isBool reports whether values of type t can be conditions.
func isBool(t *types.Type) bool {
	switch t.Kind() {
	case types.BoolKind, types.DynKind, types.AnyKind:
		return true
	}
	return false
}
