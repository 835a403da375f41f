package catalog

import (
	"context"
	"os"
	"testing"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
)

func definition(t *testing.T, example string) *compositionsv1alpha1.CompositeDefinition {
	t.Helper()
	b, err := os.ReadFile("../examples/" + example + "/definition.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := &compositionsv1alpha1.CompositeDefinition{}
	if err := yaml.Unmarshal(b, def); err != nil {
		t.Fatal(err)
	}
	def.Generation = 1
	return def
}

// served marks def as the operator marks a definition it serves:
// Established, with its CRD, which it controls.
func served(t *testing.T, def *compositionsv1alpha1.CompositeDefinition) (*compositionsv1alpha1.CompositeDefinition, *apiextv1.CustomResourceDefinition) {
	t.Helper()
	def.UID = types.UID("uid-" + def.Name)
	meta.SetStatusCondition(&def.Status.Conditions, metav1.Condition{Type: "Established", Status: metav1.ConditionTrue, Reason: "Established"})
	crd := &apiextv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{
		Name: def.Spec.Names.Plural + "." + def.Spec.Group,
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: compositionsv1alpha1.GroupVersion.String(), Kind: "CompositeDefinition",
			Name: def.Name, UID: def.UID, Controller: ptr.To(true),
		}},
	}}
	return def, crd
}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{compositionsv1alpha1.AddToScheme, apiextv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return scheme
}

// The catalog lists valid definitions, finds a composite kind, ignores an
// invalid definition and follows generations.
func TestCatalog(t *testing.T) {
	site, crd := served(t, definition(t, "static-website"))
	broken := definition(t, "appstorage")
	broken.Name = "broken.example.com"
	broken.Spec.Group = "broken.example.com"
	broken.Spec.Resources[0].Template.Raw = []byte(`{"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket", "spec": {"region": "${spec.nosuchfield}"}}`)
	broken, brokenCRD := served(t, broken)
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(site, crd, broken, brokenCRD).Build()
	cat := New(c)
	ctx := context.Background()

	kinds, err := cat.Kinds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 1 || kinds[0].GroupVersionKind != (schema.GroupVersionKind{Group: "platform.example.com", Version: "v1alpha1", Kind: "StaticWebsite"}) || kinds[0].Resource != "staticwebsites" {
		t.Fatalf("kinds = %+v, want only StaticWebsite", kinds)
	}
	comp, err := cat.Lookup(ctx, schema.GroupKind{Group: "platform.example.com", Kind: "StaticWebsite"})
	if err != nil || comp == nil {
		t.Fatalf("Lookup(StaticWebsite) = %v, %v", comp, err)
	}
	if again, _ := cat.Lookup(ctx, schema.GroupKind{Group: "platform.example.com", Kind: "StaticWebsite"}); again != comp {
		t.Error("the same generation was compiled twice")
	}
	if none, err := cat.Lookup(ctx, schema.GroupKind{Group: "storage.stratus.dev", Kind: "Bucket"}); none != nil || err != nil {
		t.Errorf("Lookup(Bucket) = %v, %v, want nil", none, err)
	}

	// A deleted definition is forgotten.
	if err := c.Delete(ctx, site); err != nil {
		t.Fatal(err)
	}
	if comp, _ := cat.Lookup(ctx, schema.GroupKind{Group: "platform.example.com", Kind: "StaticWebsite"}); comp != nil {
		t.Error("a deleted definition is still served")
	}
}

// TestCatalogOnlyServedKinds: a valid definition is a composite kind only
// while the operator serves it, through a CRD it created.
func TestCatalogOnlyServedKinds(t *testing.T) {
	cases := map[string]struct {
		reason string
		change func(def *compositionsv1alpha1.CompositeDefinition, crd *apiextv1.CustomResourceDefinition) []client.Object
		want   bool
	}{
		"Served": {
			reason: "Established, with the CRD it controls.",
			change: func(def *compositionsv1alpha1.CompositeDefinition, crd *apiextv1.CustomResourceDefinition) []client.Object {
				return []client.Object{def, crd}
			},
			want: true,
		},
		"NotEstablished": {
			reason: "Not Established: refused, or not served yet.",
			change: func(def *compositionsv1alpha1.CompositeDefinition, crd *apiextv1.CustomResourceDefinition) []client.Object {
				meta.SetStatusCondition(&def.Status.Conditions, metav1.Condition{Type: "Established", Status: metav1.ConditionFalse, Reason: "NotValid"})
				return []client.Object{def, crd}
			},
		},
		"NoCRD": {
			reason: "No CRD of the kind.",
			change: func(def *compositionsv1alpha1.CompositeDefinition, _ *apiextv1.CustomResourceDefinition) []client.Object {
				return []client.Object{def}
			},
		},
		"AnotherProjectsCRD": {
			reason: "The CRD of that name is another's: the definition does not control it.",
			change: func(def *compositionsv1alpha1.CompositeDefinition, crd *apiextv1.CustomResourceDefinition) []client.Object {
				crd.OwnerReferences = nil
				return []client.Object{def, crd}
			},
		},
		"AnotherDefinitionsCRD": {
			reason: "The CRD of that name is another definition's.",
			change: func(def *compositionsv1alpha1.CompositeDefinition, crd *apiextv1.CustomResourceDefinition) []client.Object {
				crd.OwnerReferences[0].UID = "another"
				return []client.Object{def, crd}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			def, crd := served(t, definition(t, "static-website"))
			c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithObjects(tc.change(def, crd)...).Build()
			kinds, err := New(c).Kinds(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(kinds) == 1; got != tc.want {
				t.Errorf("%s\nKinds(...): StaticWebsite listed %t, want %t", tc.reason, got, tc.want)
			}
		})
	}
}
