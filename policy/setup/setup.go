// Package setup wires the guardrails into a manager: the Guardrail loader
// and reconciler, the webhooks, the audit and the webhook rules syncer.
package setup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
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
	// CertsReady, when set, is closed once the serving certificate is in
	// the webhook server's folder; the webhooks are served from then on.
	CertsReady <-chan struct{}
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
		APIReader:    mgr.GetAPIReader(),
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
	register := func() error { return registerWebhooks(mgr, store, cat, opts) }
	if opts.CertsReady == nil {
		if err := register(); err != nil {
			return nil, err
		}
		return store, mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker())
	}
	// The webhook server reads its certificate when it starts, so it is
	// only added to the manager once the certificate is in place.
	var registered atomic.Pointer[healthz.Checker]
	if err := mgr.Add(&whenReady{ready: opts.CertsReady, run: func() error {
		if err := register(); err != nil {
			return err
		}
		check := mgr.GetWebhookServer().StartedChecker()
		registered.Store(&check)
		return nil
	}}); err != nil {
		return nil, fmt.Errorf("add the webhook registration: %w", err)
	}
	if err := mgr.AddReadyzCheck("webhook", func(req *http.Request) error {
		check := registered.Load()
		if check == nil {
			return errors.New("waiting for the webhook certificate")
		}
		return (*check)(req)
	}); err != nil {
		return nil, fmt.Errorf("add the webhook readiness check: %w", err)
	}
	return store, nil
}

// registerWebhooks registers the Guardrail and guardrail webhooks with the
// manager's webhook server.
func registerWebhooks(mgr ctrl.Manager, store *guardrails.Store, cat *catalog.Catalog, opts Options) error {
	if err := ctrl.NewWebhookManagedBy(mgr, &policyv1alpha1.Guardrail{}).WithValidator(controller.Validator{}).Complete(); err != nil {
		return fmt.Errorf("set up the Guardrail webhook: %w", err)
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
	return nil
}

// whenReady runs run once ready is closed, on every replica.
type whenReady struct {
	ready <-chan struct{}
	run   func() error
}

// NeedLeaderElection is false: every replica serves the webhooks.
func (w *whenReady) NeedLeaderElection() bool { return false }

// Start waits for ready, then runs.
func (w *whenReady) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-w.ready:
		return w.run()
	}
}
