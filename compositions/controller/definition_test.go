package controller

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
)

func loadExample(t *testing.T, name string) *v1alpha1.CompositeDefinition {
	t.Helper()
	b, err := os.ReadFile("../examples/" + name + "/definition.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := &v1alpha1.CompositeDefinition{}
	if err := yaml.Unmarshal(b, def); err != nil {
		t.Fatal(err)
	}
	return def
}

func TestNewCRD(t *testing.T) {
	def := loadExample(t, "appstorage")
	crd, err := newCRD(def)
	if err != nil {
		t.Fatalf("newCRD(...): %v", err)
	}
	type summary struct {
		Name, Group, Kind, Plural string
		Scope                     apiextv1.ResourceScope
		Categories, ShortNames    []string
		Version                   string
		StatusSubresource         bool
		Columns                   []string
		SpecRequired              []string
		StatusFields              []string
	}
	v := crd.Spec.Versions[0]
	var columns []string
	for _, c := range v.AdditionalPrinterColumns {
		columns = append(columns, c.Name)
	}
	props := v.Schema.OpenAPIV3Schema.Properties
	var statusFields []string
	for _, k := range []string{"bucketName", "bucketURL", "databaseHost", "databaseName", "conditions", "observedGeneration"} {
		if _, ok := props["status"].Properties[k]; ok {
			statusFields = append(statusFields, k)
		}
	}
	got := summary{
		Name: crd.Name, Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind, Plural: crd.Spec.Names.Plural,
		Scope: crd.Spec.Scope, Categories: crd.Spec.Names.Categories, ShortNames: crd.Spec.Names.ShortNames,
		Version: v.Name, StatusSubresource: v.Subresources != nil && v.Subresources.Status != nil,
		Columns: columns, SpecRequired: props["spec"].Required, StatusFields: statusFields,
	}
	want := summary{
		Name: "appstorages.platform.example.com", Group: "platform.example.com", Kind: "AppStorage", Plural: "appstorages",
		Scope: apiextv1.NamespaceScoped, Categories: []string{"composite"}, ShortNames: []string{"appst"},
		Version: "v1alpha1", StatusSubresource: true,
		Columns:      []string{"READY", "SYNCED", "AGE"},
		SpecRequired: []string{"team"},
		StatusFields: []string{"bucketName", "bucketURL", "databaseHost", "databaseName", "conditions", "observedGeneration"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("newCRD(appstorage): -want, +got:\n%s", diff)
	}
}

func TestNewCRDVersions(t *testing.T) {
	def := loadExample(t, "appstorage")
	def.Spec.Versions = []v1alpha1.CompositeVersion{
		{Name: "v1alpha1", Served: true, Deprecated: true},
		{Name: "v1beta1", Served: true, Storage: true},
	}
	crd, err := newCRD(def)
	if err != nil {
		t.Fatalf("newCRD(...): %v", err)
	}
	type version struct {
		Name                        string
		Served, Storage, Deprecated bool
		SpecRequired                []string
	}
	var got []version
	for _, v := range crd.Spec.Versions {
		got = append(got, version{v.Name, v.Served, v.Storage, v.Deprecated, v.Schema.OpenAPIV3Schema.Properties["spec"].Required})
	}
	want := []version{
		{Name: "v1alpha1", Served: true, Deprecated: true, SpecRequired: []string{"team"}},
		{Name: "v1beta1", Served: true, Storage: true, SpecRequired: []string{"team"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("newCRD(...).Spec.Versions: -want, +got:\n%s", diff)
	}
	if crd.Spec.Conversion != nil {
		t.Errorf("newCRD(...).Spec.Conversion = %+v, want nil: the default, None", crd.Spec.Conversion)
	}
}

func TestComposedKinds(t *testing.T) {
	cases := map[string]struct {
		reason  string
		example string
		want    []schema.GroupVersionKind
	}{
		"TwoKinds": {
			reason:  "A Bucket and a Database are two kinds.",
			example: "appstorage",
			want: []schema.GroupVersionKind{
				{Group: "storage.stratus.dev", Version: "v1alpha1", Kind: "Bucket"},
				{Group: "database.stratus.dev", Version: "v1alpha1", Kind: "Database"},
			},
		},
		"OneKindTwice": {
			reason:  "Two Buckets are one kind.",
			example: "static-website",
			want:    []schema.GroupVersionKind{{Group: "storage.stratus.dev", Version: "v1alpha1", Kind: "Bucket"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := composedKinds(loadExample(t, tc.example))
			if err != nil {
				t.Fatalf("%s\ncomposedKinds(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ncomposedKinds(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBreakingMessage(t *testing.T) {
	err := errors.New("spec.size: required value")
	cases := map[string]struct {
		broken []brokenInstance
		want   string
	}{
		"One": {
			broken: []brokenInstance{{name: "shop/orders", err: err}},
			want:   "would break 1 instance: shop/orders: spec.size: required value; still serving the previous generation",
		},
		"Many": {
			broken: []brokenInstance{{"a/1", err}, {"a/2", err}, {"a/3", err}, {"a/4", err}, {"a/5", err}},
			want: "would break 5 instances: a/1: spec.size: required value; a/2: spec.size: required value; " +
				"a/3: spec.size: required value; and 2 more; still serving the previous generation",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := breakingMessage(tc.broken); got != tc.want {
				t.Errorf("breakingMessage(...):\ngot  %q\nwant %q", got, tc.want)
			}
		})
	}
}
