package catalog

import (
	"context"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// The catalog lists valid definitions, finds a composite kind, ignores an
// invalid definition and follows generations.
func TestCatalog(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := compositionsv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	site := definition(t, "static-website")
	broken := definition(t, "appstorage")
	broken.Name = "broken.example.com"
	broken.Spec.Group = "broken.example.com"
	broken.Spec.Resources[0].Template.Raw = []byte(`{"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket", "spec": {"region": "${spec.nosuchfield}"}}`)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(site, broken).Build()
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
