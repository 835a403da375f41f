package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
)

// testSchema is the schema of the test definitions unless they bring
// their own.
const testSchema = `schema:
  spec:
    type: object
    properties:
      owner: {type: string}
      region: {type: string}
      size: {type: integer, default: 10}
      ratio: {type: number}
      public: {type: boolean, default: false}
      tags: {type: array, items: {type: string}}
      labels: {type: object, additionalProperties: {type: string}}
      database:
        type: object
        default: {}
        properties:
          version: {type: string, default: "16"}
          enabled: {type: boolean, default: true}
      extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
  status:
    type: object
    properties:
      host: {type: string}
      port: {type: integer}
      endpoints:
        type: object
        properties:
          db: {type: string}
          bucket: {type: string}
`

// newDefinition returns a definition of the kind Test with the spec fields
// in body, and testSchema unless body has a schema.
func newDefinition(t testing.TB, body string) *v1alpha1.CompositeDefinition {
	t.Helper()
	if !strings.Contains(body, "\nschema:") && !strings.HasPrefix(body, "schema:") {
		body = testSchema + body
	}
	if !strings.Contains(body, "\nversions:") && !strings.HasPrefix(body, "versions:") {
		body = "versions: [{name: v1alpha1, served: true, storage: true}]\n" + body
	}
	doc := "apiVersion: compositions.stratus.dev/v1alpha1\nkind: CompositeDefinition\nmetadata: {name: tests.example.com}\nspec:\n  group: example.com\n  names: {kind: Test, plural: tests}\n" + indent(body, "  ")
	def := &v1alpha1.CompositeDefinition{}
	if err := yaml.UnmarshalStrict([]byte(doc), def); err != nil {
		t.Fatalf("cannot parse the test definition: %v\n%s", err, doc)
	}
	return def
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// compile compiles a test definition, failing the test on an error.
func compile(t testing.TB, body string) *Composition {
	t.Helper()
	c, err := Compile(newDefinition(t, body))
	if err != nil {
		t.Fatalf("Compile(...): %v", err)
	}
	return c
}

// object parses a YAML object.
func object(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	// As the API server's objects, with integers as int64.
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("cannot parse object: %v\n%s", err, doc)
	}
	m := map[string]any{}
	if err := utiljson.Unmarshal(j, &m); err != nil {
		t.Fatalf("cannot parse object: %v\n%s", err, doc)
	}
	return &unstructured.Unstructured{Object: m}
}

// instance returns a Test in namespace ns with the given spec.
func instance(t testing.TB, spec string) *unstructured.Unstructured {
	t.Helper()
	return object(t, "apiVersion: example.com/v1alpha1\nkind: Test\nmetadata: {name: app, namespace: ns}\nspec:\n"+indent(spec, "  "))
}

// A bucket and a database whose annotation refers to the bucket.
const bucketAndDatabase = `resources:
- name: bucket
  template:
    apiVersion: storage.stratus.dev/v1alpha1
    kind: Bucket
    spec:
      region: ${spec.?region}
- name: db
  template:
    apiVersion: database.stratus.dev/v1alpha1
    kind: Database
    metadata:
      annotations:
        example.com/bucket: ${resources.bucket.status.atProvider.name}
    spec:
      owner: ${spec.owner}
`
