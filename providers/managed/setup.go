package managed

import (
	"fmt"
	"maps"
	"strings"

	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
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
	err = ctrl.NewControllerManagedBy(mgr).
		Named(strings.ToLower(gvk.Kind)).
		For(kind.New(), builder.WithPredicates(specOrIntentChanged())).
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
