package controller

import (
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
)

// The instances of composites and the resources they compose can be of any
// API. The rules below are what serving compositions takes whatever they
// compose; the Helm chart grants the composites' own groups
// (rbac.compositions.groups) and the kinds compositions may create
// (compositions.composableKinds) from its values, since they are only known
// at install time.
// +kubebuilder:rbac:groups=compositions.stratus.dev,resources=compositedefinitions,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=compositions.stratus.dev,resources=compositedefinitions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=compositions.stratus.dev,resources=compositedefinitions/finalizers,verbs=update
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=selfsubjectaccessreviews,verbs=create

// Intervals.
const (
	// establishPollInterval is how often a definition checks whether its
	// CRD is served yet.
	establishPollInterval = 500 * time.Millisecond
	// pendingPollInterval is how soon an instance that waits for its
	// composed resources is reconciled again, besides the resources' own
	// events; it doubles while the instance waits for the same thing, up
	// to maxPendingPollInterval.
	pendingPollInterval = 2 * time.Second
	// maxPendingPollInterval bounds how long an instance that waits goes
	// without a reconcile.
	maxPendingPollInterval = 2 * time.Minute
	// deletePollInterval is how often a deleting instance checks whether
	// the composed resource it deletes is gone.
	deletePollInterval = time.Second
	// instanceWorkers is how many instances of one composite kind are
	// reconciled at once.
	instanceWorkers = 10
	// breakingPollInterval is how often a definition that would break
	// instances checks them again.
	breakingPollInterval = 5 * time.Second
)

// Setup registers the CompositeDefinition reconciler with mgr. The
// controllers of the composites' instances are added to mgr while it runs,
// as definitions become valid and established.
func Setup(mgr ctrl.Manager, opts ...Option) error {
	o := options{composable: DefaultComposableKinds}
	for _, opt := range opts {
		opt(&o)
	}
	for _, add := range []func(*runtime.Scheme) error{apiextv1.AddToScheme, authorizationv1.AddToScheme, compositionsv1alpha1.AddToScheme} {
		if err := add(mgr.GetScheme()); err != nil {
			return fmt.Errorf("register the types of compositions: %w", err)
		}
	}
	disco, err := discovery.NewDiscoveryClientForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("create the discovery client of compositions: %w", err)
	}
	// The composed resources are read from a cache of their own that
	// holds only objects labeled as composed, so that composing Secrets or
	// ConfigMaps does not cache every one of the cluster.
	composed, err := labels.Parse(render.LabelDefinition)
	if err != nil {
		return err
	}
	children, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:           mgr.GetHTTPClient(),
		Scheme:               mgr.GetScheme(),
		Mapper:               mgr.GetRESTMapper(),
		DefaultLabelSelector: composed,
		DefaultTransform:     cache.TransformStripManagedFields(),
	})
	if err != nil {
		return fmt.Errorf("create the cache of composed resources: %w", err)
	}
	if err := mgr.Add(children); err != nil {
		return fmt.Errorf("add the cache of composed resources: %w", err)
	}
	r := &definitionReconciler{
		client:   mgr.GetClient(),
		scheme:   mgr.GetScheme(),
		recorder: mgr.GetEventRecorder("stratus-compositedefinition"),
		registry: newRegistry(mgr, children),
		reader:   mgr.GetAPIReader(),
		mapper:   mgr.GetRESTMapper(),
		groups: func() ([]string, error) {
			list, err := disco.ServerGroups()
			if err != nil {
				return nil, err
			}
			groups := make([]string, 0, len(list.Groups))
			for _, g := range list.Groups {
				groups = append(groups, g.Name)
			}
			return groups, nil
		},
		composable: o.composable,
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("compositedefinition").
		For(&compositionsv1alpha1.CompositeDefinition{}).
		Owns(&apiextv1.CustomResourceDefinition{}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("set up the CompositeDefinition reconciler: %w", err)
	}
	return nil
}
