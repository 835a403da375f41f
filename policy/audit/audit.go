// Package audit re-checks existing resources against the Guardrails,
// periodically and whenever a Guardrail changes, and reports what it finds
// on each Guardrail's status, as Events on the violating resources, and as
// metrics. Resources created before a Guardrail existed are found too. A
// Guardrail that fails, exceeds its evaluation limits or its budget of an
// audit is reported on its own Audited condition and never stops the audit
// of the others.
package audit

import (
	"context"
	"errors"
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
	"k8s.io/client-go/util/retry"
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
	// DefaultGuardrailBudget is how long the evaluations of one Guardrail
	// may take in one audit, so that a slow one does not hold up the
	// others: about 50,000 evaluations of an ordinary guardrail.
	DefaultGuardrailBudget = 10 * time.Second
)

// ReasonViolation is the reason of the Event on a resource that breaks a
// Guardrail.
const ReasonViolation = "GuardrailViolation"

// ConditionAudited says whether the last audit judged every resource a
// Guardrail applies to.
const ConditionAudited = "Audited"

// Reasons of the Audited condition.
const (
	// ReasonAudited: every resource was judged.
	ReasonAudited = "Audited"
	// ReasonEvaluationFailed: the Guardrail failed on some resources
	// (its Rego, or reading a namespace's labels); the others were
	// judged.
	ReasonEvaluationFailed = "EvaluationFailed"
	// ReasonLimitExceeded: the Guardrail exceeded a limit of its
	// evaluation, or its budget of the audit, and the audit stopped
	// evaluating it.
	ReasonLimitExceeded = "LimitExceeded"
)

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
	// GuardrailBudget bounds the evaluations of one Guardrail in one
	// audit; DefaultGuardrailBudget when zero.
	GuardrailBudget time.Duration
	// APIReader reads Guardrails before their status is written; Client
	// when nil.
	APIReader client.Reader

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
	// matched counts the resources the Guardrail applies to; evaluated
	// those it judged, failed those it could not, skipped those it was
	// not evaluated on once stopped.
	matched, evaluated, failed, skipped int
	// firstFailure is the first failure: "Bucket ns/name: error".
	firstFailure string
	// stopped says why the audit stopped evaluating the Guardrail.
	stopped string
	// spent is how long its evaluations took.
	spent time.Duration
}

// fail records that the Guardrail could not judge obj.
func (r *result) fail(kind string, obj client.Object, err error) {
	r.failed++
	if r.firstFailure == "" {
		r.firstFailure = fmt.Sprintf("%s %s: %v", kind, key(obj), err)
	}
}

// Run audits every guarded resource once. A Guardrail that fails on a
// resource, exceeds a limit of its evaluation, or takes more than its
// budget of this audit is reported on its own status; the others are
// audited as usual.
func (a *Auditor) Run(ctx context.Context) error {
	start := time.Now()
	snap := a.Store.Snapshot()
	results := make([]*result, 0, len(snap.Entries))
	for _, e := range snap.Entries {
		r := &result{entry: e}
		results = append(results, r)
	}
	budget := a.GuardrailBudget
	if budget <= 0 {
		budget = DefaultGuardrailBudget
	}
	kinds, err := a.kinds(ctx)
	if err != nil {
		return err
	}
	namespaces := map[string]*corev1.Namespace{}
	namespace := func(name string) (*corev1.Namespace, error) {
		if ns, ok := namespaces[name]; ok {
			return ns, nil
		}
		ns := &corev1.Namespace{}
		if err := a.Client.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
			return nil, err
		}
		namespaces[name] = ns
		return ns, nil
	}
	nsLabels := func(name string) (map[string]string, error) {
		ns, err := namespace(name)
		if err != nil {
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
			var (
				prepared   *engine.PreparedInput
				prepareErr error
			)
			for _, r := range results {
				e := r.entry
				ok, err := e.Matcher.Matches(req, nsLabels)
				if err != nil {
					r.matched++
					r.fail(gvk.Kind, obj, err)
					continue
				}
				if !ok {
					continue
				}
				r.matched++
				if r.stopped != "" {
					r.skipped++
					continue
				}
				if r.spent > budget {
					r.stopped = fmt.Sprintf("its evaluations took more than its budget of %s in one audit", budget)
					r.skipped++
					continue
				}
				if prepared == nil && prepareErr == nil {
					in := engine.Input{Object: obj.Object}
					if obj.GetNamespace() != "" {
						var ns *corev1.Namespace
						if ns, prepareErr = namespace(obj.GetNamespace()); prepareErr == nil {
							in.Namespace = guardrails.NamespaceInput(ns)
						}
					}
					if prepareErr == nil {
						prepared, prepareErr = engine.Prepare(in)
					}
				}
				if prepareErr != nil {
					r.fail(gvk.Kind, obj, prepareErr)
					continue
				}
				began := time.Now()
				vs, err := e.Policy.EvaluatePrepared(ctx, prepared)
				r.spent += time.Since(began)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					r.fail(gvk.Kind, obj, err)
					if le := (*engine.LimitError)(nil); errors.As(err, &le) {
						r.stopped = fmt.Sprintf("it exceeded a limit on %s %s", gvk.Kind, key(obj))
					}
					continue
				}
				r.evaluated++
				for _, v := range vs {
					f := guardrails.Finding{Violation: v, Action: e.Action}
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
	}
	a.reported = seen
	now := metav1.NewTime(time.Now())
	violationsGauge.Reset()
	failuresGauge.Reset()
	for _, r := range results {
		violationsGauge.WithLabelValues(r.entry.Name, string(r.entry.Action)).Set(float64(len(r.violations)))
		failuresGauge.WithLabelValues(r.entry.Name).Set(float64(r.failed + r.skipped))
		if r.failed+r.skipped > 0 {
			ctrl.LoggerFrom(ctx).Info("guardrail could not audit every resource", "guardrail", r.entry.Name,
				"failed", r.failed, "skipped", r.skipped, "first", r.firstFailure, "stopped", r.stopped)
		}
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

func key(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

// condition is the Audited condition of what the audit found.
func (r *result) condition(generation int64) metav1.Condition {
	c := metav1.Condition{Type: ConditionAudited, ObservedGeneration: generation}
	switch {
	case r.failed == 0 && r.skipped == 0:
		c.Status, c.Reason = metav1.ConditionTrue, ReasonAudited
		c.Message = fmt.Sprintf("judged %d resources", r.evaluated)
	case r.stopped != "":
		c.Status, c.Reason = metav1.ConditionFalse, ReasonLimitExceeded
		c.Message = fmt.Sprintf("the audit stopped evaluating this guardrail: %s; judged %d of %d resources, %d failed, %d not evaluated (totalViolations counts the judged ones); first failure: %s",
			r.stopped, r.evaluated, r.matched, r.failed, r.skipped, orNone(r.firstFailure))
	default:
		c.Status, c.Reason = metav1.ConditionFalse, ReasonEvaluationFailed
		c.Message = fmt.Sprintf("could not judge %d of %d resources; first: %s", r.failed, r.matched, r.firstFailure)
	}
	c.Message = truncate(c.Message, 32768)
	return c
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
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

// writeStatus reports one Guardrail's audit on its status. The patch
// carries the resourceVersion it was made from, so that it never undoes
// the Compiled condition the reconciler writes meanwhile: a conflict reads
// the Guardrail again.
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
	reader := a.APIReader
	if reader == nil {
		reader = a.Client
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		g := &policyv1alpha1.Guardrail{}
		if err := reader.Get(ctx, types.NamespacedName{Name: r.entry.Name}, g); err != nil {
			return err
		}
		if g.UID != r.entry.UID {
			return nil // deleted and created again: the next audit
		}
		patch := client.MergeFromWithOptions(g.DeepCopy(), client.MergeFromWithOptimisticLock{})
		g.Status.AuditTime = &now
		g.Status.TotalViolations = int32(len(r.violations))
		g.Status.Violations = listed
		meta.SetStatusCondition(&g.Status.Conditions, r.condition(r.entry.Generation))
		return a.Client.Status().Patch(ctx, g, patch)
	})
	if err = client.IgnoreNotFound(err); err != nil {
		return fmt.Errorf("audit: write status of guardrail %q: %w", r.entry.Name, err)
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
