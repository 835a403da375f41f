package controller

import "testing"

func TestHolds(t *testing.T) {
	cases := []struct {
		reason            string
		observed, desired any
		want              bool
	}{
		{"Equal scalars.", "a", "a", true},
		{"Different strings.", "a", "b", false},
		{"An empty string is a value, not an unset field.", "a", "", false},
		{"false is a value.", true, false, false},
		{"Numbers compare by value across Go types.", int64(30), float64(30), true},
		{"Different numbers.", int64(30), int64(31), false},
		{"A number is not its string.", "30", int64(30), false},
		{"nil only holds nil.", "a", nil, false},
		{"Fields the server added do not matter.",
			map[string]any{"spec": map[string]any{"region": "us-east-1", "deletionPolicy": "Delete"}, "status": map[string]any{"ready": true}},
			map[string]any{"spec": map[string]any{"region": "us-east-1"}}, true},
		{"A desired field the object lacks.",
			map[string]any{"spec": map[string]any{}},
			map[string]any{"spec": map[string]any{"region": "us-east-1"}}, false},
		{"A changed nested field.",
			map[string]any{"spec": map[string]any{"labels": map[string]any{"team": "a"}}},
			map[string]any{"spec": map[string]any{"labels": map[string]any{"team": "b"}}}, false},
		{"A map where a scalar is desired.", map[string]any{"a": "b"}, "a", false},
		{"Lists element by element, defaults inside elements allowed.",
			[]any{map[string]any{"days": int64(30), "enabled": true}},
			[]any{map[string]any{"days": float64(30)}}, true},
		{"A longer list is not the desired one: an apply would shorten it.",
			[]any{"a", "b"}, []any{"a"}, false},
		{"A shorter list.", []any{"a"}, []any{"a", "b"}, false},
		{"An owner reference the object lacks.",
			map[string]any{"metadata": map[string]any{"name": "x"}},
			map[string]any{"metadata": map[string]any{"name": "x", "ownerReferences": []any{map[string]any{"uid": "1"}}}}, false},
	}
	for _, tc := range cases {
		if got := holds(tc.observed, tc.desired); got != tc.want {
			t.Errorf("%s\nholds(%v, %v) = %t, want %t", tc.reason, tc.observed, tc.desired, got, tc.want)
		}
	}
}
