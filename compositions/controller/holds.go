package controller

// holds reports whether observed, a composed resource as the API server
// returns it, already holds every field of desired with the same value.
// Fields only in observed (defaults, status, metadata the server sets) do
// not matter; lists must have the same length, element by element. Numbers
// compare by value, whatever their Go type.
func holds(observed, desired any) bool {
	switch d := desired.(type) {
	case map[string]any:
		o, ok := observed.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			ov, ok := o[k]
			if !ok || !holds(ov, dv) {
				return false
			}
		}
		return true
	case []any:
		o, ok := observed.([]any)
		if !ok || len(o) != len(d) {
			return false
		}
		for i := range d {
			if !holds(o[i], d[i]) {
				return false
			}
		}
		return true
	}
	if dn, ok := number(desired); ok {
		on, ok := number(observed)
		return ok && dn == on
	}
	return observed == desired
}

// number returns v as a float64 when it is a JSON number in any Go type.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
