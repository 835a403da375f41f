package controller

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stratus-operator/stratus/compositions/render"
)

// ComposedResourceRef is a resource an instance created, as its status
// records it in status.composedResources.
type ComposedResourceRef struct {
	// Resource is the resource's name within the composite.
	Resource   string    `json:"resource"`
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Namespace  string    `json:"namespace,omitempty"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid"`
}

// identity is what names an object in the cluster.
type identity struct {
	group, kind, namespace, name string
}

func identityOf(obj *unstructured.Unstructured) identity {
	return identity{group: obj.GroupVersionKind().Group, kind: obj.GetKind(), namespace: obj.GetNamespace(), name: obj.GetName()}
}

func (r ComposedResourceRef) identity() identity {
	return identity{group: schema.FromAPIVersionAndKind(r.APIVersion, r.Kind).Group, kind: r.Kind, namespace: r.Namespace, name: r.Name}
}

func refOf(resource string, obj *unstructured.Unstructured) ComposedResourceRef {
	return ComposedResourceRef{Resource: resource, APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()}
}

// describe names an object in messages: ConfigMap shop/orders-config.
func describe(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetKind() + " " + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetNamespace() + "/" + obj.GetName()
}

// recordOf returns the resources an instance's status records it created.
// legacy is true for an instance reconciled before the operator recorded
// them: its status has an observedGeneration but no composedResources.
func recordOf(u *unstructured.Unstructured) (refs []ComposedResourceRef, legacy bool) {
	status, _, _ := unstructured.NestedMap(u.Object, "status")
	raw, ok := status[render.StatusComposedResources]
	if !ok {
		_, reconciled := status["observedGeneration"]
		return nil, reconciled
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, false
	}
	// A record the operator cannot read records nothing: no resource is
	// trusted on its word.
	_ = json.Unmarshal(b, &refs)
	return refs, false
}

// record is what a reconcile knows of the resources an instance created.
type record struct {
	refs []ComposedResourceRef
}

func (r *record) has(uid types.UID) bool {
	return slices.ContainsFunc(r.refs, func(ref ComposedResourceRef) bool { return ref.UID == uid })
}

// add records ref, in place of any record of the same object.
func (r *record) add(ref ComposedResourceRef) {
	r.refs = slices.DeleteFunc(r.refs, func(e ComposedResourceRef) bool { return e.identity() == ref.identity() })
	r.refs = append(r.refs, ref)
}

func (r *record) remove(uid types.UID) {
	r.refs = slices.DeleteFunc(r.refs, func(e ComposedResourceRef) bool { return e.UID == uid })
}

// keepOnly drops the records of objects that are neither observed nor
// what the instance renders now: those deleted, or no longer composed.
func (r *record) keepOnly(observed map[string][]*unstructured.Unstructured, rendered map[identity]bool) {
	seen := map[types.UID]bool{}
	for _, objs := range observed {
		for _, o := range objs {
			seen[o.GetUID()] = true
		}
	}
	r.refs = slices.DeleteFunc(r.refs, func(e ComposedResourceRef) bool { return !seen[e.UID] && !rendered[e.identity()] })
}

// sorted returns the records in a stable order, as the status holds them.
func (r *record) sorted() []ComposedResourceRef {
	out := slices.Clone(r.refs)
	slices.SortFunc(out, func(a, b ComposedResourceRef) int {
		return strings.Compare(a.Resource+"\x00"+a.Kind+"\x00"+a.Namespace+"\x00"+a.Name, b.Resource+"\x00"+b.Kind+"\x00"+b.Namespace+"\x00"+b.Name)
	})
	if out == nil {
		out = []ComposedResourceRef{}
	}
	return out
}

// owns reports whether obj is one of the instance's composed resources:
// the instance controls it and, unless trustControlled, the instance's
// record says it created it. A namespaced instance trusts the resources it
// controls: whoever could forge one has the rights to the namespace. A
// cluster-scoped instance accepts only what it created, since its
// resources may be in namespaces whose users could forge one.
func owns(instance, obj metav1.Object, rec *record, trustControlled bool) bool {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != instance.GetUID() {
		return false
	}
	return trustControlled || rec.has(obj.GetUID())
}

// pendingRecords remembers, by instance, the resources the operator created
// until the instance's status records them, so that a status write that
// fails (a conflict) or a stale read of the instance never makes a
// resource the instance created look like another's.
type pendingRecords struct {
	mu sync.Mutex
	m  map[types.UID][]ComposedResourceRef
}

// add remembers that instance created ref.
func (p *pendingRecords) add(instance types.UID, ref ComposedResourceRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[types.UID][]ComposedResourceRef{}
	}
	p.m[instance] = append(p.m[instance], ref)
}

// merge returns the record of instance: what its status records, and what
// it created that the status does not record yet. Those the status records
// are forgotten.
func (p *pendingRecords) merge(instance types.UID, recorded []ComposedResourceRef) *record {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec := &record{refs: slices.Clone(recorded)}
	var still []ComposedResourceRef
	for _, ref := range p.m[instance] {
		if !rec.has(ref.UID) {
			still = append(still, ref)
			rec.add(ref)
		}
	}
	if len(still) == 0 {
		delete(p.m, instance)
	} else {
		p.m[instance] = still
	}
	return rec
}

// forget drops what is remembered of instance.
func (p *pendingRecords) forget(instance types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, instance)
}

// wait is how long an instance has waited for the same thing.
type wait struct {
	key string
	n   int
}

// nextWait returns when an instance that waits for key is reconciled
// again: pendingPollInterval after the first reconcile that waits for it,
// doubling at each reconcile that still waits for the same, up to
// maxPendingPollInterval. The resources' own events reconcile it sooner.
func nextWait(prev wait, key string) (wait, time.Duration) {
	if prev.key != key {
		prev = wait{key: key}
	}
	d := maxPendingPollInterval
	if prev.n < 16 {
		d = min(pendingPollInterval<<prev.n, maxPendingPollInterval)
	}
	if d < maxPendingPollInterval {
		prev.n++
	}
	return prev, d
}

// waits holds the backoff of the instances that wait, by UID.
type waits struct {
	mu sync.Mutex
	m  map[types.UID]wait
}

// next returns when to reconcile instance again while it waits for key.
func (w *waits) next(instance types.UID, key string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[types.UID]wait{}
	}
	var d time.Duration
	w.m[instance], d = nextWait(w.m[instance], key)
	return d
}

// done forgets instance, which no longer waits.
func (w *waits) done(instance types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, instance)
}

// conflict is a resource an instance would compose that exists and is not
// the instance's.
type conflict struct {
	resource string
	obj      *unstructured.Unstructured
}

func conflictMessage(kind, name string, conflicts []conflict) string {
	parts := make([]string, len(conflicts))
	for i, c := range conflicts {
		parts[i] = fmt.Sprintf("%s (%s) exists and is not %s %s's", describe(c.obj), c.resource, kind, name)
	}
	return strings.Join(parts, "; ") + ": left alone; delete or rename it, or change the composite so that it composes another name"
}

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
