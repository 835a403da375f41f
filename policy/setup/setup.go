// Package setup wires the guardrails into a manager: the Guardrail loader
// and reconciler, the webhooks, the audit and the webhook rules syncer.
package setup

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/catalog"
	"github.com/stratus-operator/stratus/policy/admission"
	"github.com/stratus-operator/stratus/policy/audit"
	"github.com/stratus-operator/stratus/policy/controller"
	"github.com/stratus-operator/stratus/policy/guardrails"
	"github.com/stratus-operator/stratus/policy/webhookconfig"
)

// Names of the generated webhook configuration and of the guardrail
// webhook in it (see the kubebuilder:webhook markers).
const (
	DefaultWebhookConfiguration = "validating-webhook-configuration"
	GuardrailWebhook            = "guardrails.stratus.dev"
)

// Options configure the guardrails.
type Options struct {
	// ManagedKinds are the managed resource kinds the audit lists.
	ManagedKinds []schema.GroupVersionKind
	// ServeWebhooks registers the webhooks with the manager's webhook
	// server. Without them only the audit enforces the guardrails.
	ServeWebhooks bool
	// ExemptNamespaces are never judged at admission.
	ExemptNamespaces []string
	// FailurePolicy applies to requests that cannot be judged.
	FailurePolicy admission.FailurePolicy
	// Timeout bounds the evaluation of one admission request.
	Timeout time.Duration
	// AuditInterval is how often every resource is re-checked.
	AuditInterval time.Duration
	// WebhookConfiguration is the ValidatingWebhookConfiguration whose
	// guardrail webhook rules follow the composite kinds; empty leaves it
	// alone.
	WebhookConfiguration string
}

// Setup adds the guardrails to mgr and returns their store.
func Setup(mgr ctrl.Manager, opts Options) (*guardrails.Store, error) {
	if err := policyv1alpha1.AddToScheme(mgr.GetScheme()); err != nil {
		return nil, fmt.Errorf("register the Guardrail type: %w", err)
	}
	store := guardrails.NewStore()
	cat := catalog.New(mgr.GetCache())
	if err := mgr.Add(&controller.Loader{Cache: mgr.GetCache(), Store: store}); err != nil {
		return nil, fmt.Errorf("add the guardrail loader: %w", err)
	}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("guardrail").
		For(&policyv1alpha1.Guardrail{}).
		WithOptions(crcontroller.Options{NeedLeaderElection: ptr.To(false)}).
		Complete(&controller.GuardrailReconciler{
			Client:   mgr.GetClient(),
			Store:    store,
			Recorder: mgr.GetEventRecorder("stratus-guardrail"),
			Elected:  mgr.Elected(),
		})
	if err != nil {
		return nil, fmt.Errorf("set up the Guardrail reconciler: %w", err)
	}
	if err := mgr.Add(&audit.Auditor{
		Client:       mgr.GetClient(),
		Store:        store,
		ManagedKinds: opts.ManagedKinds,
		Composites:   cat,
		Recorder:     mgr.GetEventRecorder("stratus-guardrail-audit"),
		Interval:     opts.AuditInterval,
	}); err != nil {
		return nil, fmt.Errorf("add the guardrail audit: %w", err)
	}
	if opts.WebhookConfiguration != "" {
		syncer := &webhookconfig.RulesSyncer{Client: mgr.GetClient(), Catalog: cat, Configuration: opts.WebhookConfiguration, Webhook: GuardrailWebhook}
		if err := syncer.SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("set up the guardrail webhook rules: %w", err)
		}
	}
	if err := mgr.AddReadyzCheck("guardrails", func(*http.Request) error {
		if !store.Ready() {
			return errors.New("guardrails are loading")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("add the guardrails readiness check: %w", err)
	}
	if !opts.ServeWebhooks {
		return store, nil
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &policyv1alpha1.Guardrail{}).WithValidator(controller.Validator{}).Complete(); err != nil {
		return nil, fmt.Errorf("set up the Guardrail webhook: %w", err)
	}
	failurePolicy := opts.FailurePolicy
	if failurePolicy == "" {
		failurePolicy = admission.Fail
	}
	mgr.GetWebhookServer().Register(admission.Path, &cradmission.Webhook{Handler: &admission.Handler{
		Store:            store,
		Composites:       cat,
		Namespaces:       mgr.GetCache(),
		Recorder:         mgr.GetEventRecorder("stratus-guardrail-webhook"),
		ExemptNamespaces: opts.ExemptNamespaces,
		FailurePolicy:    failurePolicy,
		Timeout:          opts.Timeout,
		Log:              mgr.GetLogger().WithName("guardrail-webhook"),
	}})
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return nil, fmt.Errorf("add the webhook readiness check: %w", err)
	}
	return store, nil
}

