package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// resource returns a resources list of one Bucket whose spec is spec.
func resource(spec string) string {
	return "resources:\n- name: bucket\n  template:\n    apiVersion: storage.stratus.dev/v1alpha1\n    kind: Bucket\n    spec:\n" + indent(spec, "      ")
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]struct {
		reason string
		body   string
		want   string
	}{
		"UnknownSpecField": {
			reason: "A reference to a field the spec schema does not declare fails with the template path.",
			body: `resources:
- name: bucket
  template: {apiVersion: storage.stratus.dev/v1alpha1, kind: Bucket}
- name: db
  template:
    apiVersion: database.stratus.dev/v1alpha1
    kind: Database
    spec:
      owner: ${spec.nosuchfield}
`,
			want: "resources[1] (db) template .spec.owner: undefined field 'nosuchfield'",
		},
		"UnknownNestedSpecField": {
			reason: "Nested objects of the schema are typed too.",
			body:   resource(`version: "v${spec.database.versoin}"`),
			want:   "resources[0] (bucket) template .spec.version: undefined field 'versoin'",
		},
		"UnknownMetadataField": {
			reason: "metadata has name, namespace, labels and annotations only.",
			body:   resource(`uid: ${metadata.uid}`),
			want:   "resources[0] (bucket) template .spec.uid: undefined field 'uid'",
		},
		"NamespaceOfNamespacedComposite": {
			reason: "A namespaced composite's resources are in its namespace: a template cannot name another.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {namespace: kube-system}\n",
			want:   "resources[0] (bucket) template .metadata.namespace: the resources of a namespaced composite are in the composite's namespace: remove metadata.namespace",
		},
		"TemplatedNamespaceOfNamespacedComposite": {
			reason: "Nor compute one.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {namespace: '${spec.owner}'}\n",
			want:   "resources[0] (bucket) template .metadata.namespace: the resources of a namespaced composite are in the composite's namespace: remove metadata.namespace",
		},
		"InvalidLabelKey": {
			reason: "Label keys are checked when the definition is compiled.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {labels: {'a b': x}}\n",
			want:   `resources[0] (bucket) template .metadata.labels["a b"]: "a b" is not a valid label key: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		},
		"InvalidLiteralLabelValue": {
			reason: "A label value without expressions is checked when the definition is compiled.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {labels: {team: 'Team A'}}\n",
			want:   `resources[0] (bucket) template .metadata.labels.team: "Team A" is not a valid label value: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
		},
		"NonStringLabelExpression": {
			reason: "A label value that is a whole expression must be a string.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {labels: {size: '${spec.size}'}}\n",
			want:   "resources[0] (bucket) template .metadata.labels.size: ${spec.size} is a int, and this field is a string: convert it with string()",
		},
		"NonStringAnnotation": {
			reason: "Annotation values are strings.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {annotations: {example.com/n: 3}}\n",
			want:   `resources[0] (bucket) template .metadata.annotations["example.com/n"]: must be a string, not a number`,
		},
		"ReservedStatusField": {
			reason: "status.composedResources is the controller's.",
			body:   resource("region: x") + "status:\n  composedResources: spec.owner\n",
			want:   "status.composedResources: composedResources is written by the composite controller",
		},
		"UnknownFieldInStatus": {
			reason: "Status expressions are type-checked against the spec too.",
			body:   resource("region: us-east-1") + "status:\n  host: spec.hots\n",
			want:   "status.host: undefined field 'hots'",
		},
		"BadSyntax": {
			reason: "A syntax error names the template path.",
			body:   resource(`size: ${spec.size +}`),
			want:   "resources[0] (bucket) template .spec.size: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
		},
		"Unterminated": {
			reason: "An expression without its closing brace is an error.",
			body:   resource(`name: "a-${spec.owner"`),
			want:   `resources[0] (bucket) template .spec.name: unterminated expression "${spec.owner": missing }`,
		},
		"EmptyExpression": {
			reason: "${} is an error.",
			body:   resource(`name: "a-${ }"`),
			want:   "resources[0] (bucket) template .spec.name: empty expression ${}",
		},
		"KeyWithExpression": {
			reason: "Keys cannot hold expressions.",
			body:   resource(`labels: {"${spec.owner}": x}`),
			want:   `resources[0] (bucket) template .spec.labels["${spec.owner}"]: expressions are not allowed in keys`,
		},
		"UnknownResource": {
			reason: "resources.<name> must name a resource of the definition.",
			body:   resource(`name: ${resources.nope.status.name}`),
			want:   `resources[0] (bucket) template .spec.name: unknown resource "nope" (resources are bucket)`,
		},
		"SelfReference": {
			reason: "A resource cannot depend on itself.",
			body:   resource(`name: ${resources.bucket.metadata.name}`),
			want:   "resources[0] (bucket) template .spec.name: a resource cannot refer to itself (resources.bucket); readyWhen sees it as self",
		},
		"BareResources": {
			reason: "resources must be followed by a name, so that dependencies are known.",
			body:   resource(`count: ${size(resources)}`),
			want:   "resources[0] (bucket) template .spec.count: resources must be followed by the name of a resource, as in resources.db",
		},
		"DynamicResourceName": {
			reason: "A resource named at run time hides the dependency, so it is an error.",
			body:   resource(`name: ${resources[spec.owner].metadata.name}`),
			want:   "resources[0] (bucket) template .spec.name: resources must be followed by the name of a resource, as in resources.db",
		},
		"Cycle": {
			reason: "A dependency cycle is reported with its members.",
			body: `resources:
- name: first
  template: {apiVersion: v1, kind: ConfigMap}
- name: a
  template:
    apiVersion: v1
    kind: ConfigMap
    data: {b: "${resources.b.metadata.name}"}
- name: b
  template:
    apiVersion: v1
    kind: ConfigMap
    data: {c: "${resources.c.metadata.name}"}
- name: c
  template:
    apiVersion: v1
    kind: ConfigMap
    data: {a: "${resources.a.metadata.name}"}
`,
			want: "resources[1] (a): cycle: a -> b -> c -> a",
		},
		"CycleThroughIncludeWhen": {
			reason: "includeWhen creates dependencies too.",
			body: `resources:
- name: a
  includeWhen: has(resources.b.status)
  template: {apiVersion: v1, kind: ConfigMap}
- name: b
  template:
    apiVersion: v1
    kind: ConfigMap
    data: {a: "${resources.a.metadata.name}"}
`,
			want: "resources[0] (a): cycle: a -> b -> a",
		},
		"InterpolatedList": {
			reason: "A list cannot be interpolated into a string; as the whole value it is fine.",
			body:   resource("name: \"tags-${spec.tags}\"\ntags: ${spec.tags}"),
			want:   "resources[0] (bucket) template .spec.name: ${spec.tags} is a list(string), which cannot be interpolated into a string; make it the whole value",
		},
		"IncludeWhenNotBool": {
			reason: "includeWhen must be a bool.",
			body:   resource("region: x") + "  includeWhen: spec.owner\n",
			want:   "resources[0] (bucket) includeWhen: must be a bool expression, not a string",
		},
		"IncludeWhenInterpolated": {
			reason: "includeWhen is one expression.",
			body:   resource("region: x") + "  includeWhen: \"on-${spec.public}\"\n",
			want:   "resources[0] (bucket) includeWhen: must be one expression, not text with ${...} in it",
		},
		"ReadyWhenSeesNoResources": {
			reason: "readyWhen sees self, spec and metadata, not the other resources.",
			body:   resource("region: x") + "  readyWhen: resources.bucket.status.ready\n",
			want:   "resources[0] (bucket) readyWhen: undeclared reference to 'resources' (in container '')",
		},
		"TypeError": {
			reason: "Type errors are found at compile time.",
			body:   resource(`size: ${spec.size + "1"}`),
			want:   "resources[0] (bucket) template .spec.size: found no matching overload for '_+_' applied to '(int, string)'",
		},
		"MissingKind": {
			reason: "A template needs apiVersion and kind.",
			body:   "resources:\n- name: bucket\n  template: {apiVersion: v1}\n",
			want:   "resources[0] (bucket) template .kind: required",
		},
		"DuplicateName": {
			reason: "Resource names are unique.",
			body:   "resources:\n- name: a\n  template: {apiVersion: v1, kind: ConfigMap}\n- name: a\n  template: {apiVersion: v1, kind: ConfigMap}\n",
			want:   `resources[1] (a): duplicate resource name "a"`,
		},
		"StatusNotInSchema": {
			reason: "Status fields must be in the status schema.",
			body:   resource("region: x") + "status:\n  hostname: resources.bucket.status.host\n",
			want:   "status.hostname: not a field of the status schema",
		},
		"StatusWrongType": {
			reason: "A status expression must fit the schema's type.",
			body:   resource("region: x") + "status:\n  port: spec.owner\n",
			want:   "status.port: the expression is a string, but the status schema says integer",
		},
		"StatusReserved": {
			reason: "The controller writes the conditions.",
			body:   "schema:\n  spec: {type: object}\n" + resource("region: x") + "status:\n  conditions: '[]'\n",
			want:   "status.conditions: conditions is written by the composite controller",
		},
		"ConnectionUnknownResource": {
			reason: "A Secret reference names a resource of the definition.",
			body:   resource("region: x") + "connectionSecret:\n  data:\n    password: secret:db.password\n",
			want:   `connectionSecret.data.password: unknown resource "db" (resources are bucket)`,
		},
		"ConnectionBadReference": {
			reason: "A Secret reference is secret:<resource>.<key>.",
			body:   resource("region: x") + "connectionSecret:\n  data:\n    password: secret:bucket\n",
			want:   `connectionSecret.data.password: a Secret reference is secret:<resource>.<key>, not "secret:bucket"`,
		},
		"ConnectionBadKey": {
			reason: "Keys must be valid Secret keys.",
			body:   resource("region: x") + "connectionSecret:\n  data:\n    \"a/b\": spec.owner\n",
			want:   "connectionSecret.data.a/b: not a valid Secret key: use letters, digits, '-', '_' and '.'",
		},
		"ConnectionNotText": {
			reason: "A Secret value is text or bytes.",
			body:   resource("region: x") + "connectionSecret:\n  data:\n    tags: spec.tags\n",
			want:   "connectionSecret.data.tags: the expression is a list(string); a Secret value must be a string, bytes, number or bool",
		},
		"ConnectionUnknownField": {
			reason: "Connection expressions are type-checked.",
			body:   resource("region: x") + "connectionSecret:\n  data:\n    owner: spec.ownr\n",
			want:   "connectionSecret.data.owner: undefined field 'ownr'",
		},
		"SchemaUnknownType": {
			reason: "A schema type must be one of OpenAPI's.",
			body:   "schema:\n  spec:\n    type: object\n    properties:\n      size: {type: int}\n" + resource("region: x"),
			want:   `schema.spec.properties.size.type: unknown type "int": use object, array, string, integer, number or boolean`,
		},
		"SchemaUnknownKeyword": {
			reason: "A misspelt keyword is an error, not ignored.",
			body:   "schema:\n  spec:\n    type: object\n    propertes: {}\n" + resource("region: x"),
			want:   `schema.spec: cannot parse the OpenAPI v3 schema: json: unknown field "propertes"`,
		},
		"SchemaArrayWithoutItems": {
			reason: "An array needs items.",
			body:   "schema:\n  spec:\n    type: object\n    properties:\n      tags: {type: array}\n" + resource("region: x"),
			want:   "schema.spec.properties.tags.items: an array needs an items schema",
		},
		"SchemaNotObject": {
			reason: "The spec schema is an object.",
			body:   "schema:\n  spec:\n    type: string\n" + resource("region: x"),
			want:   `schema.spec.type: must be object, not "string"`,
		},
		"SchemaBadDefault": {
			reason: "Defaults must fit their schema.",
			body:   "schema:\n  spec:\n    type: object\n    properties:\n      size: {type: integer, default: big}\n" + resource("region: x"),
			want:   "schema.spec.properties.size.default: default: must be an integer, not a string",
		},
		"NoStorageVersion": {
			reason: "Exactly one version is the storage version.",
			body:   "versions: [{name: v1alpha1, served: true}, {name: v1beta1, served: true}]\n" + resource("region: x"),
			want:   "versions: exactly one version must be the storage version, not 0",
		},
		"DuplicateVersion": {
			reason: "Version names are unique.",
			body:   "versions: [{name: v1, served: true, storage: true}, {name: v1, served: true}]\n" + resource("region: x"),
			want:   `versions[1].name: duplicate version "v1"`,
		},
		"StorageVersionNotServed": {
			reason: "Instances are watched at the storage version, so it is served.",
			body:   "versions: [{name: v1alpha1, served: true}, {name: v1beta1, storage: true}]\n" + resource("region: x"),
			want:   "versions[1].served: the storage version must be served",
		},
		"ManyErrors": {
			reason: "Every error is reported, in definition order.",
			body:   resource("a: ${spec.x}\nb: ${spec.y}") + "status:\n  host: spec.z\n",
			want:   "resources[0] (bucket) template .spec.a: undefined field 'x'; resources[0] (bucket) template .spec.b: undefined field 'y'; status.host: undefined field 'z'",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(newDefinition(t, tc.body))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nCompile(...): -want error, +got error:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestCompileErrorType(t *testing.T) {
	_, err := Compile(newDefinition(t, resource("a: ${spec.x}")))
	invalid, ok := err.(*InvalidDefinitionError)
	if !ok {
		t.Fatalf("Compile(...): got %T, want *InvalidDefinitionError", err)
	}
	want := []*FieldError{{Path: "resources[0] (bucket) template .spec.a", Reason: "undefined field 'x'"}}
	if diff := cmp.Diff(want, invalid.Errors); diff != "" {
		t.Errorf("Compile(...).Errors: -want, +got:\n%s", diff)
	}
}

func TestOrder(t *testing.T) {
	cm := func(name, data string) string {
		return "- name: " + name + "\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    data: {x: \"" + data + "\"}\n"
	}
	cases := map[string]struct {
		reason    string
		resources string
		status    string
		want      []string
		deps      map[string][]string
	}{
		"Declaration": {
			reason:    "Without dependencies, resources are created in declaration order.",
			resources: cm("c", "1") + cm("a", "2") + cm("b", "3"),
			want:      []string{"c", "a", "b"},
			deps:      map[string][]string{"a": {}, "b": {}, "c": {}},
		},
		"Dependencies": {
			reason:    "A resource comes after those it refers to.",
			resources: cm("app", "${resources.db.metadata.name}") + cm("db", "${resources.net.metadata.name}") + cm("net", "x"),
			want:      []string{"net", "db", "app"},
			deps:      map[string][]string{"app": {"db"}, "db": {"net"}, "net": {}},
		},
		"StableTies": {
			reason:    "Among resources free to go, the first declared goes first.",
			resources: cm("c", "${resources.a.metadata.name}") + cm("a", "x") + cm("b", "y"),
			want:      []string{"a", "c", "b"},
			deps:      map[string][]string{"a": {}, "b": {}, "c": {"a"}},
		},
		"Diamond": {
			reason:    "Several dependencies.",
			resources: cm("top", "${resources.left.metadata.name}-${resources.right.metadata.name}") + cm("right", "${resources.base.metadata.name}") + cm("left", "${resources.base.metadata.name}") + cm("base", "x"),
			want:      []string{"base", "right", "left", "top"},
			deps:      map[string][]string{"top": {"left", "right"}, "right": {"base"}, "left": {"base"}, "base": {}},
		},
		"IncludeWhen": {
			reason:    "includeWhen adds dependencies; status does not.",
			resources: "- name: b\n  includeWhen: resources.a.metadata.name != ''\n  template: {apiVersion: v1, kind: ConfigMap}\n" + cm("a", "x"),
			status:    "status:\n  x: resources.b.data\n",
			want:      []string{"a", "b"},
			deps:      map[string][]string{"a": {}, "b": {"a"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := compile(t, "schema:\n  spec: {type: object}\nresources:\n"+tc.resources+tc.status)
			if diff := cmp.Diff(tc.want, c.Order()); diff != "" {
				t.Errorf("%s\nOrder(): -want, +got:\n%s", tc.reason, diff)
			}
			rev := make([]string, len(tc.want))
			for i, n := range tc.want {
				rev[len(tc.want)-1-i] = n
			}
			if diff := cmp.Diff(rev, c.DeletionOrder()); diff != "" {
				t.Errorf("%s\nDeletionOrder(): -want, +got:\n%s", tc.reason, diff)
			}
			for n, want := range tc.deps {
				if diff := cmp.Diff(want, c.Dependencies(n), cmpEmpty); diff != "" {
					t.Errorf("%s\nDependencies(%q): -want, +got:\n%s", tc.reason, n, diff)
				}
			}
		})
	}
}

// cmpEmpty makes nil and empty slices and maps equal.
var cmpEmpty = cmp.FilterValues(func(a, b any) bool {
	return isEmpty(a) && isEmpty(b)
}, cmp.Comparer(func(_, _ any) bool { return true }))

func isEmpty(v any) bool {
	switch v := v.(type) {
	case []string:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	case map[string][]byte:
		return len(v) == 0
	case map[string]string:
		return len(v) == 0
	case []SecretRef:
		return len(v) == 0
	case []PendingResource:
		return len(v) == 0
	}
	return false
}

func TestVersions(t *testing.T) {
	c := compile(t, "versions:\n- {name: v1alpha1, served: true}\n- {name: v1beta1, served: true, storage: true}\n- {name: v1, served: false}\n"+resource("region: ${spec.?region.orValue('eu')}"))
	if got, want := c.GroupVersionKind(), (schema.GroupVersionKind{Group: "example.com", Version: "v1beta1", Kind: "Test"}); got != want {
		t.Errorf("GroupVersionKind(): got %v, want the storage version's %v", got, want)
	}
	if diff := cmp.Diff([]string{"v1alpha1", "v1beta1"}, c.ServedVersions()); diff != "" {
		t.Errorf("ServedVersions(): -want, +got:\n%s", diff)
	}
	cases := map[string]struct {
		reason     string
		apiVersion string
		want       string
	}{
		"StorageVersion": {
			reason:     "An instance at the storage version renders.",
			apiVersion: "example.com/v1beta1",
		},
		"OtherServedVersion": {
			reason:     "An instance at another served version renders: every version has the one schema.",
			apiVersion: "example.com/v1alpha1",
		},
		"UnservedVersion": {
			reason:     "An instance at a version that is not served does not render.",
			apiVersion: "example.com/v1",
			want:       "the instance's apiVersion example.com/v1 is not a served version of Test (served: v1alpha1, v1beta1)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inst := instance(t, "region: us")
			inst.SetAPIVersion(tc.apiVersion)
			res, err := c.Render(inst, nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("%s\nRender(...): -want error, +got error:\n%s", tc.reason, diff)
			}
			if err != nil {
				return
			}
			if len(res.Resources) != 1 {
				t.Fatalf("%s\nRender(...): got %d resources, want 1", tc.reason, len(res.Resources))
			}
			if got, _, _ := unstructured.NestedString(res.Resources[0].Object.Object, "spec", "region"); got != "us" {
				t.Errorf("%s\nRender(...): spec.region is %q, want us", tc.reason, got)
			}
		})
	}
}
