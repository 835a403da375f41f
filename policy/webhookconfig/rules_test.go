package webhookconfig

import (
	"reflect"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/stratus-operator/stratus/compositions/catalog"
)

// rule is a rule of all operations the generated configuration has.
func rule(groups []string, resources ...string) admissionregistrationv1.RuleWithOperations {
	return admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
		Rule: admissionregistrationv1.Rule{
			APIGroups:   groups,
			APIVersions: []string{"v1alpha1"},
			Resources:   resources,
		},
	}
}

// compositeRule is the rule Rules adds for a composite kind.
func compositeRule(group, resource string, versions ...string) admissionregistrationv1.RuleWithOperations {
	scope := admissionregistrationv1.AllScopes
	return admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
		Rule: admissionregistrationv1.Rule{
			APIGroups:   []string{group},
			APIVersions: versions,
			Resources:   []string{resource},
			Scope:       &scope,
		},
	}
}

// kind is a composite kind of group served at versions.
func kind(group, kindName, resource string, versions ...string) catalog.Kind {
	return catalog.Kind{
		Definition:       resource + "." + group,
		GroupVersionKind: schema.GroupVersionKind{Group: group, Version: versions[len(versions)-1], Kind: kindName},
		Resource:         resource,
		Versions:         versions,
	}
}

func TestRules(t *testing.T) {
	managed := rule([]string{"storage.stratus.dev", "database.stratus.dev"}, "*")
	storage := rule([]string{"storage.stratus.dev"}, "buckets")
	tests := []struct {
		name    string
		current []admissionregistrationv1.RuleWithOperations
		kinds   []catalog.Kind
		want    []admissionregistrationv1.RuleWithOperations
	}{
		{name: "nothing", want: nil},
		{name: "managed rules are kept", current: []admissionregistrationv1.RuleWithOperations{managed, storage},
			want: []admissionregistrationv1.RuleWithOperations{managed, storage}},
		{name: "stale composite rules are dropped", current: []admissionregistrationv1.RuleWithOperations{
			managed,
			compositeRule("platform.example.com", "staticwebsites", "v1alpha1"),
			compositeRule("old.example.com", "gone", "v1"),
		}, want: []admissionregistrationv1.RuleWithOperations{managed}},
		{name: "rule mixing a managed and another group is dropped", current: []admissionregistrationv1.RuleWithOperations{
			rule([]string{"storage.stratus.dev", "platform.example.com"}, "*"), managed,
		}, want: []admissionregistrationv1.RuleWithOperations{managed}},
		{name: "rule of every group is dropped", current: []admissionregistrationv1.RuleWithOperations{rule([]string{"*"}, "*"), managed},
			want: []admissionregistrationv1.RuleWithOperations{managed}},
		{name: "rule of no group is dropped", current: []admissionregistrationv1.RuleWithOperations{rule(nil, "*"), managed},
			want: []admissionregistrationv1.RuleWithOperations{managed}},
		{name: "one rule per composite kind, after the managed rules", current: []admissionregistrationv1.RuleWithOperations{managed},
			kinds: []catalog.Kind{kind("platform.example.com", "StaticWebsite", "staticwebsites", "v1alpha1")},
			want: []admissionregistrationv1.RuleWithOperations{
				managed,
				compositeRule("platform.example.com", "staticwebsites", "v1alpha1"),
			}},
		{name: "sorted by group then resource", current: []admissionregistrationv1.RuleWithOperations{managed},
			kinds: []catalog.Kind{
				kind("platform.example.com", "StaticWebsite", "staticwebsites", "v1alpha1"),
				kind("apps.example.com", "Service", "services", "v1"),
				kind("platform.example.com", "Database", "databases", "v1alpha1", "v1beta1"),
				kind("apps.example.com", "Queue", "queues", "v1"),
			},
			want: []admissionregistrationv1.RuleWithOperations{
				managed,
				compositeRule("apps.example.com", "queues", "v1"),
				compositeRule("apps.example.com", "services", "v1"),
				compositeRule("platform.example.com", "databases", "v1alpha1", "v1beta1"),
				compositeRule("platform.example.com", "staticwebsites", "v1alpha1"),
			}},
		{name: "kinds in managed groups are skipped", current: []admissionregistrationv1.RuleWithOperations{managed},
			kinds: []catalog.Kind{
				kind("storage.stratus.dev", "Website", "websites", "v1alpha1"),
				kind("database.stratus.dev", "Cluster", "clusters", "v1alpha1"),
				kind("platform.example.com", "StaticWebsite", "staticwebsites", "v1alpha1"),
			},
			want: []admissionregistrationv1.RuleWithOperations{
				managed,
				compositeRule("platform.example.com", "staticwebsites", "v1alpha1"),
			}},
		{name: "composite rules are rewritten, not duplicated", current: []admissionregistrationv1.RuleWithOperations{
			managed,
			compositeRule("platform.example.com", "staticwebsites", "v1alpha1"),
		}, kinds: []catalog.Kind{kind("platform.example.com", "StaticWebsite", "staticwebsites", "v1alpha1", "v1")},
			want: []admissionregistrationv1.RuleWithOperations{
				managed,
				compositeRule("platform.example.com", "staticwebsites", "v1alpha1", "v1"),
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kindsBefore := append([]catalog.Kind(nil), tt.kinds...)
			got := Rules(tt.current, tt.kinds)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Rules =\n%+v\nwant\n%+v", got, tt.want)
			}
			// The catalog's kinds are not reordered.
			if !reflect.DeepEqual(tt.kinds, kindsBefore) {
				t.Errorf("Rules reordered its kinds: %v", tt.kinds)
			}
			// Applying Rules to its own result changes nothing.
			if again := Rules(got, tt.kinds); !reflect.DeepEqual(again, got) {
				t.Errorf("Rules is not idempotent:\n%+v\nthen\n%+v", got, again)
			}
		})
	}
}

// TestRulesDoNotShareVersions checks that the rules do not alias the
// catalog's version slices, which the syncer then writes to the cluster.
func TestRulesDoNotShareVersions(t *testing.T) {
	k := kind("platform.example.com", "StaticWebsite", "staticwebsites", "v1alpha1")
	got := Rules(nil, []catalog.Kind{k})
	got[0].APIVersions[0] = "changed"
	if k.Versions[0] != "v1alpha1" {
		t.Fatalf("the kind's versions changed to %v", k.Versions)
	}
}
