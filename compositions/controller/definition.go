package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	// ReasonKindNotComposable: a resource is of a kind the platform team
	// does not let compositions create (--composable-kinds).
	ReasonKindNotComposable = "KindNotComposable"
	// ReasonAPIConflict: the definition's group or kind collides with an
	// API that exists, such as a CustomResourceDefinition it did not
	// create.
	ReasonAPIConflict = "APIConflict"
	// ReasonNotPermitted: the operator's RBAC does not let it serve the
	// composite.
	ReasonNotPermitted = "NotPermitted"
	// ReasonNotValid: the definition is not served because it is not
	// valid.
	ReasonNotValid = "NotValid"

	// ConditionDeleting is True while a deleted definition waits for the
	// instances of its kind to be deleted.
	ConditionDeleting = "Deleting"
	// ReasonBreakingChange: the new definition would break existing
	// instances; the previous one is still served.
	ReasonBreakingChange = "BreakingChange"
	// ReasonInstancesExist: a deleted definition waits for its instances.
	ReasonInstancesExist = "InstancesExist"
	// ReasonDeletingCRD: a deleted definition waits for its CRD to go.
	ReasonDeletingCRD = "DeletingCustomResourceDefinition"
)

// DefinitionFinalizer keeps a deleted CompositeDefinition until no
// instance of its kind exists and its CRD is deleted.
const DefinitionFinalizer = "compositions.stratus.dev/definition"

// maxBrokenListed is how many broken instances a BreakingChange message
// names.
const maxBrokenListed = 3

// notPermittedPollInterval is how often a definition the operator may not
// serve checks its rights again: nothing tells when RBAC changes.
const notPermittedPollInterval = 30 * time.Second

// Event reasons of a CompositeDefinition.
const (
	reasonInvalidDefinition = "InvalidDefinition"
	reasonAppliedCRD        = "AppliedCustomResourceDefinition"
	reasonCannotApplyCRD    = "CannotApplyCustomResourceDefinition"
	reasonCannotServe       = "CannotServeComposite"
	reasonBreakingChange    = "BreakingChange"
	reasonDeletedCRD        = "DeletedCustomResourceDefinition"
	reasonKindNotComposable = "KindNotComposable"
	reasonAPIConflict       = "APIConflict"
	reasonNotPermitted      = "NotPermitted"
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
	// reader lists instances and reads CRDs without caching them.
	reader client.Reader
	// mapper maps composed kinds to their resources and scopes.
	mapper meta.RESTMapper
	// groups lists the API groups the API server serves.
	groups func() ([]string, error)
	// composable are the kinds definitions may compose.
	composable []schema.GroupKind
}

// Reconcile serves one CompositeDefinition and writes its status once at
// the end.
func (r *definitionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	def := &v1alpha1.CompositeDefinition{}
	if err := r.client.Get(ctx, req.NamespacedName, def); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if def.DeletionTimestamp != nil && !controllerutil.ContainsFinalizer(def, DefinitionFinalizer) {
		return ctrl.Result{}, nil
	}
	if def.DeletionTimestamp == nil && !controllerutil.ContainsFinalizer(def, DefinitionFinalizer) {
		controllerutil.AddFinalizer(def, DefinitionFinalizer)
		if err := r.client.Update(ctx, def); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("cannot add the finalizer to %s: %w", def.Name, err)
		}
	}
	before := def.DeepCopy()
	var (
		result ctrl.Result
		err    error
	)
	if def.DeletionTimestamp != nil {
		var gone bool
		if result, gone, err = r.reconcileDelete(ctx, def); gone {
			return result, err
		}
	} else {
		result, err = r.reconcile(ctx, def)
	}
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
		r.refuse(def, ReasonInvalidDefinition, reasonInvalidDefinition, err.Error())
		return ctrl.Result{}, nil
	}
	tkinds, err := templateKinds(def)
	if err != nil {
		r.refuse(def, ReasonInvalidDefinition, reasonInvalidDefinition, err.Error())
		return ctrl.Result{}, nil
	}
	if msg := notComposable(tkinds, r.composable); msg != "" {
		r.refuse(def, ReasonKindNotComposable, reasonKindNotComposable, msg)
		return ctrl.Result{}, nil
	}
	msg, err := scopeProblems(r.mapper, tkinds, comp.Namespaced())
	if err != nil {
		return ctrl.Result{}, err
	}
	if msg != "" {
		// A kind may be missing until its CRD is installed.
		r.refuse(def, ReasonInvalidDefinition, reasonInvalidDefinition, msg)
		return ctrl.Result{RequeueAfter: breakingPollInterval}, nil
	}
	if msg, err := r.apiConflict(ctx, def); err != nil || msg != "" {
		if err != nil {
			return ctrl.Result{}, err
		}
		r.refuse(def, ReasonAPIConflict, reasonAPIConflict, msg)
		// The other API may go away; nothing else tells.
		return ctrl.Result{RequeueAfter: notPermittedPollInterval}, nil
	}
	kinds, err := composedKinds(def)
	if err != nil {
		r.refuse(def, ReasonInvalidDefinition, reasonInvalidDefinition, err.Error())
		return ctrl.Result{}, nil
	}

	// A new generation must not break the instances that exist: until it
	// does not, the previous one stays served and the CRD unchanged.
	prev := r.registry.lookup(comp.GroupVersionKind())
	changed := prev == nil || prev.definition != def.Name || prev.generation != def.Generation
	if changed {
		broken, err := r.breakingInstances(ctx, comp, prev)
		if err != nil {
			r.setCondition(def, ConditionValid, metav1.ConditionUnknown, ReasonBreakingChange, err.Error())
			return ctrl.Result{}, err
		}
		if len(broken) > 0 {
			msg := breakingMessage(broken)
			r.refuse(def, ReasonBreakingChange, reasonBreakingChange, msg)
			// Instances may be fixed meanwhile; nothing else tells.
			return ctrl.Result{RequeueAfter: breakingPollInterval}, nil
		}
	}
	r.setCondition(def, ConditionValid, metav1.ConditionTrue, ReasonValidDefinition, "every expression compiles, the resources form no cycle, and every kind is one compositions may create")
	def.Status.Order = comp.Order()

	if changed {
		needs, err := servingAccess(def, r.mapper, tkinds)
		if err != nil {
			return ctrl.Result{}, err
		}
		msg, err := notPermitted(ctx, r.client, needs)
		if err != nil {
			return ctrl.Result{}, err
		}
		if msg != "" {
			r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonNotPermitted, msg)
			r.recorder.Eventf(def, nil, "Warning", reasonNotPermitted, "Serve", "%s", msg)
			return ctrl.Result{RequeueAfter: notPermittedPollInterval}, nil
		}
	}

	crd, err := newCRD(def)
	if err != nil {
		r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonCannotServe, err.Error())
		return ctrl.Result{}, nil
	}
	crd, op, err := r.applyCRD(ctx, def, crd)
	var taken *crdTakenError
	switch {
	case errors.As(err, &taken):
		r.refuse(def, ReasonAPIConflict, reasonAPIConflict, taken.Error())
		return ctrl.Result{RequeueAfter: notPermittedPollInterval}, nil
	case err != nil:
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
		msg := fmt.Sprintf("waiting for the CustomResourceDefinition %s to be established", crd.Name)
		if c := crdCondition(crd, apiextv1.NamesAccepted); c != nil && c.Status == apiextv1.ConditionFalse {
			msg += ": " + c.Message
		}
		r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonPending, msg)
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

// refuse reports that the definition's generation is not valid. A
// previous generation that is served stays served; otherwise the
// definition is not Established.
func (r *definitionReconciler) refuse(def *v1alpha1.CompositeDefinition, reason, eventReason, msg string) {
	r.setCondition(def, ConditionValid, metav1.ConditionFalse, reason, msg)
	r.recorder.Eventf(def, nil, "Warning", eventReason, "Validate", "%s", msg)
	if r.registry.serves(def.Name) {
		return
	}
	r.setCondition(def, ConditionEstablished, metav1.ConditionFalse, ReasonNotValid, "not served: the definition is not valid")
}

// apiConflict says how the definition's API collides with one that
// exists, or "".
func (r *definitionReconciler) apiConflict(ctx context.Context, def *v1alpha1.CompositeDefinition) (string, error) {
	if why := reservedGroup(def.Spec.Group); why != "" {
		return why, nil
	}
	groups, err := r.groups()
	if err != nil {
		return "", fmt.Errorf("cannot list the API groups: %w", err)
	}
	crds := &apiextv1.CustomResourceDefinitionList{}
	if err := r.client.List(ctx, crds); err != nil {
		return "", fmt.Errorf("cannot list the CustomResourceDefinitions: %w", err)
	}
	return apiConflict(def, groups, crds.Items), nil
}

// crdTakenError: the CRD of a definition's kind exists and the definition
// does not control it.
type crdTakenError struct{ name string }

func (e *crdTakenError) Error() string {
	return fmt.Sprintf("the CustomResourceDefinition %s exists and this definition did not create it: a definition never takes over an API; choose another group or plural", e.name)
}

// applyCRD creates want, the CRD of def, or updates the one def controls.
// A CRD of that name that def does not control is never changed: the
// error is a *crdTakenError.
func (r *definitionReconciler) applyCRD(ctx context.Context, def *v1alpha1.CompositeDefinition, want *apiextv1.CustomResourceDefinition) (*apiextv1.CustomResourceDefinition, controllerutil.OperationResult, error) {
	got := &apiextv1.CustomResourceDefinition{}
	err := r.client.Get(ctx, client.ObjectKeyFromObject(want), got)
	switch {
	case apierrors.IsNotFound(err):
		if err := controllerutil.SetControllerReference(def, want, r.scheme); err != nil {
			return want, controllerutil.OperationResultNone, err
		}
		// Create fails if a CRD of that name appeared meanwhile.
		if err := r.client.Create(ctx, want); err != nil {
			return want, controllerutil.OperationResultNone, err
		}
		return want, controllerutil.OperationResultCreated, nil
	case err != nil:
		return want, controllerutil.OperationResultNone, err
	case !metav1.IsControlledBy(got, def):
		return got, controllerutil.OperationResultNone, &crdTakenError{name: want.Name}
	case equality.Semantic.DeepEqual(got.Spec, want.Spec):
		return got, controllerutil.OperationResultNone, nil
	}
	// The update carries the resourceVersion read, so it changes the CRD
	// only as read: still controlled by def.
	got.Spec = want.Spec
	if err := r.client.Update(ctx, got); err != nil {
		return got, controllerutil.OperationResultNone, err
	}
	return got, controllerutil.OperationResultUpdated, nil
}

// brokenInstance is an instance a new composition would break.
type brokenInstance struct {
	name string
	err  error
}

// breakingInstances returns the instances of comp's kind whose spec the
// previous composition accepts (any, when none is served) and comp does
// not. None exist when the kind is not installed yet.
func (r *definitionReconciler) breakingInstances(ctx context.Context, comp *render.Composition, prev *served) ([]brokenInstance, error) {
	items, err := r.instances(ctx, comp.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	var broken []brokenInstance
	for i := range items {
		u := &items[i]
		if u.GetDeletionTimestamp() != nil {
			continue
		}
		err := comp.ValidateSpec(u)
		if err == nil {
			continue
		}
		if prev != nil && prev.composition.ValidateSpec(u) != nil {
			// Broken already: the change does not break it.
			continue
		}
		name := u.GetName()
		if u.GetNamespace() != "" {
			name = u.GetNamespace() + "/" + name
		}
		broken = append(broken, brokenInstance{name: name, err: err})
	}
	return broken, nil
}

// instances lists the instances of gvk from the API server; none when the
// kind is not installed.
func (r *definitionReconciler) instances(ctx context.Context, gvk schema.GroupVersionKind) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.reader.List(ctx, list); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("cannot list the instances of %s: %w", gvk.Kind, err)
	}
	return list.Items, nil
}

func breakingMessage(broken []brokenInstance) string {
	noun := "instances"
	if len(broken) == 1 {
		noun = "instance"
	}
	parts := make([]string, 0, maxBrokenListed)
	for _, b := range broken[:min(len(broken), maxBrokenListed)] {
		parts = append(parts, b.name+": "+b.err.Error())
	}
	msg := fmt.Sprintf("would break %d %s: %s", len(broken), noun, strings.Join(parts, "; "))
	if len(broken) > maxBrokenListed {
		msg += fmt.Sprintf("; and %d more", len(broken)-maxBrokenListed)
	}
	return msg + "; still serving the previous generation"
}

// definitionGVK is the kind a definition serves, at its storage version,
// from its spec.
func definitionGVK(def *v1alpha1.CompositeDefinition) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: def.Spec.Group, Version: render.StorageVersion(def), Kind: def.Spec.Names.Kind}
}

// reconcileDelete deletes a definition once no instance of its kind
// exists: first its CRD, then, once that is gone, it stops serving the
// kind and removes the finalizer. gone is true when the definition no
// longer exists.
func (r *definitionReconciler) reconcileDelete(ctx context.Context, def *v1alpha1.CompositeDefinition) (ctrl.Result, bool, error) {
	log := ctrl.LoggerFrom(ctx)
	gvk := definitionGVK(def)
	if s := r.registry.lookup(gvk); s != nil && s.definition == def.Name {
		gvk = s.composition.GroupVersionKind()
	}
	crd := &apiextv1.CustomResourceDefinition{}
	name := def.Spec.Names.Plural + "." + def.Spec.Group
	err := r.reader.Get(ctx, client.ObjectKey{Name: name}, crd)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return ctrl.Result{}, false, fmt.Errorf("cannot read the CustomResourceDefinition %s: %w", name, err)
	case !metav1.IsControlledBy(crd, def):
		// Not ours: leave it, and its objects, which are not instances of
		// this definition.
	case crd.DeletionTimestamp == nil:
		items, err := r.instances(ctx, gvk)
		if err != nil {
			r.setCondition(def, ConditionDeleting, metav1.ConditionTrue, ReasonInstancesExist, err.Error())
			return ctrl.Result{}, false, err
		}
		if n := len(items); n > 0 {
			msg := fmt.Sprintf("%d instances still exist; delete them first", n)
			if n == 1 {
				msg = "1 instance still exists; delete it first"
			}
			r.setCondition(def, ConditionDeleting, metav1.ConditionTrue, ReasonInstancesExist, msg)
			return ctrl.Result{RequeueAfter: deletePollInterval}, false, nil
		}
		if err := r.client.Delete(ctx, crd, client.Preconditions{UID: &crd.UID}); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, false, fmt.Errorf("cannot delete the CustomResourceDefinition %s: %w", name, err)
		}
		log.Info("deleted the CustomResourceDefinition", "crd", name)
		r.recorder.Eventf(def, nil, "Normal", reasonDeletedCRD, "Delete", "deleted CustomResourceDefinition %s", name)
		fallthrough
	default:
		// Instances created meanwhile are still served, so that their
		// finalizers run while the API server deletes them.
		r.setCondition(def, ConditionDeleting, metav1.ConditionTrue, ReasonDeletingCRD, fmt.Sprintf("waiting for the CustomResourceDefinition %s to be deleted", name))
		return ctrl.Result{RequeueAfter: deletePollInterval}, false, nil
	}

	r.registry.unserve(gvk, def.Name)
	controllerutil.RemoveFinalizer(def, DefinitionFinalizer)
	if err := r.client.Update(ctx, def); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, true, nil
		}
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, true, nil
		}
		return ctrl.Result{}, true, fmt.Errorf("cannot remove the finalizer of %s: %w", def.Name, err)
	}
	log.Info("deleted the definition", "kind", gvk.Kind)
	return ctrl.Result{}, true, nil
}

func (r *definitionReconciler) setCondition(def *v1alpha1.CompositeDefinition, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&def.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: def.Generation,
	})
}

func established(crd *apiextv1.CustomResourceDefinition) bool {
	c := crdCondition(crd, apiextv1.Established)
	return c != nil && c.Status == apiextv1.ConditionTrue
}

func crdCondition(crd *apiextv1.CustomResourceDefinition, typ apiextv1.CustomResourceDefinitionConditionType) *apiextv1.CustomResourceDefinitionCondition {
	for i := range crd.Status.Conditions {
		if crd.Status.Conditions[i].Type == typ {
			return &crd.Status.Conditions[i]
		}
	}
	return nil
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
	status.Properties[render.StatusComposedResources] = apiextv1.JSONSchemaProps{
		Type:        "array",
		Description: "composedResources are the resources the instance created, which alone it manages.",
		XListType:   ptr.To("atomic"),
		Items: &apiextv1.JSONSchemaPropsOrArray{Schema: &apiextv1.JSONSchemaProps{
			Type:     "object",
			Required: []string{"resource", "apiVersion", "kind", "name", "uid"},
			Properties: map[string]apiextv1.JSONSchemaProps{
				"resource":   {Type: "string"},
				"apiVersion": {Type: "string"},
				"kind":       {Type: "string"},
				"namespace":  {Type: "string"},
				"name":       {Type: "string"},
				"uid":        {Type: "string"},
			},
		}},
	}
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
	// Every version has the one schema, so the API server converts
	// between them with the default strategy, None.
	versions := make([]apiextv1.CustomResourceDefinitionVersion, 0, len(def.Spec.Versions))
	for _, v := range def.Spec.Versions {
		versions = append(versions, apiextv1.CustomResourceDefinitionVersion{
			Name:       v.Name,
			Served:     v.Served,
			Storage:    v.Storage,
			Deprecated: v.Deprecated,
			Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{
				Type:     "object",
				Required: []string{"spec"},
				Properties: map[string]apiextv1.JSONSchemaProps{
					"apiVersion": {Type: "string"},
					"kind":       {Type: "string"},
					"metadata":   {Type: "object"},
					"spec":       *spec.DeepCopy(),
					"status":     *status.DeepCopy(),
				},
			}},
			Subresources: &apiextv1.CustomResourceSubresources{Status: &apiextv1.CustomResourceSubresourceStatus{}},
			AdditionalPrinterColumns: []apiextv1.CustomResourceColumnDefinition{
				{Name: "READY", Type: "string", JSONPath: ".status.conditions[?(@.type=='Ready')].status"},
				{Name: "SYNCED", Type: "string", JSONPath: ".status.conditions[?(@.type=='Synced')].status"},
				{Name: "AGE", Type: "date", JSONPath: ".metadata.creationTimestamp"},
			},
		})
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
			Scope:    scope,
			Versions: versions,
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
