package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
)

// Finalizer is the finalizer of a composite instance: it stays until the
// composed resources are deleted.
const Finalizer = "compositions.stratus.dev/composite"

// FieldOwner is the field manager of the composed resources.
const FieldOwner = "stratus-composite"

// AnnotationApplied holds a digest of what the operator last applied to a
// composed resource, so that a change that only drops fields is applied
// too: the resource still holds every field of the new rendering.
const AnnotationApplied = "compositions.stratus.dev/applied"

// ConnectionSecretSuffix names an instance's connection Secret after it.
const ConnectionSecretSuffix = "-connection"

// Reasons of an instance's conditions.
const (
	ReasonWaiting      = "WaitingForResources"
	ReasonRenderFailed = "RenderFailed"
	ReasonNotServed    = "DefinitionNotServed"
	// ReasonComposedResourceConflict: a resource the instance would
	// compose exists and is not the instance's; it is left alone.
	ReasonComposedResourceConflict = "ComposedResourceConflict"
)

// readTimeout bounds a read of the composed resources from their cache,
// which waits for the cache of a kind to fill.
const readTimeout = 30 * time.Second

// Event reasons of an instance.
const (
	reasonCreatedComposedResource   = "CreatedComposedResource"
	reasonDeletedComposedResource   = "DeletedComposedResource"
	reasonCannotRender              = "CannotRender"
	reasonCannotApply               = "CannotApplyComposedResource"
	reasonCannotDelete              = "CannotDeleteComposedResource"
	reasonCannotPublishConnection   = "CannotPublishConnectionDetails"
	reasonCannotObserveComposedKind = "CannotObserveComposedResources"
	reasonComposedResourceConflict  = "ComposedResourceConflict"
)

// instanceReconciler reconciles the instances of one composite.
type instanceReconciler struct {
	gvk      schema.GroupVersionKind
	registry *registry
	client   client.Client
	// instances reads the instances from the manager's cache.
	instances client.Reader
	// children reads the composed resources from their cache, which holds
	// only objects labeled as composed.
	children client.Reader
	// reader reads Secrets, and objects the caches do not hold, from the
	// API server.
	reader   client.Reader
	recorder events.EventRecorder
	// created remembers the resources created until the status records
	// them; waits holds the backoff of instances that wait.
	created pendingRecords
	waits   waits
}

// Reconcile composes one instance, or deletes what it is made of, and
// writes its status once at the end.
func (r *instanceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if r.registry.lookup(r.gvk) == nil && r.registry.retired(r.gvk) {
		// The definition was deleted: nothing serves the kind.
		return ctrl.Result{}, nil
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.gvk)
	if err := r.instances.Get(ctx, req.NamespacedName, u); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := r.registry.lookup(r.gvk)
	if s == nil {
		if r.registry.retired(r.gvk) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{RequeueAfter: pendingPollInterval}, nil
	}
	before, _, _ := unstructured.NestedFieldCopy(u.Object, "status")
	st := &instanceStatus{}
	st.conditions, _ = conditionsOf(u)
	recorded, legacy := recordOf(u)
	st.record = r.created.merge(u.GetUID(), recorded)
	// A namespaced instance, or one reconciled before the operator kept
	// records, trusts the resources it controls.
	st.trustControlled = s.composition.Namespaced() || u.GetNamespace() != "" || legacy

	var (
		result ctrl.Result
		err    error
		gone   bool
	)
	if u.GetDeletionTimestamp() != nil {
		result, gone, err = r.reconcileDelete(ctx, u, s, st)
	} else {
		result, err = r.reconcileNormal(ctx, u, s, st)
	}
	if gone {
		r.created.forget(u.GetUID())
		r.waits.done(u.GetUID())
		return result, err
	}
	after, werr := st.object(u.GetGeneration())
	if werr == nil && !equality.Semantic.DeepEqual(before, after) {
		u.Object["status"] = after
		werr = r.client.Status().Update(ctx, u)
	}
	if werr != nil {
		if apierrors.IsConflict(werr) || apierrors.IsNotFound(werr) {
			return ctrl.Result{Requeue: true}, err
		}
		return ctrl.Result{}, errors.Join(err, fmt.Errorf("cannot write the status of %s %s: %w", r.gvk.Kind, req.NamespacedName, werr))
	}
	return result, err
}

// instanceStatus is the status a reconcile computes.
type instanceStatus struct {
	fields     map[string]any
	conditions []metav1.Condition
	// keep is true when the projected fields are not recomputed and the
	// previous ones stay.
	keep     bool
	previous map[string]any
	// record are the resources the instance created.
	record *record
	// trustControlled is true when the instance accepts as its own every
	// resource it controls, not only those it recorded.
	trustControlled bool
}

func (s *instanceStatus) set(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) {
	meta.SetStatusCondition(&s.conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
}

// object returns the status as the API holds it.
func (s *instanceStatus) object(gen int64) (map[string]any, error) {
	out := map[string]any{}
	if s.keep {
		maps.Copy(out, s.previous)
	} else {
		maps.Copy(out, s.fields)
	}
	out["conditions"] = s.conditions
	out["observedGeneration"] = gen
	if s.record != nil {
		out[render.StatusComposedResources] = s.record.sorted()
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := utiljson.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func conditionsOf(u *unstructured.Unstructured) ([]metav1.Condition, error) {
	raw, ok, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var conds []metav1.Condition
	return conds, json.Unmarshal(b, &conds)
}

func (r *instanceReconciler) reconcileNormal(ctx context.Context, u *unstructured.Unstructured, s *served, st *instanceStatus) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	gen := u.GetGeneration()
	st.keep = true
	st.previous, _, _ = unstructured.NestedMap(u.Object, "status")
	delete(st.previous, "conditions")
	delete(st.previous, "observedGeneration")
	delete(st.previous, render.StatusComposedResources)

	fail := func(reason string, err error) (ctrl.Result, error) {
		st.set(stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonReconcileError, err.Error(), gen)
		r.recorder.Eventf(u, nil, corev1.EventTypeWarning, reason, "Reconcile", "%s", err.Error())
		return ctrl.Result{}, err
	}

	if !controllerutil.ContainsFinalizer(u, Finalizer) {
		controllerutil.AddFinalizer(u, Finalizer)
		if err := r.client.Update(ctx, u); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("cannot add the finalizer to %s %s: %w", r.gvk.Kind, u.GetName(), err)
		}
	}

	observed, err := r.observe(ctx, u, s, st)
	if err != nil {
		return fail(reasonCannotObserveComposedKind, err)
	}
	res, err := s.composition.Render(u, byName(observed))
	if err != nil {
		// An error of the definition or the instance: it may go away as
		// the composed resources change, so try again later.
		st.set(stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, ReasonRenderFailed, err.Error(), gen)
		st.set(stratusv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonRenderFailed, "cannot render the composed resources", gen)
		r.recorder.Eventf(u, nil, corev1.EventTypeWarning, reasonCannotRender, "Render", "%s", err.Error())
		return ctrl.Result{RequeueAfter: r.waits.next(u.GetUID(), fmt.Sprintf("%d render %s", gen, err))}, nil
	}

	owner := metav1.OwnerReference{
		APIVersion: r.gvk.GroupVersion().String(), Kind: r.gvk.Kind, Name: u.GetName(), UID: u.GetUID(),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}
	// keep are the resources that stay: those rendered, and all those of
	// a resource that is pending or could not be applied.
	keep := map[identity]bool{}
	pending := map[string]bool{}
	for _, p := range res.Pending {
		pending[p.Name] = true
	}
	var conflicts []conflict
	for _, rr := range res.Resources {
		obj := rr.Object
		obj.SetOwnerReferences([]metav1.OwnerReference{owner})
		if err := markApplied(obj); err != nil {
			return fail(reasonCannotApply, fmt.Errorf("cannot apply %s (%s): %w", describe(obj), rr.Name, err))
		}
		keep[identityOf(obj)] = true
		created, clash, err := r.compose(ctx, u, rr.Name, obj, observed[rr.Name], st)
		switch {
		case err != nil:
			return fail(reasonCannotApply, fmt.Errorf("cannot apply %s (%s): %w", describe(obj), rr.Name, err))
		case clash != nil:
			conflicts = append(conflicts, *clash)
			pending[rr.Name] = true
		case created:
			log.Info("created a composed resource", "resource", rr.Name, "kind", obj.GetKind(), "name", obj.GetName())
			r.recorder.Eventf(u, obj, corev1.EventTypeNormal, reasonCreatedComposedResource, "Create", "created %s %s (%s)", obj.GetKind(), obj.GetName(), rr.Name)
		}
	}
	st.record.keepOnly(observed, keep)
	// Composed resources no longer composed: excluded, removed from the
	// definition, or renamed.
	for _, name := range sortedNames(observed) {
		if pending[name] {
			continue
		}
		for _, obj := range observed[name] {
			if keep[identityOf(obj)] || obj.GetDeletionTimestamp() != nil {
				continue
			}
			if err := r.delete(ctx, obj, st); err != nil {
				return fail(reasonCannotDelete, fmt.Errorf("cannot delete %s (%s): %w", describe(obj), name, err))
			}
			log.Info("deleted a composed resource that is no longer composed", "resource", name, "kind", obj.GetKind(), "name", obj.GetName())
			r.recorder.Eventf(u, obj, corev1.EventTypeNormal, reasonDeletedComposedResource, "Delete", "deleted %s %s (%s): no longer composed", obj.GetKind(), obj.GetName(), name)
		}
	}

	complete := true
	if s.composition.Namespaced() || u.GetNamespace() != "" {
		var err error
		if complete, err = r.publishConnection(ctx, u, res, observed, owner); err != nil {
			return fail(reasonCannotPublishConnection, err)
		}
	}

	st.keep = false
	st.fields = res.Status
	waiting := waitingFor(res)
	if len(conflicts) > 0 {
		msg := conflictMessage(r.gvk.Kind, u.GetName(), conflicts)
		st.set(stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, ReasonComposedResourceConflict, msg, gen)
		st.set(stratusv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonComposedResourceConflict, msg, gen)
		for _, c := range conflicts {
			r.recorder.Eventf(u, nil, corev1.EventTypeWarning, reasonComposedResourceConflict, "Apply", "%s (%s) exists and is not %s %s's: left alone", describe(c.obj), c.resource, r.gvk.Kind, u.GetName())
		}
		waiting = msg
	} else {
		st.set(stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonReconcileSuccess, "the composed resources are applied", gen)
		if res.Ready {
			st.set(stratusv1alpha1.ConditionReady, metav1.ConditionTrue, stratusv1alpha1.ReasonAvailable, "every composed resource is ready", gen)
		} else {
			st.set(stratusv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonWaiting, waiting, gen)
		}
	}
	if !res.Ready || len(res.Pending) > 0 || !complete || len(conflicts) > 0 {
		// Waiting for the same thing again and again, the instance is
		// reconciled less and less often; its resources' events still
		// reconcile it at once.
		return ctrl.Result{RequeueAfter: r.waits.next(u.GetUID(), fmt.Sprintf("%d %t %s", gen, complete, waiting))}, nil
	}
	r.waits.done(u.GetUID())
	return ctrl.Result{}, nil
}

// compose applies obj, the resource name of instance u, with server-side
// apply, without ever taking over an object that is not u's: current are
// u's resources of that name as observed. An object u has not composed is
// created, which fails if one of that name exists; an object it has is
// applied with its UID, which fails if it was replaced meanwhile. created
// is true when obj was created; clash is set when an object of that name
// exists and is not u's, and is left alone.
func (r *instanceReconciler) compose(ctx context.Context, u *unstructured.Unstructured, name string, obj *unstructured.Unstructured, current []*unstructured.Unstructured, st *instanceStatus) (created bool, clash *conflict, err error) {
	var mine *unstructured.Unstructured
	for _, o := range current {
		if identityOf(o) == identityOf(obj) {
			mine = o
		}
	}
	if mine == nil {
		err := r.create(ctx, obj)
		if err == nil {
			ref := refOf(name, obj)
			st.record.add(ref)
			r.created.add(u.GetUID(), ref)
			return true, nil, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, nil, err
		}
		// It exists: it is u's only if the cache did not hold it yet.
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(obj.GroupVersionKind())
		if err := r.reader.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
			return false, nil, err
		}
		if !owns(u, live, st.record, st.trustControlled) {
			return false, &conflict{resource: name, obj: live}, nil
		}
		mine = live
	} else if holds(mine.Object, obj.Object) {
		// Already as rendered: an apply would change nothing, and at
		// thousands of instances the no-op applies of every reconcile
		// are most of the API server's work.
		return false, nil, nil
	}
	// The UID makes the apply fail rather than change another object of
	// the same name.
	obj.SetUID(mine.GetUID())
	return false, nil, r.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// markApplied sets AnnotationApplied of obj to a digest of obj.
func markApplied(obj *unstructured.Unstructured) error {
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationApplied] = hex.EncodeToString(sum[:16])
	obj.SetAnnotations(ann)
	return nil
}

// create creates obj, which fails if an object of its name exists, and
// makes its fields owned by an apply of FieldOwner, as if it had been
// applied: a create records them as an update, whose fields a later apply
// that drops them would not remove.
func (r *instanceReconciler) create(ctx context.Context, obj *unstructured.Unstructured) error {
	if err := r.client.Create(ctx, obj, client.FieldOwner(FieldOwner)); err != nil {
		return err
	}
	cur := obj.DeepCopy()
	for attempt := 0; ; attempt++ {
		patch, err := csaupgrade.UpgradeManagedFieldsPatch(cur, sets.New(FieldOwner), FieldOwner)
		if err != nil || patch == nil {
			return err
		}
		// The patch replaces the resourceVersion read, so it fails if the
		// object changed meanwhile (its controller's first write).
		err = r.client.Patch(ctx, cur, client.RawPatch(types.JSONPatchType, patch))
		if err == nil || !apierrors.IsConflict(err) || attempt == 4 {
			if err != nil {
				return fmt.Errorf("created, but cannot make its fields applied: %w", err)
			}
			return nil
		}
		cur = &unstructured.Unstructured{}
		cur.SetGroupVersionKind(obj.GroupVersionKind())
		if err := r.reader.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil || cur.GetUID() != obj.GetUID() {
			return client.IgnoreNotFound(err)
		}
	}
}

// delete deletes obj, one of the instance's composed resources, unless it
// was replaced meanwhile.
func (r *instanceReconciler) delete(ctx context.Context, obj *unstructured.Unstructured, st *instanceStatus) error {
	uid := obj.GetUID()
	err := r.client.Delete(ctx, obj, client.Preconditions{UID: &uid})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or replaced by an object that is not the instance's.
		err = nil
	}
	if err == nil {
		st.record.remove(uid)
	}
	return err
}

// waitingFor says what an instance that is not ready waits for.
func waitingFor(res *render.Result) string {
	var parts []string
	for _, p := range res.Pending {
		parts = append(parts, fmt.Sprintf("%s is pending (%s)", p.Name, p.Reason))
	}
	for _, rr := range res.Resources {
		if !rr.Ready {
			parts = append(parts, rr.Name+" is not ready")
		}
	}
	return strings.Join(parts, "; ")
}

// publishConnection writes the instance's connection Secret and reports
// whether every key it should hold is there.
func (r *instanceReconciler) publishConnection(ctx context.Context, u *unstructured.Unstructured, res *render.Result, observed map[string][]*unstructured.Unstructured, owner metav1.OwnerReference) (bool, error) {
	data := map[string][]byte{}
	maps.Copy(data, res.ConnectionData)
	complete := true
	cache := map[types.NamespacedName]*corev1.Secret{}
	for _, ref := range res.SecretRefs {
		objs := observed[ref.Resource]
		if len(objs) == 0 {
			complete = false
			continue
		}
		child := objs[0]
		name, _, _ := unstructured.NestedString(child.Object, "spec", "writeConnectionSecretToRef", "name")
		if name == "" {
			name = child.GetName() + ConnectionSecretSuffix
		}
		key := types.NamespacedName{Namespace: child.GetNamespace(), Name: name}
		sec, ok := cache[key]
		if !ok {
			sec = &corev1.Secret{}
			if err := r.reader.Get(ctx, key, sec); err != nil {
				if !apierrors.IsNotFound(err) {
					return false, fmt.Errorf("cannot read the connection Secret %s of %s: %w", key, ref.Resource, err)
				}
				sec = nil
			}
			cache[key] = sec
		}
		if sec == nil || sec.Data[ref.SecretKey] == nil {
			complete = false
			continue
		}
		data[ref.Key] = sec.Data[ref.SecretKey]
	}

	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: u.GetName() + ConnectionSecretSuffix, Namespace: u.GetNamespace(),
			Labels:          map[string]string{render.LabelComposite: u.GetName()},
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	got := &corev1.Secret{}
	err := r.reader.Get(ctx, client.ObjectKeyFromObject(want), got)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.client.Create(ctx, want); err != nil {
			return false, fmt.Errorf("cannot create the connection Secret %s: %w", want.Name, err)
		}
	case err != nil:
		return false, fmt.Errorf("cannot read the connection Secret %s: %w", want.Name, err)
	default:
		if !metav1.IsControlledBy(got, u) {
			return false, fmt.Errorf("cannot write the connection Secret %s: it exists and %s %s does not control it", want.Name, r.gvk.Kind, u.GetName())
		}
		if equality.Semantic.DeepEqual(got.Data, want.Data) && equality.Semantic.DeepEqual(got.Labels, want.Labels) {
			return complete, nil
		}
		got.Data, got.Labels = want.Data, want.Labels
		if err := r.client.Update(ctx, got); err != nil {
			return false, fmt.Errorf("cannot update the connection Secret %s: %w", want.Name, err)
		}
	}
	return complete, nil
}

// reconcileDelete deletes the composed resources in deletion order, one at
// a time, then the connection Secret, then removes the finalizer. gone is
// true once the finalizer is removed.
func (r *instanceReconciler) reconcileDelete(ctx context.Context, u *unstructured.Unstructured, s *served, st *instanceStatus) (ctrl.Result, bool, error) {
	log := ctrl.LoggerFrom(ctx)
	gen := u.GetGeneration()
	st.keep = true
	st.previous, _, _ = unstructured.NestedMap(u.Object, "status")
	delete(st.previous, "conditions")
	delete(st.previous, "observedGeneration")
	if !controllerutil.ContainsFinalizer(u, Finalizer) {
		return ctrl.Result{}, true, nil
	}
	delete(st.previous, render.StatusComposedResources)
	observed, err := r.observe(ctx, u, s, st)
	if err != nil {
		st.set(stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonReconcileError, err.Error(), gen)
		return ctrl.Result{}, false, err
	}
	// Resources the definition no longer composes go first, then the
	// others in reverse creation order.
	order := r.deletionOrder(s, observed)
	for _, name := range order {
		objs := observed[name]
		if len(objs) == 0 {
			continue
		}
		for _, obj := range objs {
			if obj.GetDeletionTimestamp() != nil {
				continue
			}
			if err := r.delete(ctx, obj, st); err != nil {
				err = fmt.Errorf("cannot delete %s (%s): %w", describe(obj), name, err)
				st.set(stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonReconcileError, err.Error(), gen)
				r.recorder.Eventf(u, obj, corev1.EventTypeWarning, reasonCannotDelete, "Delete", "%s", err.Error())
				return ctrl.Result{}, false, err
			}
			log.Info("deleted a composed resource", "resource", name, "kind", obj.GetKind(), "name", obj.GetName())
			r.recorder.Eventf(u, obj, corev1.EventTypeNormal, reasonDeletedComposedResource, "Delete", "deleted %s %s (%s)", obj.GetKind(), obj.GetName(), name)
		}
		st.set(stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonDeleting,
			fmt.Sprintf("waiting for %s %s (%s) to be deleted", objs[0].GetKind(), objs[0].GetName(), name), gen)
		st.set(stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonReconcileSuccess, "deleting the composed resources", gen)
		return ctrl.Result{RequeueAfter: deletePollInterval}, false, nil
	}

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: u.GetName() + ConnectionSecretSuffix, Namespace: u.GetNamespace()}}
	if u.GetNamespace() != "" {
		if err := r.reader.Get(ctx, client.ObjectKeyFromObject(sec), sec); err == nil && metav1.IsControlledBy(sec, u) {
			if err := r.client.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, false, fmt.Errorf("cannot delete the connection Secret %s: %w", sec.Name, err)
			}
		}
	}
	controllerutil.RemoveFinalizer(u, Finalizer)
	if err := r.client.Update(ctx, u); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, true, nil
		}
		return ctrl.Result{}, false, fmt.Errorf("cannot remove the finalizer of %s %s: %w", r.gvk.Kind, u.GetName(), err)
	}
	return ctrl.Result{}, true, nil
}

// deletionOrder returns the names of the observed resources in the order
// in which to delete them.
func (r *instanceReconciler) deletionOrder(s *served, observed map[string][]*unstructured.Unstructured) []string {
	order := s.composition.DeletionOrder()
	var stale []string
	for _, name := range slices.Sorted(maps.Keys(observed)) {
		if !slices.Contains(order, name) {
			stale = append(stale, name)
		}
	}
	return append(stale, order...)
}

// observe lists the composed resources of an instance by resource name,
// from their cache: those it owns (see owns).
func (r *instanceReconciler) observe(ctx context.Context, u *unstructured.Unstructured, s *served, st *instanceStatus) (map[string][]*unstructured.Unstructured, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	observed := map[string][]*unstructured.Unstructured{}
	opts := []client.ListOption{client.MatchingLabels{render.LabelComposite: u.GetName(), render.LabelDefinition: s.definition}}
	if u.GetNamespace() != "" {
		opts = append(opts, client.InNamespace(u.GetNamespace()))
	}
	for _, kind := range s.kinds {
		if !cached(kind.GroupKind()) {
			if err := r.observeRecorded(ctx, u, s, kind, st, observed); err != nil {
				return nil, err
			}
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(kind.GroupVersion().WithKind(kind.Kind + "List"))
		if err := r.children.List(ctx, list, opts...); err != nil {
			return nil, fmt.Errorf("cannot list the %s composed by %s %s: %w", kind.Kind, r.gvk.Kind, u.GetName(), err)
		}
		for i := range list.Items {
			obj := &list.Items[i]
			if !owns(u, obj, st.record, st.trustControlled) {
				continue
			}
			name := obj.GetLabels()[render.LabelResource]
			observed[name] = append(observed[name], obj)
			// What it owns, the record holds: that of an instance
			// reconciled before records were kept is filled so.
			st.record.add(refOf(name, obj))
		}
	}
	return observed, nil
}

// observeRecorded reads, by name, the resources of a kind that is not
// cached that the instance's record holds, and adds those it owns to
// observed.
func (r *instanceReconciler) observeRecorded(ctx context.Context, u *unstructured.Unstructured, s *served, kind schema.GroupVersionKind, st *instanceStatus, observed map[string][]*unstructured.Unstructured) error {
	for _, ref := range st.record.refs {
		if ref.identity().group != kind.Group || ref.Kind != kind.Kind || (u.GetNamespace() != "" && ref.Namespace != u.GetNamespace()) {
			continue
		}
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(kind)
		err := r.reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cannot read the %s %s composed by %s %s: %w", kind.Kind, ref.Name, r.gvk.Kind, u.GetName(), err)
		}
		l := obj.GetLabels()
		if l[render.LabelComposite] != u.GetName() || l[render.LabelDefinition] != s.definition || !owns(u, obj, st.record, st.trustControlled) {
			continue
		}
		// As the cache holds objects.
		obj.SetManagedFields(nil)
		observed[l[render.LabelResource]] = append(observed[l[render.LabelResource]], obj)
	}
	return nil
}

// byName returns the first observed resource of each name, as Render
// wants them.
func byName(observed map[string][]*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := make(map[string]*unstructured.Unstructured, len(observed))
	for name, objs := range observed {
		out[name] = objs[0]
	}
	return out
}
