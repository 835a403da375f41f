package controller

import (
	"fmt"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
)

// The instances of composites and the resources they compose can be of any
// API. The rules below cover the Stratus kinds; the Helm chart grants the
// composites' own groups and any other composed kinds from its values
// (rbac.compositions), since they are only known at install time.
// +kubebuilder:rbac:groups=compositions.stratus.dev,resources=compositedefinitions,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=compositions.stratus.dev,resources=compositedefinitions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=compositions.stratus.dev,resources=compositedefinitions/finalizers,verbs=update
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=storage.stratus.dev,resources=buckets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=database.stratus.dev,resources=databases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Intervals.
const (
	// establishPollInterval is how often a definition checks whether its
	// CRD is served yet.
	establishPollInterval = 500 * time.Millisecond
	// pendingPollInterval is how often an instance that waits for its
	// composed resources is reconciled, besides the resources' own events.
	pendingPollInterval = 2 * time.Second
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
func Setup(mgr ctrl.Manager) error {
	for _, add := range []func(*runtime.Scheme) error{apiextv1.AddToScheme, compositionsv1alpha1.AddToScheme} {
		if err := add(mgr.GetScheme()); err != nil {
			return fmt.Errorf("register the types of compositions: %w", err)
		}
	}
	r := &definitionReconciler{
		client:   mgr.GetClient(),
		scheme:   mgr.GetScheme(),
		recorder: mgr.GetEventRecorder("stratus-compositedefinition"),
		registry: newRegistry(mgr),
		reader:   mgr.GetAPIReader(),
	}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("compositedefinition").
		For(&compositionsv1alpha1.CompositeDefinition{}).
		Owns(&apiextv1.CustomResourceDefinition{}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("set up the CompositeDefinition reconciler: %w", err)
	}
	return nil
}
