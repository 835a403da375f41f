// Package webhookconfig keeps the rules of the guardrail webhook in step
// with the composite kinds: the generated configuration covers the managed
// kinds, and each CompositeDefinition the operator serves adds its own
// group and resource, so that the API server sends composites to the
// guardrails too. A definition adds a rule only while the CustomResource
// Definition of its kind is the one the operator created for it and
// serves (see compositions/catalog): one that names an existing API never
// sends that API's requests to the webhook.
package webhookconfig

import (
	"context"
	"fmt"
	"slices"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/catalog"
)

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch;update;patch

// ManagedGroups are the API groups the generated webhook rules cover; every
// other rule of the guardrail webhook is a composite's and is rewritten.
var ManagedGroups = []string{"storage.stratus.dev", "database.stratus.dev"}

// RulesSyncer sets the rules of one webhook in one
// ValidatingWebhookConfiguration: the managed rules it was installed with,
// plus one rule per composite kind.
type RulesSyncer struct {
	Client client.Client
	// Catalog lists the composite kinds.
	Catalog *catalog.Catalog
	// Configuration is the name of the ValidatingWebhookConfiguration.
	Configuration string
	// Webhook is the name of the guardrail webhook in it.
	Webhook string
}

// SetupWithManager runs the syncer when a CompositeDefinition, the CRD of
// a composite or the configuration changes.
func (s *RulesSyncer) SetupWithManager(mgr ctrl.Manager) error {
	one := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: s.Configuration}}}
	})
	// CRDs as metadata only: which definition controls them.
	crds := &metav1.PartialObjectMetadata{}
	crds.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	return ctrl.NewControllerManagedBy(mgr).
		Named("guardrail-webhook-rules").
		Watches(&compositionsv1alpha1.CompositeDefinition{}, one).
		Watches(crds, one, builder.WithPredicates(compositeCRD)).
		Watches(&admissionregistrationv1.ValidatingWebhookConfiguration{}, one,
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == s.Configuration }),
				predicate.Funcs{GenericFunc: func(event.GenericEvent) bool { return false }})).
		Complete(s)
}

// compositeCRD passes the events of CRDs that a CompositeDefinition
// controls, or controlled before the change.
var compositeCRD = predicate.Funcs{
	CreateFunc:  func(e event.CreateEvent) bool { return byDefinition(e.Object) },
	DeleteFunc:  func(e event.DeleteEvent) bool { return byDefinition(e.Object) },
	UpdateFunc:  func(e event.UpdateEvent) bool { return byDefinition(e.ObjectOld) || byDefinition(e.ObjectNew) },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

func byDefinition(o client.Object) bool {
	if o == nil {
		return false
	}
	ref := metav1.GetControllerOf(o)
	return ref != nil && ref.Kind == "CompositeDefinition"
}

// Reconcile rewrites the composite rules when they differ.
func (s *RulesSyncer) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := s.Client.Get(ctx, types.NamespacedName{Name: s.Configuration}, vwc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	kinds, err := s.Catalog.Kinds(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	i := slices.IndexFunc(vwc.Webhooks, func(w admissionregistrationv1.ValidatingWebhook) bool { return w.Name == s.Webhook })
	if i < 0 {
		return ctrl.Result{}, fmt.Errorf("ValidatingWebhookConfiguration %q has no webhook %q", s.Configuration, s.Webhook)
	}
	want := Rules(vwc.Webhooks[i].Rules, kinds)
	if apiequality.Semantic.DeepEqual(want, vwc.Webhooks[i].Rules) {
		return ctrl.Result{}, nil
	}
	vwc.Webhooks[i].Rules = want
	if err := s.Client.Update(ctx, vwc); err != nil {
		return ctrl.Result{}, fmt.Errorf("update the rules of webhook %q: %w", s.Webhook, err)
	}
	ctrl.LoggerFrom(ctx).Info("guardrail webhook rules updated", "configuration", s.Configuration, "composites", len(kinds))
	return ctrl.Result{}, nil
}

// Rules keeps the managed rules of current and adds one rule per composite
// kind, sorted by group and resource.
func Rules(current []admissionregistrationv1.RuleWithOperations, kinds []catalog.Kind) []admissionregistrationv1.RuleWithOperations {
	var out []admissionregistrationv1.RuleWithOperations
	for _, r := range current {
		if len(r.APIGroups) > 0 && !slices.ContainsFunc(r.APIGroups, func(g string) bool { return !slices.Contains(ManagedGroups, g) }) {
			out = append(out, r)
		}
	}
	sorted := slices.Clone(kinds)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].GroupVersionKind.Group != sorted[j].GroupVersionKind.Group {
			return sorted[i].GroupVersionKind.Group < sorted[j].GroupVersionKind.Group
		}
		return sorted[i].Resource < sorted[j].Resource
	})
	for _, k := range sorted {
		if slices.Contains(ManagedGroups, k.GroupVersionKind.Group) {
			continue
		}
		scope := admissionregistrationv1.AllScopes
		out = append(out, admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete},
			Rule: admissionregistrationv1.Rule{
				APIGroups:   []string{k.GroupVersionKind.Group},
				APIVersions: slices.Clone(k.Versions),
				Resources:   []string{k.Resource},
				Scope:       &scope,
			},
		})
	}
	return out
}
