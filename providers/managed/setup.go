package managed

import (
	"context"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Setup registers a reconciler of kind with mgr. configs is shared by every
// kind so that all of them share one rate limiter per provider configuration.
func Setup[T driver.Managed](mgr ctrl.Manager, kind Kind[T], configs *ProviderConfigs, opts Options) error {
	gvk, err := apiutil.GVKForObject(kind.New(), mgr.GetScheme())
	if err != nil {
		return fmt.Errorf("find the kind of a managed resource: %w", err)
	}
	r := NewReconciler(kind, gvk, mgr.GetClient(), mgr.GetAPIReader(), configs, mgr.GetEventRecorder("stratus-"+strings.ToLower(gvk.Kind)), opts)
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), kind.New(), configRefIndex, func(o client.Object) []string {
		return []string{configKey(o.GetNamespace(), o.(T).ManagedSpec().ProviderConfigRef)}
	}); err != nil {
		return fmt.Errorf("index %s by provider configuration: %w", gvk.Kind, err)
	}
	users := usersOf[T](mgr.GetClient(), mgr.GetScheme(), gvk)
	err = ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(gvk.Kind)).
		For(kind.New(), builder.WithPredicates(specOrIntentChanged())).
		// What a reconcile waited on, changed by someone else, re-triggers
		// the objects at once: a configuration created, fixed or opened to
		// the namespace, a namespace the platform team labelled.
		Watches(&stratusv1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(users.ofConfig(stratusv1alpha1.ProviderConfigKindNamespaced)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&stratusv1alpha1.ClusterProviderConfig{}, handler.EnqueueRequestsFromMapFunc(users.ofConfig(stratusv1alpha1.ProviderConfigKindCluster)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(users.inNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.opts.MaxConcurrentReconciles,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](r.opts.BaseBackoff, r.opts.MaxBackoff),
		}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("set up the %s reconciler: %w", gvk.Kind, err)
	}
	return nil
}

// configRefIndex indexes managed resources by the provider configuration
// they name (configKey).
const configRefIndex = "spec.providerConfigRef"

// configKey names a provider configuration as seen from namespace.
func configKey(namespace string, ref stratusv1alpha1.ProviderConfigReference) string {
	if ref.Kind == stratusv1alpha1.ProviderConfigKindCluster {
		return "ClusterProviderConfig/" + ref.Name
	}
	return "ProviderConfig/" + namespace + "/" + ref.Name
}

// users finds the managed resources of one kind that a change concerns,
// from the cache.
type users[T driver.Managed] struct {
	client client.Client
	list   func() (client.ObjectList, error)
}

func usersOf[T driver.Managed](c client.Client, scheme *runtime.Scheme, gvk schema.GroupVersionKind) users[T] {
	listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	return users[T]{
		client: c,
		list: func() (client.ObjectList, error) {
			o, err := scheme.New(listGVK)
			if err != nil {
				return nil, err
			}
			return o.(client.ObjectList), nil
		},
	}
}

// ofConfig maps a provider configuration to the objects that name it.
func (u users[T]) ofConfig(kind stratusv1alpha1.ProviderConfigKind) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		key := configKey(o.GetNamespace(), stratusv1alpha1.ProviderConfigReference{Kind: kind, Name: o.GetName()})
		return u.requests(ctx, client.MatchingFields{configRefIndex: key})
	}
}

// inNamespace maps a namespace to the objects in it.
func (u users[T]) inNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return u.requests(ctx, client.InNamespace(o.GetName()))
}

func (u users[T]) requests(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	l, err := u.list()
	if err == nil {
		err = u.client.List(ctx, l, opts...)
	}
	var items []runtime.Object
	if err == nil {
		items, err = meta.ExtractList(l)
	}
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list the objects a change concerns")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(items))
	for _, item := range items {
		if o, ok := item.(client.Object); ok {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return reqs
}

// specOrIntentChanged passes the updates a reconcile must react to at once:
// a spec change (new generation), a deletion, and a change of the
// annotations a user sets (pause, external name). It drops status updates and
// the bookkeeping annotations the reconciler writes itself, which would
// otherwise cost a reconcile each.
func specOrIntentChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return true
			}
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				(e.ObjectOld.GetDeletionTimestamp() == nil) != (e.ObjectNew.GetDeletionTimestamp() == nil) ||
				userAnnotationsChanged(e.ObjectOld, e.ObjectNew)
		},
	}
}

// userAnnotationsChanged compares annotations, leaving out those the
// reconciler writes when it creates.
func userAnnotationsChanged(old, new client.Object) bool {
	strip := func(o client.Object) map[string]string {
		a := maps.Clone(o.GetAnnotations())
		delete(a, stratusv1alpha1.AnnotationCreatePending)
		delete(a, stratusv1alpha1.AnnotationCreateSucceeded)
		if new.GetAnnotations()[stratusv1alpha1.AnnotationCreatePending] != old.GetAnnotations()[stratusv1alpha1.AnnotationCreatePending] {
			delete(a, stratusv1alpha1.AnnotationExternalName) // set with the create intent
		}
		return a
	}
	return !maps.Equal(strip(old), strip(new))
}
