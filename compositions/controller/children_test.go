package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// child is a ConfigMap of ns named name with uid, controlled by owner when
// it is not empty.
func child(ns, name string, uid, owner types.UID) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetUID(uid)
	if owner != "" {
		u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "App", Name: "app", UID: owner, Controller: ptr.To(true)}})
	}
	return u
}

func TestOwns(t *testing.T) {
	instance := &metav1.ObjectMeta{Name: "app", UID: "app-uid"}
	recorded := &record{refs: []ComposedResourceRef{refOf("page", child("ns", "created", "created-uid", "app-uid"))}}
	cases := map[string]struct {
		reason          string
		obj             *unstructured.Unstructured
		trustControlled bool
		want            bool
	}{
		"NotControlled": {
			reason: "An object with the instance's labels and no controller is not the instance's.",
			obj:    child("ns", "mimic", "mimic-uid", ""), trustControlled: true,
		},
		"ControlledByAnother": {
			reason: "Nor one another object controls.",
			obj:    child("ns", "other", "other-uid", "another-uid"), trustControlled: true,
		},
		"ControlledNamespaced": {
			reason: "A namespaced instance trusts what it controls.",
			obj:    child("ns", "page", "page-uid", "app-uid"), trustControlled: true, want: true,
		},
		"ForgedForClusterScoped": {
			reason: "A cluster-scoped instance does not trust a controller reference it did not record: anyone who may create objects in a namespace can write one.",
			obj:    child("ns", "forged", "forged-uid", "app-uid"),
		},
		"CreatedByClusterScoped": {
			reason: "It accepts what it recorded creating.",
			obj:    child("ns", "created", "created-uid", "app-uid"), want: true,
		},
		"RecordedButNotControlled": {
			reason: "A recorded UID is not enough: the controller reference must be the instance's.",
			obj:    child("ns", "created", "created-uid", ""),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := owns(instance, tc.obj, recorded, tc.trustControlled); got != tc.want {
				t.Errorf("%s\nowns(...) = %t, want %t", tc.reason, got, tc.want)
			}
		})
	}
}

func TestRecordOf(t *testing.T) {
	cases := map[string]struct {
		reason     string
		status     map[string]any
		want       []ComposedResourceRef
		wantLegacy bool
	}{
		"New": {reason: "A new instance records nothing and is not legacy: it trusts nothing it did not create."},
		"Legacy": {
			reason: "An instance reconciled before the record existed trusts what it controls, once.",
			status: map[string]any{"observedGeneration": int64(3)}, wantLegacy: true,
		},
		"Recorded": {
			reason: "The record is read back.",
			status: map[string]any{"observedGeneration": int64(3), "composedResources": []any{
				map[string]any{"resource": "page", "apiVersion": "v1", "kind": "ConfigMap", "namespace": "ns", "name": "p", "uid": "u1"},
			}},
			want: []ComposedResourceRef{{Resource: "page", APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "p", UID: "u1"}},
		},
		"EmptyRecord": {
			reason: "An empty record is a record: not legacy.",
			status: map[string]any{"observedGeneration": int64(3), "composedResources": []any{}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{}}
			if tc.status != nil {
				u.Object["status"] = tc.status
			}
			got, legacy := recordOf(u)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" || legacy != tc.wantLegacy {
				t.Errorf("%s\nrecordOf(...): legacy %t, want %t; -want, +got:\n%s", tc.reason, legacy, tc.wantLegacy, diff)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	a := refOf("a", child("ns", "a", "a1", "app"))
	aAgain := refOf("a", child("ns", "a", "a2", "app"))
	b := refOf("b", child("ns", "b", "b1", "app"))
	stale := refOf("c", child("ns", "c", "c1", "app"))

	rec := &record{}
	rec.add(a)
	rec.add(b)
	rec.add(stale)
	rec.add(aAgain)
	if diff := cmp.Diff([]ComposedResourceRef{aAgain, b, stale}, rec.sorted()); diff != "" {
		t.Errorf("a recreated object replaces its record: -want, +got:\n%s", diff)
	}
	// b is observed, a is rendered but not observed yet (a stale cache),
	// c is neither: deleted, or no longer composed.
	rec.keepOnly(map[string][]*unstructured.Unstructured{"b": {child("ns", "b", "b1", "app")}}, map[identity]bool{aAgain.identity(): true})
	if diff := cmp.Diff([]ComposedResourceRef{aAgain, b}, rec.sorted()); diff != "" {
		t.Errorf("keepOnly: -want, +got:\n%s", diff)
	}
	rec.remove("b1")
	if diff := cmp.Diff([]ComposedResourceRef{aAgain}, rec.sorted()); diff != "" {
		t.Errorf("remove: -want, +got:\n%s", diff)
	}
	if got := (&record{}).sorted(); got == nil || len(got) != 0 {
		t.Errorf("an empty record is %v, want an empty list, which the status keeps", got)
	}
}

func TestPendingRecords(t *testing.T) {
	a := refOf("a", child("ns", "a", "a1", "app"))
	b := refOf("b", child("ns", "b", "b1", "app"))
	var p pendingRecords
	p.add("app", a)
	p.add("app", b)
	p.add("other", a)

	// The status records a: b is still remembered.
	rec := p.merge("app", []ComposedResourceRef{a})
	if diff := cmp.Diff([]ComposedResourceRef{a, b}, rec.sorted()); diff != "" {
		t.Errorf("merge: -want, +got:\n%s", diff)
	}
	// A stale read of the status that records neither still sees b.
	rec = p.merge("app", nil)
	if diff := cmp.Diff([]ComposedResourceRef{b}, rec.sorted()); diff != "" {
		t.Errorf("merge of a stale status: -want, +got:\n%s", diff)
	}
	// Once the status records b, nothing is left to remember.
	p.merge("app", []ComposedResourceRef{a, b})
	if _, ok := p.m["app"]; ok {
		t.Errorf("records still remembered once the status holds them: %v", p.m["app"])
	}
	p.forget("other")
	if len(p.m) != 0 {
		t.Errorf("forget left %v", p.m)
	}
}

func TestNextWait(t *testing.T) {
	type step struct {
		key  string
		want time.Duration
	}
	cases := map[string]struct {
		reason string
		steps  []step
	}{
		"Doubles": {
			reason: "Waiting for the same thing, the interval doubles.",
			steps:  []step{{"db", 2 * time.Second}, {"db", 4 * time.Second}, {"db", 8 * time.Second}, {"db", 16 * time.Second}},
		},
		"Bounded": {
			reason: "Up to maxPendingPollInterval.",
			steps: []step{{"x", 2 * time.Second}, {"x", 4 * time.Second}, {"x", 8 * time.Second}, {"x", 16 * time.Second}, {"x", 32 * time.Second},
				{"x", 64 * time.Second}, {"x", 2 * time.Minute}, {"x", 2 * time.Minute}},
		},
		"Progress": {
			reason: "Waiting for something else starts again from pendingPollInterval.",
			steps:  []step{{"bucket", 2 * time.Second}, {"bucket", 4 * time.Second}, {"db", 2 * time.Second}, {"db", 4 * time.Second}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var w wait
			for i, s := range tc.steps {
				var got time.Duration
				w, got = nextWait(w, s.key)
				if got != s.want {
					t.Errorf("%s\nstep %d nextWait(%q) = %s, want %s", tc.reason, i, s.key, got, s.want)
				}
			}
		})
	}
}

func TestMarkApplied(t *testing.T) {
	a := child("ns", "a", "", "")
	a.Object["data"] = map[string]any{"k": "v", "extra": "x"}
	b := a.DeepCopy()
	unstructured.RemoveNestedField(b.Object, "data", "extra")
	for _, u := range []*unstructured.Unstructured{a, b} {
		if err := markApplied(u); err != nil {
			t.Fatal(err)
		}
	}
	if a.GetAnnotations()[AnnotationApplied] == b.GetAnnotations()[AnnotationApplied] {
		t.Error("dropping a field does not change the digest: the change would not be applied")
	}
	// The digest makes holds see the drop: the object holds every other
	// field of the new rendering.
	if holds(a.Object, b.Object) {
		t.Error("holds(...) = true for a rendering that only drops a field")
	}
	again := b.DeepCopy()
	again.SetAnnotations(nil)
	if err := markApplied(again); err != nil {
		t.Fatal(err)
	}
	if !holds(b.Object, again.Object) {
		t.Error("the same rendering is not held: every reconcile would apply")
	}
}
