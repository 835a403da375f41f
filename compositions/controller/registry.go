package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/stratus-operator/stratus/compositions/render"
)

// served is what the instance controller of a composite needs: the
// definition as last compiled.
type served struct {
	// definition is the name of the CompositeDefinition.
	definition string
	// generation is the definition's generation that was compiled.
	generation  int64
	composition *render.Composition
	// kinds are the kinds of the composed resources.
	kinds []schema.GroupVersionKind
}

// instanceController is a running controller of a composite's instances.
type instanceController struct {
	ctrl controller.Controller
	// enqueue takes instances to reconcile when their definition changes.
	enqueue chan event.GenericEvent
	// watched are the kinds of composed resources it watches.
	watched map[schema.GroupVersionKind]bool
}

// registry keeps the compiled definitions by the kind of their instances
// and the instance controllers started in the running manager.
type registry struct {
	mgr ctrl.Manager
	// children caches the composed resources.
	children cache.Cache

	// served maps a schema.GroupVersionKind to its *served. Instance
	// reconcilers look it up at each reconcile, so that a changed
	// definition takes effect without restarting anything.
	served sync.Map
	// gone holds the schema.GroupVersionKinds whose definition was
	// deleted.
	gone sync.Map

	mu      sync.Mutex
	started map[schema.GroupVersionKind]*instanceController
}

func newRegistry(mgr ctrl.Manager, children cache.Cache) *registry {
	return &registry{mgr: mgr, children: children, started: map[schema.GroupVersionKind]*instanceController{}}
}

// retired reports whether the definition of gvk was deleted and the kind
// is no longer served: its instances are left alone.
func (r *registry) retired(gvk schema.GroupVersionKind) bool {
	_, ok := r.gone.Load(gvk)
	return ok
}

// unserve stops serving gvk when definition serves it, or nobody does:
// from then on a reconcile of one of its instances does nothing, until a
// definition serves the kind again.
func (r *registry) unserve(gvk schema.GroupVersionKind, definition string) {
	if s := r.lookup(gvk); s != nil {
		if s.definition != definition {
			return
		}
		r.served.CompareAndDelete(gvk, s)
	}
	r.gone.Store(gvk, struct{}{})
}

// serves reports whether a generation of the named definition is served.
func (r *registry) serves(definition string) bool {
	found := false
	r.served.Range(func(_, v any) bool {
		found = v.(*served).definition == definition
		return !found
	})
	return found
}

// lookup returns what serves gvk, or nil.
func (r *registry) lookup(gvk schema.GroupVersionKind) *served {
	v, ok := r.served.Load(gvk)
	if !ok {
		return nil
	}
	return v.(*served)
}

// serve makes s the definition of its kind, makes sure a controller runs
// for the kind and watches the composed kinds, and, when the definition
// changed, queues every instance so that the change rolls out.
func (r *registry) serve(ctx context.Context, s *served) error {
	gvk := s.composition.GroupVersionKind()
	prev := r.lookup(gvk)
	r.served.Store(gvk, s)
	r.gone.Delete(gvk)
	// The instances are watched at the storage version: when it changed,
	// the controller of the previous one leaves them alone.
	r.served.Range(func(k, v any) bool {
		if old := k.(schema.GroupVersionKind); old != gvk && old.GroupKind() == gvk.GroupKind() && v.(*served).definition == s.definition {
			r.unserve(old, s.definition)
		}
		return true
	})

	r.mu.Lock()
	defer r.mu.Unlock()
	ic, ok := r.started[gvk]
	if !ok {
		var err error
		if ic, err = r.start(gvk); err != nil {
			r.served.CompareAndSwap(gvk, s, prev)
			return err
		}
		r.started[gvk] = ic
	}
	for _, kind := range s.kinds {
		if ic.watched[kind] || !cached(kind.GroupKind()) {
			continue
		}
		child := &unstructured.Unstructured{}
		child.SetGroupVersionKind(kind)
		owner := &unstructured.Unstructured{}
		owner.SetGroupVersionKind(gvk)
		src := source.Kind(r.children, child,
			handler.TypedEnqueueRequestForOwner[*unstructured.Unstructured](r.mgr.GetScheme(), r.mgr.GetRESTMapper(), owner, handler.OnlyControllerOwner()))
		if err := ic.ctrl.Watch(src); err != nil {
			return fmt.Errorf("watch %s composed by %s: %w", kind.Kind, gvk.Kind, err)
		}
		ic.watched[kind] = true
	}
	if ok && (prev == nil || prev.generation != s.generation) {
		r.requeueAll(ctx, gvk, ic)
	}
	return nil
}

// start starts a controller of the instances of gvk in the manager.
func (r *registry) start(gvk schema.GroupVersionKind) (*instanceController, error) {
	rec := &instanceReconciler{
		gvk:       gvk,
		registry:  r,
		client:    r.mgr.GetClient(),
		instances: r.mgr.GetCache(),
		children:  r.children,
		reader:    r.mgr.GetAPIReader(),
		recorder:  r.mgr.GetEventRecorder("stratus-composite"),
	}
	name := "composite-" + strings.ToLower(gvk.Kind) + "-" + strings.ReplaceAll(gvk.Group, ".", "-")
	c, err := controller.New(name, r.mgr, controller.Options{
		Reconciler:  rec,
		RateLimiter: workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](),
		// Instances are independent; one slow instance (a child waiting
		// on its cloud) must not hold the others back.
		MaxConcurrentReconciles: instanceWorkers,
	})
	if err != nil {
		return nil, fmt.Errorf("create the controller of %s: %w", gvk.Kind, err)
	}
	instance := &unstructured.Unstructured{}
	instance.SetGroupVersionKind(gvk)
	if err := c.Watch(source.Kind(r.mgr.GetCache(), instance, &handler.TypedEnqueueRequestForObject[*unstructured.Unstructured]{}, instanceChanged())); err != nil {
		return nil, fmt.Errorf("watch %s: %w", gvk.Kind, err)
	}
	ch := make(chan event.GenericEvent, 1024)
	if err := c.Watch(source.Channel(ch, &handler.EnqueueRequestForObject{})); err != nil {
		return nil, fmt.Errorf("watch definition changes of %s: %w", gvk.Kind, err)
	}
	return &instanceController{ctrl: c, enqueue: ch, watched: map[schema.GroupVersionKind]bool{}}, nil
}

// requeueAll queues every instance of gvk.
func (r *registry) requeueAll(ctx context.Context, gvk schema.GroupVersionKind, ic *instanceController) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.mgr.GetAPIReader().List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "cannot list instances to roll out a definition change", "kind", gvk.Kind)
		return
	}
	go func() {
		for i := range list.Items {
			ic.enqueue <- event.GenericEvent{Object: &list.Items[i]}
		}
	}()
}

// instanceChanged passes the updates of an instance a reconcile must react
// to: a new generation, a deletion, labels or annotations; not the status
// the reconciler writes.
func instanceChanged() predicate.TypedPredicate[*unstructured.Unstructured] {
	return predicate.TypedFuncs[*unstructured.Unstructured]{
		UpdateFunc: func(e event.TypedUpdateEvent[*unstructured.Unstructured]) bool {
			o, n := e.ObjectOld, e.ObjectNew
			if o == nil || n == nil {
				return true
			}
			return o.GetGeneration() != n.GetGeneration() ||
				(o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) ||
				!equalMaps(o.GetLabels(), n.GetLabels()) || !equalMaps(o.GetAnnotations(), n.GetAnnotations())
		},
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

var _ client.Object = &unstructured.Unstructured{}
