// Package admission is the guardrail validating webhook: it judges every
// admitted Stratus resource, and what a composite would create, by the
// Guardrails that match it, and denies, warns or records.
package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
	"github.com/stratus-operator/stratus/policy/engine"
	"github.com/stratus-operator/stratus/policy/guardrails"
	"github.com/stratus-operator/stratus/policy/match"
)

// The guardrail webhook covers the managed kinds; the composite kinds are
// added to its rules at run time (see policy/webhookconfig).
// +kubebuilder:webhook:path=/validate-guardrails,mutating=false,failurePolicy=fail,sideEffects=None,groups=storage.stratus.dev;database.stratus.dev,resources=*,verbs=create;update;delete,versions=v1alpha1,name=guardrails.stratus.dev,admissionReviewVersions=v1,timeoutSeconds=5

// Path is where the manager serves the guardrail webhook.
const Path = "/validate-guardrails"

// FailurePolicy says what happens to a request the guardrails could not
// judge, such as one whose evaluation timed out.
type FailurePolicy string

// The failure policies.
const (
	// Fail denies the request.
	Fail FailurePolicy = "Fail"
	// Ignore admits the request with a warning.
	Ignore FailurePolicy = "Ignore"
)

// DefaultExemptNamespaces are the system namespaces never judged.
var DefaultExemptNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Composites renders composites; compositions/catalog implements it.
type Composites interface {
	// Lookup returns the composition of gk, or nil when gk is not a
	// composite kind.
	Lookup(ctx context.Context, gk schema.GroupKind) (*render.Composition, error)
}

// Handler judges admission requests by the Guardrails in Store.
type Handler struct {
	// Store holds the compiled Guardrails.
	Store *guardrails.Store
	// Composites finds composite kinds; nil judges no composite children.
	Composites Composites
	// Namespaces reads Namespaces, for namespace selectors.
	Namespaces client.Reader
	// Recorder records dryrun violations as Events on their Guardrail.
	Recorder events.EventRecorder
	// ExemptNamespaces are never judged.
	ExemptNamespaces []string
	// FailurePolicy applies when a request cannot be judged.
	FailurePolicy FailurePolicy
	// Timeout bounds the evaluation of one request.
	Timeout time.Duration
	// Log receives one line per violation that is not denied.
	Log logr.Logger
}

var _ admission.Handler = &Handler{}

// Handle judges one request.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	resp, decision := h.handle(ctx, req)
	observeDecision(decision, time.Since(start))
	return resp
}

// request is an admission request decoded for the guardrails.
type request struct {
	match match.Request
	input engine.Input
	// subject is the object judged: the new one, or the old one on DELETE.
	subject *unstructured.Unstructured
}

func (h *Handler) handle(ctx context.Context, req admission.Request) (admission.Response, string) {
	if req.Namespace != "" && slices.Contains(h.ExemptNamespaces, req.Namespace) {
		return admission.Allowed("namespace " + req.Namespace + " is exempt from guardrails"), decisionExempt
	}
	op := policyv1alpha1.Operation(req.Operation)
	switch op {
	case "CREATE", "UPDATE", "DELETE":
	default:
		return admission.Allowed("guardrails do not judge " + string(req.Operation)), decisionAllow
	}
	r, err := decode(req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err), decisionError
	}
	if op == "UPDATE" && r.subject.GetDeletionTimestamp() != nil && onlyFinalizersChanged(r.input.OldObject, r.input.Object) {
		// The operator and the garbage collector take their finalizers
		// off an object being deleted: never block that, even while the
		// guardrails load. Any other change is judged below, deleting or
		// not: a spec change to an object being deleted (forceDestroy,
		// deletionPolicy) is what its deletion will act on.
		return admission.Allowed("only the finalizers of an object being deleted changed"), decisionAllow
	}
	if !h.Store.Ready() {
		return h.failed(errors.New("the guardrails are still loading")), decisionError
	}
	if r.match.Namespace != "" && h.Namespaces != nil {
		if r.input.Namespace, err = h.namespace(ctx, r.match.Namespace); err != nil {
			return h.failed(err), decisionError
		}
	}
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	snap := h.Store.Snapshot()
	j, err := h.judge(ctx, snap, r)
	if err != nil {
		return h.failed(err), decisionError
	}
	if op == "UPDATE" && r.input.OldObject != nil && hasDenial(j.findings) {
		// Existing violations do not block an update: they are the
		// audit's to report. Only new violations are denied. The old
		// object is judged as it stood, without an old object of its
		// own, so that a rule about what changed is never "existing".
		oldObj := &unstructured.Unstructured{Object: r.input.OldObject}
		prev := &request{
			match:   r.match,
			input:   engine.Input{Object: r.input.OldObject, Operation: r.input.Operation, UserInfo: r.input.UserInfo, Namespace: r.input.Namespace},
			subject: oldObj,
		}
		prev.match.Labels = oldObj.GetLabels()
		existing, err := h.judge(ctx, snap, prev)
		if err != nil {
			return h.failed(err), decisionError
		}
		// A guardrail that could not judge the old object has no
		// existing violations: its findings stand.
		j.findings = allowExisting(j.findings, existing.findings)
	}
	return h.respond(req, j)
}

// onlyFinalizersChanged reports whether an UPDATE changes nothing but the
// finalizers (and what the API server itself keeps: resourceVersion,
// managedFields, generation, and status, which goes through the status
// subresource that the webhook does not match).
func onlyFinalizersChanged(oldObj, newObj map[string]any) bool {
	if oldObj == nil || newObj == nil {
		return false
	}
	strip := func(o map[string]any) map[string]any {
		c := maps.Clone(o)
		delete(c, "status")
		if md, ok := c["metadata"].(map[string]any); ok {
			md = maps.Clone(md)
			for _, k := range []string{"finalizers", "resourceVersion", "managedFields", "generation"} {
				delete(md, k)
			}
			c["metadata"] = md
		}
		return c
	}
	return reflect.DeepEqual(strip(oldObj), strip(newObj))
}

// judgement is what the guardrails made of a request.
type judgement struct {
	findings []guardrails.Finding
	failures []guardrails.Failure
	// notes are warnings about what could not be judged up front.
	notes []string
}

// judge evaluates the guardrails that match r, and, for a composite, those
// that match the resources it would create.
func (h *Handler) judge(ctx context.Context, snap *guardrails.Snapshot, r *request) (judgement, error) {
	findings, failures, err := snap.Judge(ctx, r.match, r.input, h.namespaceLabels(ctx))
	if err != nil {
		return judgement{}, err
	}
	j := judgement{findings: findings, failures: failures}
	if r.match.Operation == "DELETE" || h.Composites == nil {
		return j, nil
	}
	children, err := h.judgeChildren(ctx, snap, r)
	if err != nil {
		return judgement{}, err
	}
	j.findings = append(j.findings, children.findings...)
	j.failures = append(j.failures, children.failures...)
	j.notes = children.notes
	return j, nil
}

func hasDenial(findings []guardrails.Finding) bool {
	for _, f := range findings {
		if f.Action == policyv1alpha1.EnforcementDeny {
			return true
		}
	}
	return false
}

// allowExisting turns the denials the old object already had into
// warnings.
func allowExisting(findings, existing []guardrails.Finding) []guardrails.Finding {
	had := make(map[string]bool, len(existing))
	for _, f := range existing {
		had[f.Guardrail+"\x00"+f.Message] = true
	}
	out := make([]guardrails.Finding, 0, len(findings))
	for _, f := range findings {
		if f.Action == policyv1alpha1.EnforcementDeny && had[f.Guardrail+"\x00"+f.Message] {
			f.Action = policyv1alpha1.EnforcementWarn
			f.Message = "existing violation, admitted until fixed: " + f.Message
		}
		out = append(out, f)
	}
	return out
}

// decode reads the object, old object and user of a request.
func decode(req admission.Request) (*request, error) {
	r := &request{input: engine.Input{Operation: string(req.Operation)}}
	var err error
	if r.input.Object, err = object(req.Object.Raw, "object"); err != nil {
		return nil, err
	}
	if r.input.OldObject, err = object(req.OldObject.Raw, "oldObject"); err != nil {
		return nil, err
	}
	subject := r.input.Object
	if subject == nil {
		subject = r.input.OldObject
	}
	if subject == nil {
		return nil, fmt.Errorf("the %s request carries no object", req.Operation)
	}
	r.subject = &unstructured.Unstructured{Object: subject}
	if r.input.UserInfo, err = userInfo(req.AdmissionRequest); err != nil {
		return nil, err
	}
	gk := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	if gk.Kind == "" {
		gk = r.subject.GroupVersionKind().GroupKind()
	}
	r.match = match.Request{
		GroupKind: gk,
		Namespace: req.Namespace,
		Labels:    r.subject.GetLabels(),
		Operation: policyv1alpha1.Operation(req.Operation),
	}
	return r, nil
}

// object decodes one embedded object; no bytes give nil.
func object(raw []byte, field string) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode request.%s: %w", field, err)
	}
	if m == nil {
		return nil, nil
	}
	// A malformed object must not reach the guardrails half-read.
	if md, ok := m["metadata"]; ok {
		if _, isMap := md.(map[string]any); !isMap {
			return nil, fmt.Errorf("decode request.%s: metadata is not an object", field)
		}
	}
	if _, _, err := unstructured.NestedStringMap(m, "metadata", "labels"); err != nil {
		return nil, fmt.Errorf("decode request.%s: metadata.labels: %w", field, err)
	}
	for _, key := range []string{"name", "namespace", "generateName"} {
		if _, _, err := unstructured.NestedString(m, "metadata", key); err != nil {
			return nil, fmt.Errorf("decode request.%s: metadata.%s: %w", field, key, err)
		}
	}
	for _, key := range []string{"apiVersion", "kind"} {
		if _, _, err := unstructured.NestedString(m, key); err != nil {
			return nil, fmt.Errorf("decode request.%s: %s: %w", field, key, err)
		}
	}
	return m, nil
}

func userInfo(req admissionv1.AdmissionRequest) (map[string]any, error) {
	data, err := json.Marshal(req.UserInfo)
	if err != nil {
		return nil, fmt.Errorf("encode request.userInfo: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode request.userInfo: %w", err)
	}
	return m, nil
}

// namespaceLabels reads namespace labels through the cache.
func (h *Handler) namespaceLabels(ctx context.Context) match.NamespaceLabels {
	if h.Namespaces == nil {
		return nil
	}
	return func(name string) (map[string]string, error) {
		ns := &corev1.Namespace{}
		if err := h.Namespaces.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
			return nil, err
		}
		return ns.Labels, nil
	}
}

// namespace reads a Namespace for input.namespace: its name and labels,
// which only the platform team sets.
func (h *Handler) namespace(ctx context.Context, name string) (map[string]any, error) {
	ns := &corev1.Namespace{}
	if err := h.Namespaces.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
		return nil, fmt.Errorf("read namespace %q: %w", name, err)
	}
	return guardrails.NamespaceInput(ns), nil
}

// failed applies the failure policy to a request that could not be judged.
func (h *Handler) failed(err error) admission.Response {
	if h.FailurePolicy == Ignore {
		resp := admission.Allowed("")
		resp.Warnings = []string{"guardrails could not judge this request and admitted it (failurePolicy Ignore): " + err.Error()}
		return resp
	}
	return admission.Denied("guardrails could not judge this request (failurePolicy Fail): " + err.Error())
}

// respond turns a judgement into a decision: any deny finding denies,
// warn findings become warnings, and dryrun findings are only recorded. A
// deny guardrail that could not judge the request gets the failure policy
// (unless another denies it anyway); a warn guardrail that could not
// becomes a warning, and a dryrun one is only recorded.
func (h *Handler) respond(req admission.Request, j judgement) (admission.Response, string) {
	var denied, warned, failedDeny, failedOther []string
	for _, f := range j.findings {
		countViolation(f)
		switch f.Action {
		case policyv1alpha1.EnforcementDeny:
			denied = append(denied, f.Message)
		case policyv1alpha1.EnforcementWarn:
			warned = append(warned, f.Message)
		default:
			h.recordDryRun(req, f)
		}
	}
	for _, f := range j.failures {
		h.recordFailure(req, f)
		switch f.Action {
		case policyv1alpha1.EnforcementDeny:
			failedDeny = append(failedDeny, f.Err.Error())
		case policyv1alpha1.EnforcementWarn:
			failedOther = append(failedOther, fmt.Sprintf("guardrails could not judge this request by %s (enforcement: warn): %v", f.Guardrail, f.Err))
		}
	}
	warnings := append(append(warned, failedOther...), j.notes...)
	if len(denied) > 0 {
		msg := "guardrail violation: " + denied[0]
		if len(denied) > 1 {
			msg = fmt.Sprintf("%d guardrail violations:\n- %s", len(denied), strings.Join(denied, "\n- "))
		}
		if len(failedDeny) > 0 {
			warnings = append(warnings, "guardrails could not judge this request: "+strings.Join(failedDeny, "; "))
		}
		resp := admission.Denied(msg)
		resp.Warnings = warnings
		return resp, decisionDeny
	}
	if len(failedDeny) > 0 {
		resp := h.failed(errors.New(strings.Join(failedDeny, "; ")))
		resp.Warnings = append(warnings, resp.Warnings...)
		return resp, decisionError
	}
	resp := admission.Allowed("")
	resp.Warnings = warnings
	if len(warned) > 0 {
		return resp, decisionWarn
	}
	return resp, decisionAllow
}

// recordFailure logs a guardrail that could not judge a request, counts it
// and, when its own Rego failed, records it as an Event on the Guardrail.
func (h *Handler) recordFailure(req admission.Request, f guardrails.Failure) {
	countFailure(f)
	h.Log.Info("guardrail could not judge a request", "guardrail", f.Guardrail, "enforcementAction", f.Action,
		"operation", req.Operation, "namespace", req.Namespace, "name", req.Name, "error", f.Err.Error())
	if h.Recorder == nil || !f.Rego || (req.DryRun != nil && *req.DryRun) {
		return
	}
	h.Recorder.Eventf(h.guardrailRef(f.Guardrail), nil, corev1.EventTypeWarning, ReasonEvaluationFailed, "Admit", "%s (at admission; %s)",
		f.Err.Error(), failureOutcome(f.Action, h.FailurePolicy))
}

// failureOutcome says what happened to a request its guardrail could not
// judge.
func failureOutcome(action policyv1alpha1.EnforcementAction, fp FailurePolicy) string {
	switch {
	case action != policyv1alpha1.EnforcementDeny:
		return "admitted: " + string(action)
	case fp == Ignore:
		return "admitted: failurePolicy Ignore"
	}
	return "denied: failurePolicy Fail"
}

// guardrailRef is the Guardrail called name, for an Event.
func (h *Handler) guardrailRef(name string) *policyv1alpha1.Guardrail {
	g := &policyv1alpha1.Guardrail{}
	g.SetGroupVersionKind(policyv1alpha1.GroupVersion.WithKind("Guardrail"))
	g.Name = name
	if e, ok := h.Store.Get(name); ok {
		g.UID = e.UID
	}
	return g
}

// recordDryRun logs a dryrun violation and records it as an Event on its
// Guardrail, unless the request itself is a dry run.
func (h *Handler) recordDryRun(req admission.Request, f guardrails.Finding) {
	h.Log.Info("dryrun guardrail violation admitted", "guardrail", f.Guardrail, "message", f.Message,
		"operation", req.Operation, "user", req.UserInfo.Username, "dryRunRequest", req.DryRun != nil && *req.DryRun)
	if h.Recorder == nil || (req.DryRun != nil && *req.DryRun) {
		return
	}
	h.Recorder.Eventf(h.guardrailRef(f.Guardrail), nil, corev1.EventTypeWarning, ReasonDryRunViolation, "Admit", "%s (%s by %s, admitted: dryrun)", f.Message, req.Operation, req.UserInfo.Username)
}

// Reasons of the Events the webhook records on Guardrails.
const (
	// ReasonDryRunViolation is the reason of the Event recorded for a
	// dryrun violation.
	ReasonDryRunViolation = "DryRunViolation"
	// ReasonEvaluationFailed is the reason of the Event recorded when a
	// Guardrail's Rego failed or exceeded a limit on a request.
	ReasonEvaluationFailed = "EvaluationFailed"
)
