package managed

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// The states of stratus_managed_resources.
const (
	stateReady           = "Ready"
	stateCreating        = "Creating"
	stateUnavailable     = "Unavailable"
	stateDeleting        = "Deleting"
	stateDeletionBlocked = "DeletionBlocked"
	stateError           = "Error"
)

// The help texts of the metrics.
const (
	managedResourcesHelp = "Managed resources by kind, provider (unknown until the provider configuration is resolved) and state (Ready, Creating, Unavailable, Deleting, DeletionBlocked, Error) as of their last reconcile."
	driftDetectedHelp    = "Times drift (a change made in the cloud to an unchanged spec) was detected and reported with a DriftDetected Event, by kind and provider."
)

// providerUnknown is the provider of an object whose provider configuration
// has not been resolved yet.
const providerUnknown = "unknown"

// The reconcilers' metrics, registered in controller-runtime's registry so
// that the manager's /metrics endpoint serves them. The reconcile latency is
// controller-runtime's controller_runtime_reconcile_time_seconds.
var (
	// managedResources is stratus_managed_resources.
	managedResources = newResourceStates()

	// driftDetected is stratus_drift_detected_total.
	driftDetected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stratus_drift_detected_total",
		Help: driftDetectedHelp,
	}, []string{"kind", "provider"})
)

func init() {
	metrics.Registry.MustRegister(managedResources, driftDetected)
}

// resourceKey identifies a managed resource among those of every kind.
type resourceKey struct {
	kind string
	types.NamespacedName
}

// resourceState is what stratus_managed_resources counts a resource under.
type resourceState struct {
	kind, provider, state string
}

// resourceStates is the collector of stratus_managed_resources{kind,
// provider, state}: the number of managed resources in each state. The
// reconcilers tell it the state of each object they reconcile and forget the
// objects that are gone; it keeps the counts up to date as they do, so a
// scrape costs one line per (kind, provider, state) seen, however many
// objects there are, and lists nothing. A count that drops to zero stays, at
// zero.
type resourceStates struct {
	desc *prometheus.Desc

	mu     sync.Mutex
	byKey  map[resourceKey]resourceState
	counts map[resourceState]int
}

func newResourceStates() *resourceStates {
	return &resourceStates{
		desc: prometheus.NewDesc("stratus_managed_resources", managedResourcesHelp,
			[]string{"kind", "provider", "state"}, nil),
		byKey:  map[resourceKey]resourceState{},
		counts: map[resourceState]int{},
	}
}

// set records the state of an object.
func (s *resourceStates) set(key resourceKey, st resourceState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byKey[key]
	if ok && old == st {
		return
	}
	if ok {
		s.counts[old]--
	}
	s.byKey[key] = st
	s.counts[st]++
}

// forget drops an object that is gone.
func (s *resourceStates) forget(key resourceKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byKey[key]; ok {
		s.counts[old]--
		delete(s.byKey, key)
	}
}

// provider returns the provider last recorded for an object, if any.
func (s *resourceStates) provider(key resourceKey) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byKey[key]
	return st.provider, ok && st.provider != providerUnknown
}

// reset forgets every object, for tests.
func (s *resourceStates) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.byKey)
	clear(s.counts)
}

// Describe implements prometheus.Collector.
func (s *resourceStates) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.desc
}

// Collect implements prometheus.Collector.
func (s *resourceStates) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	out := make([]prometheus.Metric, 0, len(s.counts))
	for st, n := range s.counts {
		out = append(out, prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(n), st.kind, st.provider, st.state))
	}
	s.mu.Unlock()
	for _, m := range out {
		ch <- m
	}
}

// stateOf derives the state of an object from the conditions the reconciler
// set on it:
//   - Error: Synced is False (the last reconcile failed, whatever the
//     reason) but for a pause;
//   - DeletionBlocked: Ready's reason is DeletionBlocked;
//   - Deleting: the object is being deleted, or Ready's reason is Deleting;
//   - Ready: Ready is True;
//   - Creating: Ready's reason is Creating;
//   - Unavailable: anything else (Unavailable, an observe-only resource
//     NotFound, no Ready condition yet).
func stateOf(mr driver.Managed) string {
	conds := mr.ManagedStatus().Conditions
	if s := meta.FindStatusCondition(conds, stratusv1alpha1.ConditionSynced); s != nil &&
		s.Status == metav1.ConditionFalse && s.Reason != stratusv1alpha1.ReasonReconcilePaused {
		return stateError
	}
	ready := meta.FindStatusCondition(conds, stratusv1alpha1.ConditionReady)
	switch {
	case ready != nil && ready.Reason == stratusv1alpha1.ReasonDeletionBlocked:
		return stateDeletionBlocked
	case mr.GetDeletionTimestamp() != nil || ready != nil && ready.Reason == stratusv1alpha1.ReasonDeleting:
		return stateDeleting
	case ready == nil:
		return stateUnavailable
	case ready.Status == metav1.ConditionTrue:
		return stateReady
	case ready.Reason == stratusv1alpha1.ReasonCreating:
		return stateCreating
	}
	return stateUnavailable
}
