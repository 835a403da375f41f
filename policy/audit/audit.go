// Package audit re-checks existing resources against the Guardrails,
// periodically and whenever a Guardrail changes, and reports what it finds
// on each Guardrail's status, as Events on the violating resources, and as
// metrics. Resources created before a Guardrail existed are found too.
package audit

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/catalog"
	"github.com/stratus-operator/stratus/policy/engine"
	"github.com/stratus-operator/stratus/policy/guardrails"
	"github.com/stratus-operator/stratus/policy/match"
)

// Defaults.
const (
	// DefaultInterval is how often every resource is re-checked.
	DefaultInterval = 5 * time.Minute
	// MaxListed is how many violations a Guardrail's status lists.
	MaxListed = 20
	// maxEventsPerRun bounds the Events one audit emits.
	maxEventsPerRun = 200
	// settle is how long the audit waits after a Guardrail change for
	// others to follow, so a batch of changes costs one audit.
	settle = time.Second
)

// ReasonViolation is the reason of the Event on a resource that breaks a
// Guardrail.
const ReasonViolation = "GuardrailViolation"

// Auditor audits the guarded kinds: the managed kinds and every composite.
type Auditor struct {
	// Client reads resources from the cache and writes Guardrail status.
	Client client.Client
	// Store holds the compiled Guardrails.
	Store *guardrails.Store
	// ManagedKinds are the managed resource kinds (Bucket, Database).
	ManagedKinds []schema.GroupVersionKind
	// Composites lists the composite kinds; nil audits none.
	Composites *catalog.Catalog
	// Recorder emits Events on violating resources.
	Recorder events.EventRecorder
	// Interval between periodic audits; DefaultInterval when zero.
	Interval time.Duration

	// reported are the violations an Event was already emitted for.
	reported map[string]bool
}

// NeedLeaderElection is true: one replica audits and writes status.
func (a *Auditor) NeedLeaderElection() bool { return true }

// Start audits until ctx ends.
func (a *Auditor) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("guardrail-audit")
	interval := a.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "audit failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-a.Store.Changed():
			// Let a burst of changes settle into one audit.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(settle):
			}
		}
	}
}

// result is what one audit found for one Guardrail.
type result struct {
	entry      *guardrails.Entry
	violations []policyv1alpha1.AuditViolation
}

// Run audits every guarded resource once.
func (a *Auditor) Run(ctx context.Context) error {
	start := time.Now()
	snap := a.Store.Snapshot()
	results := make(map[string]*result, len(snap.Entries))
	for _, e := range snap.Entries {
		results[e.Name] = &result{entry: e}
	}
	kinds, err := a.kinds(ctx)
	if err != nil {
		return err
	}
	nsLabels := func(name string) (map[string]string, error) {
		ns := &corev1.Namespace{}
		if err := a.Client.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
			return nil, err
		}
		return ns.Labels, nil
	}
	var events []pendingEvent
	seen := map[string]bool{}
	for _, gvk := range kinds {
		if !anyMatchesKind(snap, gvk.GroupKind()) {
			continue
		}
		objs, err := a.list(ctx, gvk)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			req := match.Request{GroupKind: gvk.GroupKind(), Namespace: obj.GetNamespace(), Labels: obj.GetLabels()}
			findings, err := snap.Judge(ctx, req, engine.Input{Object: obj.Object}, nsLabels)
			if err != nil {
				return fmt.Errorf("audit %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
			}
			for _, f := range findings {
				r := results[f.Guardrail]
				r.violations = append(r.violations, policyv1alpha1.AuditViolation{
					Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Message: truncate(f.Message, 1024),
				})
				k := string(obj.GetUID()) + "\x00" + f.Message
				seen[k] = true
				if !a.reported[k] {
					events = append(events, pendingEvent{obj: obj, finding: f})
				}
			}
		}
	}
	a.reported = seen
	now := metav1.NewTime(time.Now())
	violationsGauge.Reset()
	for _, r := range results {
		violationsGauge.WithLabelValues(r.entry.Name, string(r.entry.Action)).Set(float64(len(r.violations)))
		if err := a.writeStatus(ctx, r, now); err != nil {
			return err
		}
	}
	for i, ev := range events {
		if i == maxEventsPerRun {
			break
		}
		a.Recorder.Eventf(ev.obj, nil, corev1.EventTypeWarning, ReasonViolation, "Audit", "%s (enforcement: %s)", ev.finding.Message, ev.finding.Action)
	}
	auditDuration.Observe(time.Since(start).Seconds())
	lastAudit.Set(float64(now.Unix()))
	return nil
}

type pendingEvent struct {
	obj     *unstructured.Unstructured
	finding guardrails.Finding
}

func anyMatchesKind(snap *guardrails.Snapshot, gk schema.GroupKind) bool {
	for _, e := range snap.Entries {
		if e.Matcher.MatchesKind(gk) {
			return true
		}
	}
	return false
}

// kinds returns every guarded kind.
func (a *Auditor) kinds(ctx context.Context) ([]schema.GroupVersionKind, error) {
	kinds := append([]schema.GroupVersionKind(nil), a.ManagedKinds...)
	if a.Composites != nil {
		cs, err := a.Composites.Kinds(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			kinds = append(kinds, c.GroupVersionKind)
		}
	}
	return kinds, nil
}

// list reads every object of gvk from the cache: typed when the scheme
// knows the kind, so the informers the reconcilers already run are shared.
func (a *Auditor) list(ctx context.Context, gvk schema.GroupVersionKind) ([]*unstructured.Unstructured, error) {
	listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	scheme := a.Client.Scheme()
	if scheme.Recognizes(listGVK) {
		obj, err := scheme.New(listGVK)
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", gvk.Kind, err)
		}
		list := obj.(client.ObjectList)
		if err := a.Client.List(ctx, list); err != nil {
			return nil, fmt.Errorf("audit: list %s: %w", gvk.Kind, err)
		}
		items, err := runtimeItems(list)
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", gvk.Kind, err)
		}
		out := make([]*unstructured.Unstructured, 0, len(items))
		for _, it := range items {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(it)
			if err != nil {
				return nil, fmt.Errorf("audit %s: %w", gvk.Kind, err)
			}
			u := &unstructured.Unstructured{Object: m}
			u.SetGroupVersionKind(gvk)
			out = append(out, u)
		}
		return out, nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(listGVK)
	if err := a.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", gvk.Kind, err)
	}
	out := make([]*unstructured.Unstructured, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// writeStatus reports one Guardrail's audit on its status.
func (a *Auditor) writeStatus(ctx context.Context, r *result, now metav1.Time) error {
	sort.Slice(r.violations, func(i, j int) bool {
		x, y := r.violations[i], r.violations[j]
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if x.Kind != y.Kind {
			return x.Kind < y.Kind
		}
		return x.Message < y.Message
	})
	listed := r.violations
	if len(listed) > MaxListed {
		listed = listed[:MaxListed]
	}
	g := &policyv1alpha1.Guardrail{}
	if err := a.Client.Get(ctx, types.NamespacedName{Name: r.entry.Name}, g); err != nil {
		return client.IgnoreNotFound(err)
	}
	patch := client.MergeFrom(g.DeepCopy())
	g.Status.AuditTime = &now
	g.Status.TotalViolations = int32(len(r.violations))
	g.Status.Violations = listed
	if err := a.Client.Status().Patch(ctx, g, patch); err != nil {
		return fmt.Errorf("audit: write status of guardrail %q: %w", g.Name, client.IgnoreNotFound(err))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// runtimeItems returns the items of a typed list.
func runtimeItems(list runtime.Object) ([]runtime.Object, error) {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("read list: %w", err)
	}
	return items, nil
}
