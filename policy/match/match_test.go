package match

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
)

var (
	bucketGK   = schema.GroupKind{Group: "storage.stratus.dev", Kind: "Bucket"}
	databaseGK = schema.GroupKind{Group: "database.stratus.dev", Kind: "Database"}
	siteGK     = schema.GroupKind{Group: "platform.example.com", Kind: "StaticWebsite"}
)

// buckets is a Match of the Bucket kind only, with the fields of m.
func buckets(m policyv1alpha1.Match) policyv1alpha1.Match {
	if m.Kinds == nil {
		m.Kinds = []policyv1alpha1.KindSelector{{APIGroups: []string{"storage.stratus.dev"}, Kinds: []string{"Bucket"}}}
	}
	return m
}

// nsLabels answers namespace labels from a fixed map; an unknown namespace
// is an error.
func nsLabels(byNS map[string]map[string]string) NamespaceLabels {
	return func(ns string) (map[string]string, error) {
		l, ok := byNS[ns]
		if !ok {
			return nil, errors.New("namespace " + ns + " not found")
		}
		return l, nil
	}
}

var namespaces = nsLabels(map[string]map[string]string{
	"prod":    {"env": "production", "team": "a"},
	"staging": {"env": "staging", "team": "a"},
	"plain":   nil,
})

func TestMatches(t *testing.T) {
	envProd := &metav1.LabelSelector{MatchLabels: map[string]string{"env": "production"}}
	tests := []struct {
		name    string
		match   policyv1alpha1.Match
		req     Request
		labels  NamespaceLabels
		want    bool
		wantErr string
	}{
		// Kinds.
		{name: "kind matches", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}, want: true},
		{name: "other kind of the same group", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: schema.GroupKind{Group: "storage.stratus.dev", Kind: "Queue"}, Namespace: "prod", Operation: "CREATE"}},
		{name: "same kind in another group", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: schema.GroupKind{Group: "other.example.com", Kind: "Bucket"}, Namespace: "prod", Operation: "CREATE"}},
		{name: "kind wildcard", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"storage.stratus.dev"}, Kinds: []string{"*"}}}},
			req: Request{GroupKind: schema.GroupKind{Group: "storage.stratus.dev", Kind: "Queue"}, Operation: "CREATE"}, want: true},
		{name: "kind wildcard keeps the group", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"storage.stratus.dev"}, Kinds: []string{"*"}}}},
			req: Request{GroupKind: databaseGK, Operation: "CREATE"}},
		{name: "group wildcard", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"Bucket"}}}},
			req: Request{GroupKind: schema.GroupKind{Group: "other.example.com", Kind: "Bucket"}, Operation: "CREATE"}, want: true},
		{name: "group wildcard keeps the kind", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"Bucket"}}}},
			req: Request{GroupKind: databaseGK, Operation: "CREATE"}},
		{name: "both wildcards match the core group", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}},
			req: Request{GroupKind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "plain", Operation: "UPDATE"}, want: true},
		{name: "core group by empty string", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{""}, Kinds: []string{"ConfigMap"}}}},
			req: Request{GroupKind: schema.GroupKind{Kind: "ConfigMap"}, Operation: "CREATE"}, want: true},
		{name: "second kind selector matches", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{
			{APIGroups: []string{"storage.stratus.dev"}, Kinds: []string{"Bucket"}},
			{APIGroups: []string{"database.stratus.dev", "platform.example.com"}, Kinds: []string{"Database", "StaticWebsite"}},
		}}, req: Request{GroupKind: siteGK, Operation: "CREATE"}, want: true},
		{name: "groups and kinds of one selector are not paired", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{
			{APIGroups: []string{"database.stratus.dev", "platform.example.com"}, Kinds: []string{"Database", "StaticWebsite"}},
		}}, req: Request{GroupKind: schema.GroupKind{Group: "platform.example.com", Kind: "Database"}, Operation: "CREATE"}, want: true},

		// Namespaces.
		{name: "in namespaces", match: buckets(policyv1alpha1.Match{Namespaces: []string{"prod", "staging"}}),
			req: Request{GroupKind: bucketGK, Namespace: "staging", Operation: "CREATE"}, want: true},
		{name: "not in namespaces", match: buckets(policyv1alpha1.Match{Namespaces: []string{"prod"}}),
			req: Request{GroupKind: bucketGK, Namespace: "staging", Operation: "CREATE"}},
		{name: "excluded namespace", match: buckets(policyv1alpha1.Match{ExcludedNamespaces: []string{"staging"}}),
			req: Request{GroupKind: bucketGK, Namespace: "staging", Operation: "CREATE"}},
		{name: "namespace not excluded", match: buckets(policyv1alpha1.Match{ExcludedNamespaces: []string{"staging"}}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}, want: true},
		{name: "excluded wins over namespaces", match: buckets(policyv1alpha1.Match{Namespaces: []string{"prod"}, ExcludedNamespaces: []string{"prod"}}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}},
		{name: "cluster-scoped object ignores namespaces", match: buckets(policyv1alpha1.Match{Namespaces: []string{"prod"}}),
			req: Request{GroupKind: bucketGK, Operation: "CREATE"}, want: true},
		{name: "cluster-scoped object ignores excluded namespaces", match: buckets(policyv1alpha1.Match{ExcludedNamespaces: []string{""}}),
			req: Request{GroupKind: bucketGK, Operation: "CREATE"}, want: true},

		// Namespace selector.
		{name: "namespace selector matches", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}, labels: namespaces, want: true},
		{name: "namespace selector does not match", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Namespace: "staging", Operation: "CREATE"}, labels: namespaces},
		{name: "namespace without labels", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Namespace: "plain", Operation: "CREATE"}, labels: namespaces},
		{name: "namespace selector with expressions", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"production"}}},
		}}), req: Request{GroupKind: bucketGK, Namespace: "staging", Operation: "CREATE"}, labels: namespaces, want: true},
		{name: "empty namespace selector matches every namespace", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{}}),
			req: Request{GroupKind: bucketGK, Namespace: "plain", Operation: "CREATE"}, labels: namespaces, want: true},
		{name: "namespace selector without label func", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}, wantErr: "namespace labels are unknown"},
		{name: "namespace labels cannot be read", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Namespace: "gone", Operation: "CREATE"}, labels: namespaces, wantErr: `read labels of namespace "gone": namespace gone not found`},
		{name: "cluster-scoped object ignores the namespace selector", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Operation: "CREATE"}, want: true},
		{name: "namespaces are checked before the selector", match: buckets(policyv1alpha1.Match{Namespaces: []string{"prod"}, NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Namespace: "staging", Operation: "CREATE"}},
		{name: "other kind never reads namespace labels", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: databaseGK, Namespace: "prod", Operation: "CREATE"}},

		// Label selector.
		{name: "label selector matches", match: buckets(policyv1alpha1.Match{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "data"}}}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Labels: map[string]string{"tier": "data", "x": "y"}, Operation: "CREATE"}, want: true},
		{name: "label selector does not match", match: buckets(policyv1alpha1.Match{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "data"}}}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Labels: map[string]string{"tier": "web"}, Operation: "CREATE"}},
		{name: "label selector on an object without labels", match: buckets(policyv1alpha1.Match{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "data"}}}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}},
		{name: "label selector DoesNotExist on an object without labels", match: buckets(policyv1alpha1.Match{LabelSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip-guardrails", Operator: metav1.LabelSelectorOpDoesNotExist}},
		}}), req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}, want: true},
		{name: "label selector applies to cluster-scoped objects", match: buckets(policyv1alpha1.Match{LabelSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip-guardrails", Operator: metav1.LabelSelectorOpDoesNotExist}},
		}}), req: Request{GroupKind: bucketGK, Labels: map[string]string{"skip-guardrails": "true"}, Operation: "CREATE"}},

		// Operations.
		{name: "default operations include CREATE", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: bucketGK, Operation: "CREATE"}, want: true},
		{name: "default operations include UPDATE", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: bucketGK, Operation: "UPDATE"}, want: true},
		{name: "default operations exclude DELETE", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: bucketGK, Operation: "DELETE"}},
		{name: "default operations exclude CONNECT", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: bucketGK, Operation: "CONNECT"}},
		{name: "audit is judged by default operations", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: bucketGK, Namespace: "prod"}, want: true},
		{name: "DELETE only", match: buckets(policyv1alpha1.Match{Operations: []policyv1alpha1.Operation{"DELETE"}}),
			req: Request{GroupKind: bucketGK, Operation: "DELETE"}, want: true},
		{name: "DELETE only does not judge CREATE", match: buckets(policyv1alpha1.Match{Operations: []policyv1alpha1.Operation{"DELETE"}}),
			req: Request{GroupKind: bucketGK, Operation: "CREATE"}},
		{name: "DELETE only is not audited", match: buckets(policyv1alpha1.Match{Operations: []policyv1alpha1.Operation{"DELETE"}}),
			req: Request{GroupKind: bucketGK}},
		{name: "UPDATE only is audited", match: buckets(policyv1alpha1.Match{Operations: []policyv1alpha1.Operation{"UPDATE"}}),
			req: Request{GroupKind: bucketGK}, want: true},
		{name: "CREATE only does not judge UPDATE", match: buckets(policyv1alpha1.Match{Operations: []policyv1alpha1.Operation{"CREATE"}}),
			req: Request{GroupKind: bucketGK, Operation: "UPDATE"}},
		{name: "operation is checked before namespace labels", match: buckets(policyv1alpha1.Match{NamespaceSelector: envProd}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "DELETE"}},

		// Everything at once.
		{name: "all fields match", match: buckets(policyv1alpha1.Match{
			Namespaces:         []string{"prod", "staging"},
			ExcludedNamespaces: []string{"staging"},
			NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
			LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "data"}},
			Operations:         []policyv1alpha1.Operation{"CREATE", "DELETE"},
		}), req: Request{GroupKind: bucketGK, Namespace: "prod", Labels: map[string]string{"tier": "data"}, Operation: "DELETE"}, labels: namespaces, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt, err := New(tt.match)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := mt.Matches(tt.req, tt.labels)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Matches error = %v, want one containing %q", err, tt.wantErr)
				}
				if got {
					t.Error("Matches = true with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Matches: %v", err)
			}
			if got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNamespaceLabelsOnlyWhenNeeded(t *testing.T) {
	tests := []struct {
		name      string
		match     policyv1alpha1.Match
		req       Request
		wantCalls int
	}{
		{name: "no selector", match: buckets(policyv1alpha1.Match{}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}},
		{name: "selector, namespaced object", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{}}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}, wantCalls: 1},
		{name: "selector, cluster-scoped object", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{}}),
			req: Request{GroupKind: bucketGK, Operation: "CREATE"}},
		{name: "selector, excluded namespace", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{}, ExcludedNamespaces: []string{"prod"}}),
			req: Request{GroupKind: bucketGK, Namespace: "prod", Operation: "CREATE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt, err := New(tt.match)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			calls := 0
			_, err = mt.Matches(tt.req, func(string) (map[string]string, error) {
				calls++
				return nil, nil
			})
			if err != nil {
				t.Fatalf("Matches: %v", err)
			}
			if calls != tt.wantCalls {
				t.Errorf("namespace labels read %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name       string
		match      policyv1alpha1.Match
		wantErr    string
		wantNSSel  bool
		wantCreate bool
		wantDelete bool
		wantAudit  bool
	}{
		{name: "no kinds", match: policyv1alpha1.Match{}, wantErr: "match.kinds: at least one is required"},
		{name: "empty kinds", match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{}}, wantErr: "match.kinds"},
		{name: "invalid namespace selector operator", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Near", Values: []string{"x"}}},
		}}), wantErr: "match.namespaceSelector:"},
		{name: "invalid namespace selector label key", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"not a key!": "x"},
		}}), wantErr: "match.namespaceSelector:"},
		{name: "In without values", match: buckets(policyv1alpha1.Match{LabelSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn}},
		}}), wantErr: "match.labelSelector:"},
		{name: "invalid label selector value", match: buckets(policyv1alpha1.Match{LabelSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"env": "no spaces allowed"},
		}}), wantErr: "match.labelSelector:"},
		{name: "defaults", match: buckets(policyv1alpha1.Match{}), wantCreate: true, wantAudit: true},
		{name: "namespace selector", match: buckets(policyv1alpha1.Match{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}),
			wantNSSel: true, wantCreate: true, wantAudit: true},
		{name: "DELETE", match: buckets(policyv1alpha1.Match{Operations: []policyv1alpha1.Operation{"DELETE"}}), wantDelete: true},
		{name: "CREATE and DELETE", match: buckets(policyv1alpha1.Match{Operations: []policyv1alpha1.Operation{"CREATE", "DELETE"}}),
			wantCreate: true, wantDelete: true, wantAudit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt, err := New(tt.match)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
				}
				if mt != nil {
					t.Error("New returned a matcher with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := mt.HasNamespaceSelector(); got != tt.wantNSSel {
				t.Errorf("HasNamespaceSelector = %v, want %v", got, tt.wantNSSel)
			}
			if got := mt.AppliesTo("CREATE"); got != tt.wantCreate {
				t.Errorf("AppliesTo(CREATE) = %v, want %v", got, tt.wantCreate)
			}
			if got := mt.AppliesTo("DELETE"); got != tt.wantDelete {
				t.Errorf("AppliesTo(DELETE) = %v, want %v", got, tt.wantDelete)
			}
			if got := mt.AppliesTo(""); got != tt.wantAudit {
				t.Errorf("AppliesTo(\"\") = %v, want %v", got, tt.wantAudit)
			}
			if got := mt.Kinds(); len(got) != len(tt.match.Kinds) {
				t.Errorf("Kinds = %v, want %v", got, tt.match.Kinds)
			}
		})
	}
}
