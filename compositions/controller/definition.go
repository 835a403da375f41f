package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
)

// Conditions and reasons of a CompositeDefinition.
const (
	ConditionValid       = "Valid"
	ConditionEstablished = "Established"

	ReasonValidDefinition   = "ValidDefinition"
	ReasonInvalidDefinition = "InvalidDefinition"
	ReasonEstablished       = "Established"
	ReasonPending           = "Pending"
	ReasonCannotServe       = "CannotServe"
)

// Event reasons of a CompositeDefinition.
const (
	reasonInvalidDefinition = "InvalidDefinition"
	reasonAppliedCRD        = "AppliedCustomResourceDefinition"
	reasonCannotApplyCRD    = "CannotApplyCustomResourceDefinition"
	reasonCannotServe       = "CannotServeComposite"
)

// CategoryComposite is the kubectl category of every composite.
const CategoryComposite = "composite"

// definitionReconciler compiles CompositeDefinitions, installs their CRDs
// and starts their instance controllers.
type definitionReconciler struct {
	client   client.Client
	scheme   *runtime.Scheme
	recorder events.EventRecorder
	registry *registry
}

// Reconcile serves one CompositeDefinition and writes its status once at
// the end.
func (r *definitionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	def := &v1alpha1.CompositeDefinition{}
	if err := r.client.Get(ctx, req.NamespacedName, def); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if def.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	before := def.DeepCopy()
	result, err := r.reconcile(ctx, def)
	def.Status.ObservedGeneration = def.Generation
	if !equality.Semantic.DeepEqual(before.Status, def.Status) {
		if werr := r.client.Status().Patch(ctx, def, client.MergeFrom(before)); werr != nil {
			if apierrors.IsConflict(werr) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, errors.Join(err, fmt.Errorf("cannot write the status of %s: %w", def.Name, werr))
		}
	}
	return result, err
}

func (r *definitionReconciler) reconcile(ctx context.Context, def *v1alpha1.CompositeDefinition) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	comp, err := render.Compile(def)
	if err != nil {
		// The CRD and the instances keep what they have: the last valid
		// version stays served.
		r.setCondition(def, ConditionValid, metav1.ConditionFalse, ReasonInvalidDefinition, err.Error())
		r.recorder.Eventf(def, nil, "Warning", reasonInvalidDefinition, "Compile", "%s", err.Error())
		return ctrl.Result{}, nil
	}
	r.setCondition(def, ConditionValid, metav1.ConditionTrue, ReasonValidDefinition, "every expression compiles and the resources form no cycle")
	def.Status.Order = comp.Order()

	kinds, err := composedKinds(def)
	if err != nil {
		r.setCondition(def, ConditionValid, metav1.ConditionFalse, ReasonInvalidDefinition, err.Error())
		return ctrl.Result{}, nil
	}

	crd, err := newCRD(def)
	if err != nil {
		r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonCannotServe, err.Error())
		return ctrl.Result{}, nil
	}
	want := crd.Spec
	op, err := controllerutil.CreateOrUpdate(ctx, r.client, crd, func() error {
		crd.Spec = want
		return controllerutil.SetControllerReference(def, crd, r.scheme)
	})
	if err != nil {
		err = fmt.Errorf("cannot apply the CustomResourceDefinition %s: %w", crd.Name, err)
		r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonCannotServe, err.Error())
		r.recorder.Eventf(def, nil, "Warning", reasonCannotApplyCRD, "Apply", "%s", err.Error())
		return ctrl.Result{}, err
	}
	if op != controllerutil.OperationResultNone {
		log.Info("applied the CustomResourceDefinition", "crd", crd.Name, "operation", op)
		r.recorder.Eventf(def, nil, "Normal", reasonAppliedCRD, "Apply", "%s CustomResourceDefinition %s", op, crd.Name)
	}
	if !established(crd) {
		r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonPending, fmt.Sprintf("waiting for the CustomResourceDefinition %s to be established", crd.Name))
		return ctrl.Result{RequeueAfter: establishPollInterval}, nil
	}
	s := &served{definition: def.Name, generation: def.Generation, composition: comp, kinds: kinds}
	if err := r.registry.serve(ctx, s); err != nil {
		err = fmt.Errorf("cannot start the controller of %s: %w", def.Spec.Names.Kind, err)
		r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonCannotServe, err.Error())
		r.recorder.Eventf(def, nil, "Warning", reasonCannotServe, "Serve", "%s", err.Error())
		return ctrl.Result{}, err
	}
	r.setCondition(def, ConditionEstablished, metav1.ConditionTrue, ReasonEstablished, fmt.Sprintf("%s is served", comp.GroupVersionKind()))
	return ctrl.Result{}, nil
}

func (r *definitionReconciler) setCondition(def *v1alpha1.CompositeDefinition, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&def.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: def.Generation,
	})
}

func established(crd *apiextv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue {
			return true
		}
	}
	return false
}

// composedKinds returns the kinds of a definition's templates.
func composedKinds(def *v1alpha1.CompositeDefinition) ([]schema.GroupVersionKind, error) {
	var kinds []schema.GroupVersionKind
	for i, res := range def.Spec.Resources {
		var tm metav1.TypeMeta
		raw := res.Template.Raw
		if raw == nil && res.Template.Object != nil {
			var err error
			if raw, err = json.Marshal(res.Template.Object); err != nil {
				return nil, fmt.Errorf("resources[%d] (%s) template: %w", i, res.Name, err)
			}
		}
		if err := json.Unmarshal(raw, &tm); err != nil {
			return nil, fmt.Errorf("resources[%d] (%s) template: %w", i, res.Name, err)
		}
		gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
		if !slices.Contains(kinds, gvk) {
			kinds = append(kinds, gvk)
		}
	}
	return kinds, nil
}

// newCRD returns the CustomResourceDefinition of a definition's API.
func newCRD(def *v1alpha1.CompositeDefinition) (*apiextv1.CustomResourceDefinition, error) {
	spec, err := schemaProps(&def.Spec.Schema.Spec)
	if err != nil {
		return nil, fmt.Errorf("schema.spec: %w", err)
	}
	status := &apiextv1.JSONSchemaProps{Type: "object"}
	if def.Spec.Schema.Status != nil {
		if status, err = schemaProps(def.Spec.Schema.Status); err != nil {
			return nil, fmt.Errorf("schema.status: %w", err)
		}
	}
	if status.Properties == nil {
		status.Properties = map[string]apiextv1.JSONSchemaProps{}
	}
	status.Properties["observedGeneration"] = apiextv1.JSONSchemaProps{Type: "integer", Format: "int64"}
	status.Properties["conditions"] = apiextv1.JSONSchemaProps{
		Type:         "array",
		XListType:    ptr.To("map"),
		XListMapKeys: []string{"type"},
		Items: &apiextv1.JSONSchemaPropsOrArray{Schema: &apiextv1.JSONSchemaProps{
			Type:     "object",
			Required: []string{"type", "status"},
			Properties: map[string]apiextv1.JSONSchemaProps{
				"type":               {Type: "string"},
				"status":             {Type: "string"},
				"reason":             {Type: "string"},
				"message":            {Type: "string"},
				"lastTransitionTime": {Type: "string", Format: "date-time"},
				"observedGeneration": {Type: "integer", Format: "int64"},
			},
		}},
	}

	scope := apiextv1.NamespaceScoped
	if def.Spec.Scope == v1alpha1.CompositeCluster {
		scope = apiextv1.ClusterScoped
	}
	version := def.Spec.Version
	if version == "" {
		version = "v1alpha1"
	}
	categories := slices.Clone(def.Spec.Names.Categories)
	if !slices.Contains(categories, CategoryComposite) {
		categories = append(categories, CategoryComposite)
	}
	return &apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: def.Spec.Names.Plural + "." + def.Spec.Group},
		Spec: apiextv1.CustomResourceDefinitionSpec{
			Group: def.Spec.Group,
			Names: apiextv1.CustomResourceDefinitionNames{
				Kind:       def.Spec.Names.Kind,
				ListKind:   def.Spec.Names.Kind + "List",
				Plural:     def.Spec.Names.Plural,
				Singular:   lower(def.Spec.Names.Kind),
				ShortNames: def.Spec.Names.ShortNames,
				Categories: categories,
			},
			Scope: scope,
			Versions: []apiextv1.CustomResourceDefinitionVersion{{
				Name:    version,
				Served:  true,
				Storage: true,
				Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{
					Type:     "object",
					Required: []string{"spec"},
					Properties: map[string]apiextv1.JSONSchemaProps{
						"apiVersion": {Type: "string"},
						"kind":       {Type: "string"},
						"metadata":   {Type: "object"},
						"spec":       *spec,
						"status":     *status,
					},
				}},
				Subresources: &apiextv1.CustomResourceSubresources{Status: &apiextv1.CustomResourceSubresourceStatus{}},
				AdditionalPrinterColumns: []apiextv1.CustomResourceColumnDefinition{
					{Name: "READY", Type: "string", JSONPath: ".status.conditions[?(@.type=='Ready')].status"},
					{Name: "SYNCED", Type: "string", JSONPath: ".status.conditions[?(@.type=='Synced')].status"},
					{Name: "AGE", Type: "date", JSONPath: ".metadata.creationTimestamp"},
				},
			}},
		},
	}, nil
}

func schemaProps(raw *runtime.RawExtension) (*apiextv1.JSONSchemaProps, error) {
	b := raw.Raw
	if b == nil && raw.Object != nil {
		var err error
		if b, err = json.Marshal(raw.Object); err != nil {
			return nil, err
		}
	}
	s := &apiextv1.JSONSchemaProps{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, err
	}
	if s.Type == "" {
		s.Type = "object"
	}
	return s, nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
