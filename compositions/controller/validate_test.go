package controller

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
)

func TestParseComposableKinds(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   []schema.GroupKind
		err    string
	}{
		"Default": {
			reason: "The default round-trips.",
			in:     FormatComposableKinds(DefaultComposableKinds),
			want:   DefaultComposableKinds,
		},
		"Spaces": {
			reason: "Spaces and empty items are ignored, duplicates kept once.",
			in:     " ConfigMap, ,Bucket.storage.stratus.dev,ConfigMap",
			want:   []schema.GroupKind{{Kind: "ConfigMap"}, {Group: "storage.stratus.dev", Kind: "Bucket"}},
		},
		"Empty": {
			reason: "No kind at all: compositions may compose nothing.",
			in:     "",
		},
		"Lowercase": {
			reason: "A resource name is not a kind.",
			in:     "configmaps",
			err:    `--composable-kinds: "configmaps" is not Kind.group, such as Bucket.storage.stratus.dev, or Kind for the core API, such as ConfigMap`,
		},
		"Wildcard": {
			reason: "Every kind of a group is not a list of kinds.",
			in:     "Bucket.*",
			err:    `--composable-kinds: "Bucket.*": name each kind, without wildcards`,
		},
		"WildcardKind": {
			reason: "Nor is every kind.",
			in:     "*",
			err:    `--composable-kinds: "*" is not Kind.group, such as Bucket.storage.stratus.dev, or Kind for the core API, such as ConfigMap`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseComposableKinds(tc.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.err, gotErr); diff != "" {
				t.Errorf("%s\nParseComposableKinds(%q): -want error, +got error:\n%s", tc.reason, tc.in, diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nParseComposableKinds(%q): -want, +got:\n%s", tc.reason, tc.in, diff)
			}
		})
	}
}

// definitionWith returns a definition of group and kind (plural kinds)
// composing a resource of each of kinds.
func definitionWith(group, kind string, kinds ...string) *v1alpha1.CompositeDefinition {
	def := &v1alpha1.CompositeDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: lower(kind) + "s." + group, UID: "def-uid"},
		Spec: v1alpha1.CompositeDefinitionSpec{
			Group: group,
			Names: v1alpha1.CompositeNames{Kind: kind, Plural: lower(kind) + "s"},
		},
	}
	for i, k := range kinds {
		gv, kindName, _ := cut(k)
		def.Spec.Resources = append(def.Spec.Resources, v1alpha1.ComposedResource{
			Name:     string(rune('a' + i)),
			Template: runtime.RawExtension{Raw: []byte(`{"apiVersion": "` + gv + `", "kind": "` + kindName + `"}`)},
		})
	}
	return def
}

// cut splits apiVersion/Kind at its last slash.
func cut(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

func TestNotComposable(t *testing.T) {
	cases := map[string]struct {
		reason  string
		kinds   []string
		allowed []schema.GroupKind
		want    string
	}{
		"Allowed": {
			reason:  "Stratus's kinds, ConfigMaps and Secrets are composable by default.",
			kinds:   []string{"storage.stratus.dev/v1alpha1/Bucket", "database.stratus.dev/v1alpha1/Database", "v1/ConfigMap", "v1/Secret"},
			allowed: DefaultComposableKinds,
		},
		"ClusterRoleBinding": {
			reason:  "A binding to cluster-admin is refused, naming the kind, the flag, the chart value and what is allowed.",
			kinds:   []string{"v1/ConfigMap", "rbac.authorization.k8s.io/v1/ClusterRoleBinding"},
			allowed: DefaultComposableKinds,
			want:    "resources[1] (b) composes ClusterRoleBinding.rbac.authorization.k8s.io, which compositions may not create: the platform team lists the kinds they may in the manager's --composable-kinds (chart value compositions.composableKinds), now Bucket.storage.stratus.dev, Database.database.stratus.dev, ConfigMap, Secret",
		},
		"SameKindOtherGroup": {
			reason:  "A kind is allowed in its group only.",
			kinds:   []string{"evil.example.com/v1/Secret"},
			allowed: DefaultComposableKinds,
			want:    "resources[0] (a) composes Secret.evil.example.com, which compositions may not create: the platform team lists the kinds they may in the manager's --composable-kinds (chart value compositions.composableKinds), now Bucket.storage.stratus.dev, Database.database.stratus.dev, ConfigMap, Secret",
		},
		"NoneAllowed": {
			reason: "With no composable kind, nothing is.",
			kinds:  []string{"v1/ConfigMap", "v1/Pod"},
			want:   "resources[0] (a) composes ConfigMap; resources[1] (b) composes Pod, which compositions may not create: the platform team lists the kinds they may in the manager's --composable-kinds (chart value compositions.composableKinds), now none",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kinds, err := templateKinds(definitionWith("platform.example.com", "App", tc.kinds...))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, notComposable(kinds, tc.allowed)); diff != "" {
				t.Errorf("%s\nnotComposable(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestScopeProblems(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	cases := map[string]struct {
		reason     string
		kinds      []string
		namespaced bool
		want       string
	}{
		"Namespaced": {
			reason: "A namespaced composite composes namespaced kinds.", kinds: []string{"v1/ConfigMap"}, namespaced: true,
		},
		"ClusterScopedChild": {
			reason: "Not cluster-scoped ones: its resources are in its namespace.", kinds: []string{"v1/Namespace"}, namespaced: true,
			want: "resources[0] (a): Namespace is cluster-scoped, and the resources of a namespaced composite are in its namespace",
		},
		"ClusterComposite": {
			reason: "A cluster-scoped composite may compose both.", kinds: []string{"v1/ConfigMap", "v1/Namespace"},
		},
		"Unknown": {
			reason: "A kind the API server does not serve.", kinds: []string{"example.com/v1/Widget"}, namespaced: true,
			want: "resources[0] (a): the API server serves no Widget at example.com/v1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			kinds, err := templateKinds(definitionWith("platform.example.com", "App", tc.kinds...))
			if err != nil {
				t.Fatal(err)
			}
			got, err := scopeProblems(mapper, kinds, tc.namespaced)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nscopeProblems(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// crd is a CRD of group, kind and plural, controlled by the definition of
// UID owner when owner is not empty.
func crd(group, kind, plural string, owner string) apiextv1.CustomResourceDefinition {
	c := apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextv1.CustomResourceDefinitionSpec{Group: group, Names: apiextv1.CustomResourceDefinitionNames{
			Kind: kind, Plural: plural, Singular: lower(kind),
		}},
	}
	if owner != "" {
		c.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "CompositeDefinition", Name: "other." + group, UID: types.UID("uid-" + owner), Controller: ptr.To(true),
		}}
	}
	return c
}

// refusedNames marks c as the API server marks a CRD whose names another
// has.
func refusedNames(c apiextv1.CustomResourceDefinition) apiextv1.CustomResourceDefinition {
	c.Status.Conditions = []apiextv1.CustomResourceDefinitionCondition{{Type: apiextv1.NamesAccepted, Status: apiextv1.ConditionFalse, Reason: "KindConflict"}}
	return c
}

func TestAPIConflict(t *testing.T) {
	own := crd("platform.example.com", "App", "apps", "")
	own.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "CompositeDefinition", Name: "apps.platform.example.com", UID: "def-uid", Controller: ptr.To(true)}}
	builtin := []string{"apps", "rbac.authorization.k8s.io", "metrics.example.io", "platform.example.com", "storage.stratus.dev"}
	cases := map[string]struct {
		reason string
		group  string
		kind   string
		crds   []apiextv1.CustomResourceDefinition
		want   string
	}{
		"NewGroup": {reason: "A group nobody serves.", group: "new.example.com", kind: "App"},
		"OwnCRD": {
			reason: "The definition's own CRD, and others of definitions in its group.",
			group:  "platform.example.com", kind: "App",
			crds: []apiextv1.CustomResourceDefinition{own, crd("platform.example.com", "Site", "sites", "other")},
		},
		"Stratus": {
			reason: "Stratus's groups are Stratus's.", group: "storage.stratus.dev", kind: "Bucket",
			want: "group storage.stratus.dev is reserved for Stratus: a composite needs a group of its own",
		},
		"Kubernetes": {
			reason: "Kubernetes' groups are Kubernetes'.", group: "rbac.authorization.k8s.io", kind: "ClusterRoleBinding",
			want: "group rbac.authorization.k8s.io is reserved for Kubernetes: a composite needs a group of its own",
		},
		"AggregatedAPI": {
			reason: "A group the API server serves without a CRD (an aggregated API).", group: "metrics.example.io", kind: "App",
			want: "group metrics.example.io is served by the API server (a built-in or aggregated API): a composite needs a group of its own",
		},
		"TakeOver": {
			reason: "A CRD of the definition's name that it did not create.", group: "other.example.com", kind: "Widget",
			crds: []apiextv1.CustomResourceDefinition{crd("other.example.com", "Widget", "widgets", "")},
			want: "the CustomResourceDefinition widgets.other.example.com exists and this definition did not create it: a definition never takes over an API; choose another group or plural",
		},
		"TakeOverAnotherDefinitions": {
			reason: "Nor another definition's.", group: "other.example.com", kind: "Widget",
			crds: []apiextv1.CustomResourceDefinition{crd("other.example.com", "Widget", "widgets", "other")},
			want: "the CustomResourceDefinition widgets.other.example.com exists and this definition did not create it: a definition never takes over an API; choose another group or plural",
		},
		"AnotherProjectsGroup": {
			reason: "A group a CRD that no definition created serves.", group: "other.example.com", kind: "Gadget",
			crds: []apiextv1.CustomResourceDefinition{crd("other.example.com", "Widget", "widgets", "")},
			want: "group other.example.com is served by the CustomResourceDefinition widgets.other.example.com, which no CompositeDefinition created: a composite needs a group of its own",
		},
		"AnotherDefinitionsKind": {
			reason: "The kind of another definition of the group.", group: "dup.example.com", kind: "Widget",
			crds: []apiextv1.CustomResourceDefinition{crd("dup.example.com", "Widget", "things", "other")},
			want: "kind Widget (things) of group dup.example.com is served by the CustomResourceDefinition things.dup.example.com of the CompositeDefinition other.dup.example.com",
		},
		"AnotherDefinitionsRefusedNames": {
			reason: "Not when the API server refused that CRD's names: of two definitions created at once, the first served wins.", group: "dup.example.com", kind: "Widget",
			crds: []apiextv1.CustomResourceDefinition{refusedNames(crd("dup.example.com", "Widget", "things", "other"))},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			def := definitionWith(tc.group, tc.kind)
			if diff := cmp.Diff(tc.want, apiConflict(def, builtin, tc.crds)); diff != "" {
				t.Errorf("%s\napiConflict(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
