package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

// Rego modules of the tests.
const (
	// publicRego denies public Buckets.
	publicRego = `package t.public

violation contains {"msg": "spec.publicAccess must be Blocked", "field": "spec.publicAccess"} if {
	input.object.spec.publicAccess == "Allowed"
}
`
	// versioningRego wants versioning on.
	versioningRego = `package t.versioning

violation contains {"msg": "spec.versioning must be Enabled"} if {
	input.object.spec.versioning != "Enabled"
}
`
	// deleteRego refuses to delete production objects.
	deleteRego = `package t.nodelete

violation contains {"msg": "production buckets cannot be deleted"} if {
	input.operation == "DELETE"
	input.object == null
	input.oldObject.metadata.labels.env == "production"
}
`
	// loopRego exceeds the evaluation's step limit.
	loopRego = `package t.loop

violation contains {"msg": "never"} if {
	count([[i, j] | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000)]) < 0
}
`
	// conflictRego fails at run time: its rule has two values.
	conflictRego = `package t.conflict

kind := input.object.kind
kind := "other"

violation contains {"msg": kind} if { true }
`
	// envRego keeps the env label of production objects.
	envRego = `package t.env

violation contains {"msg": "metadata.labels.env must stay production"} if {
	input.oldObject.metadata.labels.env == "production"
	object.get(input.object, ["metadata", "labels", "env"], "") != "production"
}
`
	// slowRego takes seconds to find nothing.
	slowRego = `package t.slow

violation contains {"msg": "never"} if {
	some i in numbers.range(1, 4000)
	some j in numbers.range(1, 4000)
	i * j < 0
}
`
)

// Kinds of the requests.
var (
	bucketGVK = metav1.GroupVersionKind{Group: "storage.stratus.dev", Version: "v1alpha1", Kind: "Bucket"}
	siteGVK   = metav1.GroupVersionKind{Group: "platform.example.com", Version: "v1alpha1", Kind: "StaticWebsite"}
)

// guardrailOpt changes a Guardrail of the tests.
type guardrailOpt func(*policyv1alpha1.Guardrail)

func action(a policyv1alpha1.EnforcementAction) guardrailOpt {
	return func(g *policyv1alpha1.Guardrail) { g.Spec.EnforcementAction = a }
}

func operations(ops ...policyv1alpha1.Operation) guardrailOpt {
	return func(g *policyv1alpha1.Guardrail) { g.Spec.Match.Operations = ops }
}

func kinds(group, kind string) guardrailOpt {
	return func(g *policyv1alpha1.Guardrail) {
		g.Spec.Match.Kinds = []policyv1alpha1.KindSelector{{APIGroups: []string{group}, Kinds: []string{kind}}}
	}
}

func namespaceSelector(key, value string) guardrailOpt {
	return func(g *policyv1alpha1.Guardrail) {
		g.Spec.Match.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}
	}
}

// guardrail is a Guardrail called name of the Buckets with rego.
func guardrail(name, rego string, opts ...guardrailOpt) *policyv1alpha1.Guardrail {
	g := &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego: rego,
			Match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{
				{APIGroups: []string{"storage.stratus.dev"}, Kinds: []string{"Bucket"}},
			}},
		},
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// newStore compiles gs into a ready store.
func newStore(t testing.TB, gs ...*policyv1alpha1.Guardrail) *guardrails.Store {
	t.Helper()
	s := guardrails.NewStore()
	for _, g := range gs {
		e, err := guardrails.Compile(g)
		if err != nil {
			t.Fatalf("compile guardrail %s: %v", g.Name, err)
		}
		s.Put(e)
	}
	s.MarkReady()
	return s
}

// objectOpt changes an object of the tests.
type objectOpt func(map[string]any)

func withLabels(kv ...string) objectOpt {
	return func(o map[string]any) {
		l := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		o["metadata"].(map[string]any)["labels"] = l
	}
}

func withSpec(kv ...string) objectOpt {
	return func(o map[string]any) {
		spec := o["spec"].(map[string]any)
		for i := 0; i+1 < len(kv); i += 2 {
			spec[kv[i]] = kv[i+1]
		}
	}
}

func deleting() objectOpt {
	return func(o map[string]any) {
		md := o["metadata"].(map[string]any)
		md["deletionTimestamp"] = "2026-01-05T10:00:00Z"
		md["finalizers"] = []any{"stratus.dev/finalizer"}
	}
}

// withFinalizers sets the finalizers; none removes them.
func withFinalizers(f ...string) objectOpt {
	return func(o map[string]any) {
		md := o["metadata"].(map[string]any)
		if len(f) == 0 {
			delete(md, "finalizers")
			return
		}
		l := make([]any, 0, len(f))
		for _, s := range f {
			l = append(l, s)
		}
		md["finalizers"] = l
	}
}

// withMeta sets metadata fields.
func withMeta(kv ...any) objectOpt {
	return func(o map[string]any) {
		md := o["metadata"].(map[string]any)
		for i := 0; i+1 < len(kv); i += 2 {
			md[kv[i].(string)] = kv[i+1]
		}
	}
}

// bucket is the JSON of a Bucket ns/name with publicAccess and versioning
// Enabled.
func bucket(ns, name, publicAccess string, opts ...objectOpt) []byte {
	o := map[string]any{
		"apiVersion": "storage.stratus.dev/v1alpha1",
		"kind":       "Bucket",
		"metadata":   map[string]any{"name": name, "namespace": ns, "uid": "b-uid"},
		"spec": map[string]any{
			"providerConfigRef": map[string]any{"kind": "ClusterProviderConfig", "name": "local-aws"},
			"publicAccess":      publicAccess,
			"versioning":        "Enabled",
		},
	}
	for _, opt := range opts {
		opt(o)
	}
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return b
}

// newRequest is an admission request of op on an object of kind gvk in ns.
func newRequest(op admissionv1.Operation, gvk metav1.GroupVersionKind, ns, name string, object, oldObject []byte) admission.Request {
	resource := map[string]string{"Bucket": "buckets", "StaticWebsite": "staticwebsites"}[gvk.Kind]
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("req-" + name),
		Kind:      gvk,
		Resource:  metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resource},
		Name:      name,
		Namespace: ns,
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: "alice", Groups: []string{"devs"}},
		Object:    runtime.RawExtension{Raw: object},
		OldObject: runtime.RawExtension{Raw: oldObject},
	}}
}

// bucketRequest is an admission request of op on the Bucket ns/name.
func bucketRequest(op admissionv1.Operation, ns, name string, object, oldObject []byte) admission.Request {
	return newRequest(op, bucketGVK, ns, name, object, oldObject)
}

// namespaces is a client.Reader of Namespaces with the labels given by
// name; other Namespaces are not found.
type namespaces map[string]map[string]string

func (n namespaces) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return fmt.Errorf("namespaces: cannot get a %T", obj)
	}
	l, ok := n[key.Name]
	if !ok {
		return apierrors.NewNotFound(corev1.Resource("namespaces"), key.Name)
	}
	ns.Name, ns.Labels = key.Name, l
	return nil
}

func (n namespaces) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return fmt.Errorf("namespaces: List is not implemented")
}

// composites is a fake Composites with one composition per group and kind;
// err, when set, is returned by every Lookup.
type composites struct {
	byKind map[schema.GroupKind]*render.Composition
	err    error
}

func (c *composites) Lookup(_ context.Context, gk schema.GroupKind) (*render.Composition, error) {
	if c.err != nil {
		return nil, c.err
	}
	return c.byKind[gk], nil
}

// examples is the directory of the composition examples.
var examples = filepath.Join("..", "..", "compositions", "examples")

var (
	staticWebsiteOnce sync.Once
	staticWebsite     *render.Composition
	staticWebsiteErr  error
)

// staticWebsiteComposition compiles the static-website example once.
func staticWebsiteComposition(t testing.TB) *render.Composition {
	t.Helper()
	staticWebsiteOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join(examples, "static-website", "definition.yaml"))
		if err != nil {
			staticWebsiteErr = err
			return
		}
		def := &compositionsv1alpha1.CompositeDefinition{}
		if err := yaml.Unmarshal(data, def); err != nil {
			staticWebsiteErr = fmt.Errorf("parse definition.yaml: %w", err)
			return
		}
		staticWebsite, staticWebsiteErr = render.Compile(def)
	})
	if staticWebsiteErr != nil {
		t.Fatalf("static-website composition: %v", staticWebsiteErr)
	}
	return staticWebsite
}

// staticWebsiteComposites is a Composites of the StaticWebsite kind.
func staticWebsiteComposites(t testing.TB) *composites {
	return &composites{byKind: map[schema.GroupKind]*render.Composition{
		{Group: siteGVK.Group, Kind: siteGVK.Kind}: staticWebsiteComposition(t),
	}}
}

// staticWebsiteInstance is the JSON of the example instance web/docs, with
// changes applied to it.
func staticWebsiteInstance(t testing.TB, changes ...func(map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examples, "static-website", "instance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	o := map[string]any{}
	if err := yaml.Unmarshal(data, &o); err != nil {
		t.Fatalf("parse instance.yaml: %v", err)
	}
	for _, c := range changes {
		c(o)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decisions returns how many requests were decided so far, by decision.
func decisions(t testing.TB) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, d := range []string{decisionAllow, decisionWarn, decisionDeny, decisionError, decisionExempt} {
		m := &dto.Metric{}
		if err := admissionDuration.WithLabelValues(d).(prometheus.Metric).Write(m); err != nil {
			t.Fatal(err)
		}
		out[d] = m.GetHistogram().GetSampleCount()
	}
	return out
}

// violations returns how many violations guardrail found at admission with
// action so far.
func violations(t testing.TB, guardrail string, action policyv1alpha1.EnforcementAction) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := admissionViolations.WithLabelValues(guardrail, string(action)).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
