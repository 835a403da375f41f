// Package controller loads Guardrails into the store the webhook and audit
// enforce, reports on each Guardrail whether it compiled, and refuses a
// Guardrail whose Rego does not compile at admission.
package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

// ConditionCompiled says whether a Guardrail's Rego compiled and is
// enforced.
const ConditionCompiled = "Compiled"

// Reasons of the Compiled condition and of Events.
const (
	ReasonCompiled     = "Compiled"
	ReasonCompileError = "CompileError"
)

// +kubebuilder:rbac:groups=policy.stratus.dev,resources=guardrails,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy.stratus.dev,resources=guardrails/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// GuardrailReconciler compiles each Guardrail once per generation into the
// store. It runs on every replica, because every replica serves the webhook;
// only the leader writes status.
type GuardrailReconciler struct {
	Client   client.Client
	Store    *guardrails.Store
	Recorder events.EventRecorder
	// Elected is closed once this replica leads; status is written then.
	Elected <-chan struct{}
}

// Reconcile loads one Guardrail.
func (r *GuardrailReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	g := &policyv1alpha1.Guardrail{}
	if err := r.Client.Get(ctx, req.NamespacedName, g); err != nil {
		if apierrors.IsNotFound(err) {
			r.Store.Forget(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get guardrail %q: %w", req.Name, err)
	}
	if g.DeletionTimestamp != nil {
		r.Store.Forget(g.Name)
		return ctrl.Result{}, nil
	}
	cond, compileErr := Load(r.Store, g)
	if !r.leading() {
		return ctrl.Result{}, nil
	}
	prev := meta.FindStatusCondition(g.Status.Conditions, ConditionCompiled)
	if prev != nil && prev.Status == cond.Status && prev.Reason == cond.Reason && prev.Message == cond.Message &&
		prev.ObservedGeneration == g.Generation && g.Status.ObservedGeneration == g.Generation {
		return ctrl.Result{}, nil
	}
	if compileErr != nil {
		r.Recorder.Eventf(g, nil, corev1.EventTypeWarning, ReasonCompileError, "Compile", "%s", cond.Message)
		ctrl.LoggerFrom(ctx).Info("guardrail does not compile", "guardrail", g.Name, "error", compileErr.Error())
	}
	// The lock keeps the patch from undoing the audit's Audited
	// condition when the cache is behind: a conflict is retried.
	patch := client.MergeFromWithOptions(g.DeepCopy(), client.MergeFromWithOptimisticLock{})
	meta.SetStatusCondition(&g.Status.Conditions, cond)
	g.Status.ObservedGeneration = g.Generation
	if err := r.Client.Status().Patch(ctx, g, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("write status of guardrail %q: %w", g.Name, err)
	}
	return ctrl.Result{}, nil
}

func (r *GuardrailReconciler) leading() bool {
	if r.Elected == nil {
		return true
	}
	select {
	case <-r.Elected:
		return true
	default:
		return false
	}
}

// Load compiles g into store, unless its generation is already there, and
// returns its Compiled condition. A Guardrail that does not compile is not
// loaded: the revision enforced before, if any, stays enforced, and the
// condition says so. Only the reconciler calls it, one Guardrail at a time.
func Load(store *guardrails.Store, g *policyv1alpha1.Guardrail) (metav1.Condition, error) {
	defer store.Attempted(g.Name, guardrails.Attempt{UID: g.UID, Generation: g.Generation})
	cond := metav1.Condition{Type: ConditionCompiled, ObservedGeneration: g.Generation}
	prev, had := store.Get(g.Name)
	if had && prev.Generation == g.Generation && prev.UID == g.UID {
		cond.Status, cond.Reason = metav1.ConditionTrue, ReasonCompiled
		cond.Message = enforcedMessage(prev)
		return cond, nil
	}
	e, err := guardrails.Compile(g)
	if err != nil {
		cond.Status, cond.Reason = metav1.ConditionFalse, ReasonCompileError
		cond.Message = err.Error()
		if had && prev.UID == g.UID {
			cond.Message += fmt.Sprintf("; generation %d stays enforced", prev.Generation)
		} else {
			store.Delete(g.Name)
			cond.Message += "; nothing is enforced"
		}
		if len(cond.Message) > 32768 {
			cond.Message = cond.Message[:32765] + "..."
		}
		return cond, err
	}
	store.Put(e)
	cond.Status, cond.Reason = metav1.ConditionTrue, ReasonCompiled
	cond.Message = enforcedMessage(e)
	return cond, nil
}

func enforcedMessage(e *guardrails.Entry) string {
	return fmt.Sprintf("enforced (%s) at admission and in the audit", e.Action)
}
