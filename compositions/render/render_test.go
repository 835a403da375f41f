package render

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// observedBucket is the bucket of bucketAndDatabase as observed: Ready,
// with its cloud name.
const observedBucket = `apiVersion: storage.stratus.dev/v1alpha1
kind: Bucket
metadata: {name: app-bucket, namespace: ns}
status:
  conditions: [{type: Ready, status: "True"}]
  atProvider: {name: ns-app-bucket, url: "https://ns-app-bucket.example.com"}
`

// observedDatabase is the database of bucketAndDatabase as observed.
const observedDatabase = `apiVersion: database.stratus.dev/v1alpha1
kind: Database
metadata: {name: app-db, namespace: ns}
status:
  conditions: [{type: Ready, status: "False"}]
  atProvider: {host: db.example.com, port: 5432, owner: app_owner}
`

// summary is what a test compares of a Result: the rendered objects by
// name, their readiness, and the rest.
type summary struct {
	Objects        map[string]map[string]any
	ReadyResources []string
	Order          []string
	Pending        []PendingResource
	Excluded       []string
	Status         map[string]any
	ConnectionData map[string]string
	SecretRefs     []SecretRef
	Ready          bool
}

func summarize(r *Result) summary {
	s := summary{Objects: map[string]map[string]any{}, Pending: r.Pending, Excluded: r.Excluded, Status: r.Status,
		ConnectionData: map[string]string{}, SecretRefs: r.SecretRefs, Ready: r.Ready}
	for _, res := range r.Resources {
		s.Objects[res.Name] = res.Object.Object
		s.Order = append(s.Order, res.Name)
		if res.Ready {
			s.ReadyResources = append(s.ReadyResources, res.Name)
		}
	}
	for k, v := range r.ConnectionData {
		s.ConnectionData[k] = string(v)
	}
	return s
}

// labels returns the labels Render gives resource name of instance app.
func labels(name string) map[string]any {
	return map[string]any{
		LabelComposite:  "app",
		LabelResource:   name,
		LabelDefinition: "tests.example.com",
	}
}

func TestRender(t *testing.T) {
	type args struct {
		body     string
		spec     string
		observed map[string]string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   summary
	}{
		"PendingUntilObserved": {
			reason: "The database refers to the bucket: it is pending until the bucket is observed.",
			args:   args{body: bucketAndDatabase, spec: "owner: app_owner"},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec":     map[string]any{},
					},
				},
				Order:   []string{"bucket"},
				Pending: []PendingResource{{Name: "db", Reason: "waiting for bucket to be observed"}},
			},
		},
		"PendingUntilField": {
			reason: "An observed bucket without the field the database reads keeps the database pending.",
			args: args{body: bucketAndDatabase, spec: "owner: app_owner", observed: map[string]string{
				"bucket": "apiVersion: storage.stratus.dev/v1alpha1\nkind: Bucket\nmetadata: {name: app-bucket}\nstatus: {conditions: []}\n",
			}},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec":     map[string]any{},
					},
				},
				Order:   []string{"bucket"},
				Pending: []PendingResource{{Name: "db", Reason: `template .metadata.annotations["example.com/bucket"]: waiting for resources.bucket.status.atProvider`}},
			},
		},
		"Rendered": {
			reason: "Once the bucket is observed the database renders with its name; readiness follows the Ready conditions.",
			args: args{body: bucketAndDatabase, spec: "owner: app_owner\nregion: eu-west-1", observed: map[string]string{
				"bucket": observedBucket, "db": observedDatabase,
			}},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec":     map[string]any{"region": "eu-west-1"},
					},
					"db": {
						"apiVersion": "database.stratus.dev/v1alpha1", "kind": "Database",
						"metadata": map[string]any{"name": "app-db", "namespace": "ns", "labels": labels("db"),
							"annotations": map[string]any{"example.com/bucket": "ns-app-bucket"}},
						"spec": map[string]any{"owner": "app_owner"},
					},
				},
				Order:          []string{"bucket", "db"},
				ReadyResources: []string{"bucket"},
			},
		},
		"IndexForm": {
			reason: "resources['name'] is resources.name; has(resources.name) tests whether it is observed.",
			args: args{body: `resources:
- name: a
  template: {apiVersion: v1, kind: ConfigMap}
- name: b
  template:
    apiVersion: v1
    kind: ConfigMap
    data: {a: "${resources['a'].metadata.name}"}
status:
  endpoints.db: "has(resources.b) ? 'b' : 'no b'"
  endpoints.bucket: "has(resources.a) ? 'a' : 'no a'"
`, observed: map[string]string{"a": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-a}\n"}},
			want: summary{
				Objects: map[string]map[string]any{
					"a": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app-a", "namespace": "ns", "labels": labels("a")}},
					"b": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app-b", "namespace": "ns", "labels": labels("b")},
						"data": map[string]any{"a": "app-a"}},
				},
				Order:  []string{"a", "b"},
				Status: map[string]any{"endpoints": map[string]any{"db": "no b", "bucket": "a"}},
			},
		},
		"AllReady": {
			reason: "The result is ready when every resource is.",
			args: args{body: bucketAndDatabase, spec: "owner: o", observed: map[string]string{
				"bucket": observedBucket, "db": strings.Replace(observedDatabase, `"False"`, `"True"`, 1),
			}},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec":     map[string]any{},
					},
					"db": {
						"apiVersion": "database.stratus.dev/v1alpha1", "kind": "Database",
						"metadata": map[string]any{"name": "app-db", "namespace": "ns", "labels": labels("db"),
							"annotations": map[string]any{"example.com/bucket": "ns-app-bucket"}},
						"spec": map[string]any{"owner": "o"},
					},
				},
				Order:          []string{"bucket", "db"},
				ReadyResources: []string{"bucket", "db"},
				Ready:          true,
			},
		},
		"IncludeWhenFalse": {
			reason: "A resource whose includeWhen is false is excluded, and so is a resource that depends on it.",
			args: args{body: `resources:
- name: logs
  includeWhen: ${spec.public}
  template: {apiVersion: v1, kind: ConfigMap}
- name: reader
  template:
    apiVersion: v1
    kind: ConfigMap
    data: {logs: "${resources.logs.metadata.name}"}
- name: other
  template: {apiVersion: v1, kind: ConfigMap}
`, spec: "public: false"},
			want: summary{
				Objects: map[string]map[string]any{
					"other": {"apiVersion": "v1", "kind": "ConfigMap",
						"metadata": map[string]any{"name": "app-other", "namespace": "ns", "labels": labels("other")}},
				},
				Order:    []string{"other"},
				Excluded: []string{"logs", "reader"},
			},
		},
		"IncludeWhenTrue": {
			reason: "A resource whose includeWhen is true is rendered.",
			args: args{body: `resources:
- name: logs
  includeWhen: spec.public && spec.size > 5
  template: {apiVersion: v1, kind: ConfigMap}
`, spec: "public: true"},
			want: summary{
				Objects: map[string]map[string]any{
					"logs": {"apiVersion": "v1", "kind": "ConfigMap",
						"metadata": map[string]any{"name": "app-logs", "namespace": "ns", "labels": labels("logs")}},
				},
				Order: []string{"logs"},
			},
		},
		"IncludeWhenWaits": {
			reason: "An includeWhen that reads a field not observed yet keeps the resource pending.",
			args: args{body: `resources:
- name: a
  template: {apiVersion: v1, kind: ConfigMap}
- name: b
  includeWhen: resources.a.data.enabled == 'true'
  template: {apiVersion: v1, kind: ConfigMap}
`, observed: map[string]string{"a": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-a}\n"}},
			want: summary{
				Objects: map[string]map[string]any{
					"a": {"apiVersion": "v1", "kind": "ConfigMap",
						"metadata": map[string]any{"name": "app-a", "namespace": "ns", "labels": labels("a")}},
				},
				Order:   []string{"a"},
				Pending: []PendingResource{{Name: "b", Reason: "includeWhen: waiting for resources.a.data"}},
			},
		},
		"ReadyWhen": {
			reason: "readyWhen decides readiness over self; a field not there yet means not ready.",
			args: args{body: `resources:
- name: a
  readyWhen: self.data.state == 'done'
  template: {apiVersion: v1, kind: ConfigMap}
- name: b
  readyWhen: ${self.data.state == 'done' && spec.size == 10}
  template: {apiVersion: v1, kind: ConfigMap}
- name: c
  template: {apiVersion: v1, kind: ConfigMap}
`, observed: map[string]string{
				"a": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-a}\n",
				"b": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-b}\ndata: {state: done}\n",
				"c": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-c}\nstatus: {conditions: [{type: Ready, status: 'True'}]}\n",
			}},
			want: summary{
				Objects: map[string]map[string]any{
					"a": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app-a", "namespace": "ns", "labels": labels("a")}},
					"b": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app-b", "namespace": "ns", "labels": labels("b")}},
					"c": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app-c", "namespace": "ns", "labels": labels("c")}},
				},
				Order:          []string{"a", "b", "c"},
				ReadyResources: []string{"b", "c"},
			},
		},
		"StatusAndConnection": {
			reason: "Status and connection data project what is observed, leaving out what is not; Secret references follow rendered resources.",
			args: args{body: bucketAndDatabase + `status:
  host: resources.db.status.atProvider.host
  port: resources.db.status.atProvider.port
  endpoints.bucket: resources.bucket.status.atProvider.url
  endpoints.db: "${resources.db.status.atProvider.host + ':' + string(resources.db.status.atProvider.port)}"
connectionSecret:
  data:
    bucket: resources.bucket.status.atProvider.name
    host: resources.db.status.atProvider.host
    port: resources.db.status.atProvider.port
    user: ${resources.db.status.atProvider.owner}
    password: secret:db.password
    endpoint: secret:bucket.endpoint
    owner: spec.owner
    raw: b'\x00\x01'
`, spec: "owner: o", observed: map[string]string{"bucket": observedBucket}},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec":     map[string]any{},
					},
					"db": {
						"apiVersion": "database.stratus.dev/v1alpha1", "kind": "Database",
						"metadata": map[string]any{"name": "app-db", "namespace": "ns", "labels": labels("db"),
							"annotations": map[string]any{"example.com/bucket": "ns-app-bucket"}},
						"spec": map[string]any{"owner": "o"},
					},
				},
				Order:          []string{"bucket", "db"},
				ReadyResources: []string{"bucket"},
				Status:         map[string]any{"endpoints": map[string]any{"bucket": "https://ns-app-bucket.example.com"}},
				ConnectionData: map[string]string{"bucket": "ns-app-bucket", "owner": "o", "raw": "\x00\x01"},
				SecretRefs:     []SecretRef{{Key: "endpoint", Resource: "bucket", SecretKey: "endpoint"}, {Key: "password", Resource: "db", SecretKey: "password"}},
			},
		},
		"StatusAndConnectionObserved": {
			reason: "With everything observed, every field is projected.",
			args: args{body: bucketAndDatabase + `status:
  host: resources.db.status.atProvider.host
  port: resources.db.status.atProvider.port
  endpoints.db: "${resources.db.status.atProvider.host + ':' + string(resources.db.status.atProvider.port)}"
connectionSecret:
  data:
    host: resources.db.status.atProvider.host
    port: resources.db.status.atProvider.port
    password: secret:db.password
`, spec: "owner: o", observed: map[string]string{"bucket": observedBucket, "db": observedDatabase}},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec":     map[string]any{},
					},
					"db": {
						"apiVersion": "database.stratus.dev/v1alpha1", "kind": "Database",
						"metadata": map[string]any{"name": "app-db", "namespace": "ns", "labels": labels("db"),
							"annotations": map[string]any{"example.com/bucket": "ns-app-bucket"}},
						"spec": map[string]any{"owner": "o"},
					},
				},
				Order:          []string{"bucket", "db"},
				ReadyResources: []string{"bucket"},
				Status:         map[string]any{"host": "db.example.com", "port": int64(5432), "endpoints": map[string]any{"db": "db.example.com:5432"}},
				ConnectionData: map[string]string{"host": "db.example.com", "port": "5432"},
				SecretRefs:     []SecretRef{{Key: "password", Resource: "db", SecretKey: "password"}},
			},
		},
		"Typing": {
			reason: "A whole-value expression keeps its type; interpolation makes a string; an empty optional leaves the field out; defaults apply.",
			args: args{body: resource(`size: ${spec.size}
double: ${spec.size * 2}
ratio: ${spec.ratio}
public: ${spec.public}
tags: ${spec.tags}
labels: ${spec.labels}
sorted: ${spec.labels.map(k, k + '=' + spec.labels[k])}
version: ${spec.database.version}
text: "size ${spec.size}, ratio ${spec.ratio}, public ${spec.public}, ${spec.tags.size()} tags"
escaped: "$${literal} ${spec.owner}"
region: ${spec.?region}
owner: ${spec.?owner}
list: ["${spec.owner}", "${spec.?region}", "x"]
object: "${ {'a': spec.size, 'b': [1, 2.5, 'c', null]} }"
nested: {deep: "${'{' + spec.owner + '}'}"}
`), spec: "owner: me\nratio: 2\ntags: [x, w]\nlabels: {z: '1', a: '2', m: '3'}"},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec": map[string]any{
							"size":    int64(10),
							"double":  int64(20),
							"ratio":   float64(2),
							"public":  false,
							"tags":    []any{"x", "w"},
							"labels":  map[string]any{"z": "1", "a": "2", "m": "3"},
							"sorted":  []any{"a=2", "m=3", "z=1"},
							"version": "16",
							"text":    "size 10, ratio 2, public false, 2 tags",
							"escaped": "${literal} me",
							"owner":   "me",
							"list":    []any{"me", "x"},
							"object":  map[string]any{"a": int64(10), "b": []any{int64(1), 2.5, "c", nil}},
							"nested":  map[string]any{"deep": "{me}"},
						},
					},
				},
				Order: []string{"bucket"},
			},
		},
		"NamesAndLabels": {
			reason: "Names default to <instance>-<resource> in kebab case; a template's name, namespace and labels are kept; a cluster-scoped composite sets no namespace.",
			args: args{body: `scope: Cluster
resources:
- name: logsBucket
  template: {apiVersion: v1, kind: ConfigMap}
- name: named
  template:
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: ${metadata.name + '-custom'}
      namespace: elsewhere
      labels: {team: "${spec.owner}", compositions.stratus.dev/resource: spoofed}
`, spec: "owner: web"},
			want: summary{
				Objects: map[string]map[string]any{
					"logsBucket": {"apiVersion": "v1", "kind": "ConfigMap",
						"metadata": map[string]any{"name": "app-logs-bucket", "labels": labels("logsBucket")}},
					"named": {"apiVersion": "v1", "kind": "ConfigMap",
						"metadata": map[string]any{"name": "app-custom", "namespace": "elsewhere",
							"labels": map[string]any{"team": "web", LabelComposite: "app", LabelResource: "named", LabelDefinition: "tests.example.com"}}},
				},
				Order: []string{"logsBucket", "named"},
			},
		},
		"TemplatedLabelsAndAnnotations": {
			reason: "Label and annotation values may hold expressions; a namespaced composite's resource is in its namespace, also when the template says ${metadata.namespace}.",
			args: args{body: `resources:
- name: bucket
  template:
    apiVersion: storage.stratus.dev/v1alpha1
    kind: Bucket
    metadata:
      namespace: ${metadata.namespace}
      labels:
        owner: ${spec.owner}
        size: ${string(spec.size)}
        tier: "t-${spec.database.version}"
      annotations:
        example.com/owner: "${spec.owner} (${metadata.name})"
`, spec: "owner: team-a"},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{
							"name": "app-bucket", "namespace": "ns",
							"labels":      map[string]any{"owner": "team-a", "size": "10", "tier": "t-16", LabelComposite: "app", LabelResource: "bucket", LabelDefinition: "tests.example.com"},
							"annotations": map[string]any{"example.com/owner": "team-a (app)"},
						},
					},
				},
				Order: []string{"bucket"},
			},
		},
		"MetadataAndDeterminism": {
			reason: "metadata carries the instance's labels and annotations; map iteration is sorted.",
			args: args{body: resource(`keys: ${metadata.labels.map(k, k)}
joined: "${metadata.annotations.map(k, k + '=' + metadata.annotations[k]).join(',')}"
ns: ${metadata.namespace}
`)},
			want: summary{
				Objects: map[string]map[string]any{
					"bucket": {
						"apiVersion": "storage.stratus.dev/v1alpha1", "kind": "Bucket",
						"metadata": map[string]any{"name": "app-bucket", "namespace": "ns", "labels": labels("bucket")},
						"spec": map[string]any{
							"keys":   []any{"a", "b", "c", "d", "e", "f"},
							"joined": "x=1,y=2,z=3",
							"ns":     "ns",
						},
					},
				},
				Order: []string{"bucket"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := compile(t, tc.args.body)
			inst := instance(t, tc.args.spec)
			if name == "MetadataAndDeterminism" {
				inst.SetLabels(map[string]string{"f": "", "c": "", "a": "", "e": "", "b": "", "d": ""})
				inst.SetAnnotations(map[string]string{"z": "3", "x": "1", "y": "2"})
			}
			if strings.HasPrefix(tc.args.body, "scope: Cluster") {
				inst.SetNamespace("")
			}
			observed := map[string]*unstructured.Unstructured{}
			for n, doc := range tc.args.observed {
				observed[n] = object(t, doc)
			}
			for range 5 { // the same every time
				res, err := c.Render(inst, observed)
				if err != nil {
					t.Fatalf("%s\nRender(...): %v", tc.reason, err)
				}
				if diff := cmp.Diff(tc.want, summarize(res), cmpEmpty); diff != "" {
					t.Fatalf("%s\nRender(...): -want, +got:\n%s", tc.reason, diff)
				}
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	cases := map[string]struct {
		reason   string
		body     string
		instance string
		spec     string
		observed map[string]string
		want     string
	}{
		"DivisionByZero": {
			reason: "A run-time error names the template path.",
			body:   resource("size: ${100 / (spec.size - 10)}"),
			want:   "resources[0] (bucket) template .spec.size: division by zero",
		},
		"DynamicTypeError": {
			reason: "A type error on an untyped field is found at run time.",
			body:   resource("size: ${spec.extra.count + 1}"),
			spec:   "extra: {count: many}",
			want:   "resources[0] (bucket) template .spec.size: no such overload",
		},
		"UnsetSpecField": {
			reason: "A spec field that is not set is an error that says how to read optional fields.",
			body:   resource("owner: ${spec.owner}"),
			want:   "resources[0] (bucket) template .spec.owner: spec.owner is not set: test it with has(spec.owner) or read it with ?. and orValue()",
		},
		"IncludeWhenError": {
			reason: "includeWhen errors name includeWhen.",
			body:   resource("region: x") + "  includeWhen: spec.extra.enabled\n",
			spec:   "extra: {enabled: 'yes'}",
			want:   "resources[0] (bucket) includeWhen: must be a bool, not a string",
		},
		"ReadyWhenError": {
			reason: "readyWhen errors name readyWhen.",
			body:   resource("region: x") + "  readyWhen: self.status.count / 0 == 1\n",
			observed: map[string]string{
				"bucket": "apiVersion: v1\nkind: Bucket\nstatus: {count: 1}\n",
			},
			want: "resources[0] (bucket) readyWhen: division by zero",
		},
		"StatusError": {
			reason: "Status errors name the status field.",
			body:   resource("region: x") + "status:\n  port: 1 / (spec.size - 10)\n",
			want:   "status.port: division by zero",
		},
		"ConnectionError": {
			reason: "Connection errors name the key.",
			body:   resource("region: x") + "connectionSecret:\n  data:\n    port: string(1 / (spec.size - 10))\n",
			want:   "connectionSecret.data.port: division by zero",
		},
		"CostLimit": {
			reason: "An evaluation that costs too much fails.",
			body:   resource("count: ${spec.tags.map(a, spec.tags.map(b, spec.tags.map(c, a + b + c))).size()}"),
			spec:   "tags: [" + strings.Repeat("'x',", 120) + "'x']",
			want:   "resources[0] (bucket) template .spec.count: operation cancelled: actual cost limit exceeded",
		},
		"WrongKind": {
			reason:   "The instance must be of the composite's kind.",
			body:     resource("region: x"),
			instance: "apiVersion: example.com/v1\nkind: Other\nmetadata: {name: app}\n",
			want:     "the instance's kind is Other (apiVersion example.com/v1), not Test (apiVersion example.com/v1alpha1)",
		},
		"SpecType": {
			reason: "The instance's spec is checked against the schema.",
			body:   resource("region: x"),
			spec:   "size: big",
			want:   "the instance's spec.size: must be an integer, not a string",
		},
		"SpecUnknownField": {
			reason: "Fields the schema does not declare are errors.",
			body:   resource("region: x"),
			spec:   "sise: 3",
			want:   `the instance's spec: unknown field "sise"`,
		},
		"InvalidRenderedLabel": {
			reason: "A rendered label value the API server would refuse is an error naming its path.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      labels: {owner: '${spec.owner}'}\n",
			spec:   "owner: Team A!",
			want:   `resources[0] (bucket) template .metadata.labels.owner: "Team A!" is not a valid label value: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
		},
		"LongRenderedLabel": {
			reason: "A rendered label value longer than 63 characters is an error.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      labels: {owner: 'x-${spec.owner}'}\n",
			spec:   "owner: " + strings.Repeat("a", 62),
			want:   `resources[0] (bucket) template .metadata.labels.owner: "x-` + strings.Repeat("a", 62) + `" is not a valid label value: must be no more than 63 bytes`,
		},
		"HugeRenderedAnnotations": {
			reason: "Rendered annotations larger than the API server accepts are an error.",
			body:   "resources:\n- name: bucket\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      annotations: {a: '${spec.owner}', b: '${spec.owner}'}\n",
			spec:   "owner: " + strings.Repeat("a", 140_000),
			want:   "resources[0] (bucket) template .metadata.annotations: 280002 bytes, more than the 262144 the API server accepts",
		},
		"LongName": {
			reason:   "The instance's name must fit in a label.",
			body:     resource("region: x"),
			instance: "apiVersion: example.com/v1alpha1\nkind: Test\nmetadata: {name: " + strings.Repeat("a", 64) + "}\n",
			want:     `the instance's name "` + strings.Repeat("a", 64) + `" cannot be the value of the label compositions.stratus.dev/composite: must be no more than 63 bytes`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := compile(t, tc.body)
			inst := instance(t, tc.spec)
			if tc.instance != "" {
				inst = object(t, tc.instance)
			}
			observed := map[string]*unstructured.Unstructured{}
			for n, doc := range tc.observed {
				observed[n] = object(t, doc)
			}
			_, err := c.Render(inst, observed)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nRender(...): -want error, +got error:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestRenderKeepsNamespace: whatever a template of a namespaced composite
// holds, Render puts its resource in the composite's namespace or fails.
// Compile refuses such templates; this is the second line.
func TestRenderKeepsNamespace(t *testing.T) {
	cases := map[string]struct {
		reason    string
		namespace string
		want      string
	}{
		"Other":     {reason: "Another namespace is an error.", namespace: "kube-system", want: `resources[0] (cm) template .metadata.namespace: "kube-system" is not the composite's namespace "ns": the resources of a namespaced composite are in its namespace`},
		"Own":       {reason: "The composite's own namespace is kept.", namespace: "ns"},
		"Templated": {reason: "An expression that renders another namespace is an error.", namespace: "${spec.owner}", want: `resources[0] (cm) template .metadata.namespace: "kube-system" is not the composite's namespace "ns": the resources of a namespaced composite are in its namespace`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Compiled as cluster-scoped, which may name a namespace, then
			// rendered as namespaced.
			c := compile(t, "scope: Cluster\nresources:\n- name: cm\n  template:\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {namespace: '"+tc.namespace+"'}\n")
			c.namespaced = true
			res, err := c.Render(instance(t, "owner: kube-system"), nil)
			got := ""
			if err != nil {
				got = err.Error()
			} else if ns := res.Resources[0].Object.GetNamespace(); ns != "ns" {
				t.Errorf("%s\nRender(...): namespace %q, want ns", tc.reason, ns)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nRender(...): -want error, +got error:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestRenderDoesNotChangeItsInputs(t *testing.T) {
	c := compile(t, bucketAndDatabase+"status:\n  host: resources.db.status.atProvider.host\n")
	inst := instance(t, "owner: o")
	observed := map[string]*unstructured.Unstructured{"bucket": object(t, observedBucket), "db": object(t, observedDatabase)}
	before := inst.DeepCopy()
	obsBefore := map[string]*unstructured.Unstructured{"bucket": observed["bucket"].DeepCopy(), "db": observed["db"].DeepCopy()}
	first, err := c.Render(inst, observed)
	if err != nil {
		t.Fatal(err)
	}
	first.Resources[0].Object.SetName("changed")
	second, err := c.Render(inst, observed)
	if err != nil {
		t.Fatal(err)
	}
	if second.Resources[0].Object.GetName() != "app-bucket" {
		t.Errorf("Render(...): a change to a rendered object changed the next render")
	}
	if diff := cmp.Diff(before, inst); diff != "" {
		t.Errorf("Render(...) changed the instance: -before, +after:\n%s", diff)
	}
	if diff := cmp.Diff(obsBefore, observed); diff != "" {
		t.Errorf("Render(...) changed the observed resources: -before, +after:\n%s", diff)
	}
}

func TestParseSegments(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     string
		want   []segment
		err    string
	}{
		"Literal":  {reason: "Text without expressions is one literal.", in: "abc", want: []segment{{text: "abc"}}},
		"Whole":    {reason: "A whole expression is one expression segment.", in: "${ spec.a }", want: []segment{{text: "spec.a", isExpr: true}}},
		"Embedded": {reason: "Text and expressions alternate.", in: "a-${x}-b${y}", want: []segment{{text: "a-"}, {text: "x", isExpr: true}, {text: "-b"}, {text: "y", isExpr: true}}},
		"Braces":   {reason: "Braces of map literals nest.", in: "${ {'a': {'b': 1}}['a'] }", want: []segment{{text: "{'a': {'b': 1}}['a']", isExpr: true}}},
		"Quotes":   {reason: "Braces in strings do not count.", in: `${"}" + '{' + '''}'''}`, want: []segment{{text: `"}" + '{' + '''}'''`, isExpr: true}}},
		"Escapes":  {reason: "An escaped quote does not end a string.", in: `${'a\'}'}`, want: []segment{{text: `'a\'}'`, isExpr: true}}},
		"Raw":      {reason: "A backslash in a raw string escapes nothing.", in: `${r'\' + 'x'}`, want: []segment{{text: `r'\' + 'x'`, isExpr: true}}},
		"Dollar":   {reason: "$${ is a literal ${; a lone $ is text.", in: "$${a} $x ${b}", want: []segment{{text: "${a} $x "}, {text: "b", isExpr: true}}},
		"Open":     {reason: "A missing } is an error.", in: "a ${b", err: `unterminated expression "${b": missing }`},
		"OpenStr":  {reason: "An unterminated string is an error.", in: "${'b}", err: `unterminated string literal in "'b}"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseSegments(tc.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.err, gotErr); diff != "" {
				t.Errorf("%s\nparseSegments(%q): -want error, +got error:\n%s", tc.reason, tc.in, diff)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(segment{})); diff != "" {
				t.Errorf("%s\nparseSegments(%q): -want, +got:\n%s", tc.reason, tc.in, diff)
			}
		})
	}
}

func TestKebab(t *testing.T) {
	for in, want := range map[string]string{"db": "db", "logsBucket": "logs-bucket", "primaryDB": "primary-db", "myDBInstance": "my-db-instance", "db2Replica": "db2-replica"} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%q): want %q, got %q", in, want, got)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	b.ReportAllocs()
	c := compile(b, bucketAndDatabase+"status:\n  host: resources.db.status.atProvider.host\n")
	inst := instance(b, "owner: o")
	observed := map[string]*unstructured.Unstructured{"bucket": object(b, observedBucket), "db": object(b, observedDatabase)}
	for b.Loop() {
		if _, err := c.Render(inst, observed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	def := newDefinition(b, bucketAndDatabase+"status:\n  host: resources.db.status.atProvider.host\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(def); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRenderConcurrently(t *testing.T) {
	c := compile(t, bucketAndDatabase+"status:\n  host: resources.db.status.atProvider.host\n")
	observed := map[string]*unstructured.Unstructured{"bucket": object(t, observedBucket), "db": object(t, observedDatabase)}
	inst := instance(t, "owner: o")
	done := make(chan error)
	for range 4 {
		go func() {
			for range 20 {
				if _, err := c.Render(inst, observed); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Errorf("Render(...): %v", err)
		}
	}
}
