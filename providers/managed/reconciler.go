package managed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Event reasons.
const (
	reasonCreatedExternalResource  = "CreatedExternalResource"
	reasonUpdatedExternalResource  = "UpdatedExternalResource"
	reasonDeletedExternalResource  = "DeletedExternalResource"
	reasonOrphanedExternalResource = "OrphanedExternalResource"
	reasonAdoptedExternalResource  = "AdoptedExternalResource"
	reasonDriftDetected            = "DriftDetected"
	reasonDriftCorrected           = "DriftCorrected"
	reasonCannotObserve            = "CannotObserveExternalResource"
	reasonCannotCreate             = "CannotCreateExternalResource"
	reasonCannotUpdate             = "CannotUpdateExternalResource"
	reasonCannotDelete             = "CannotDeleteExternalResource"
	reasonCannotConnect            = "CannotConnectToProvider"
	reasonCannotPublishConnection  = "CannotPublishConnectionDetails"
	reasonDeletionBlockedEvent     = "DeletionBlocked"
	reasonUnsupportedFeaturesEvent = "UnsupportedFeatures"
	reasonRefused                  = "Refused"
	reasonExternalResourceMissing  = "ExternalResourceMissing"
	reasonRecreatingExternal       = "RecreatingExternalResource"
	reasonReleasedNotDeleted       = "ReleasedWithoutDeleting"
	reasonInvalidExternalName      = "InvalidExternalName"
)

// Kind describes one managed-resource kind to the generic reconciler.
type Kind[T driver.Managed] struct {
	// New returns an empty object of the kind.
	New func() T
	// Drivers are the kind's drivers by provider.
	Drivers map[stratusv1alpha1.Provider]driver.Registration[T]
	// ExternalName returns the deterministic cloud name of an object that
	// has no external-name annotation: a spec field if the kind has one,
	// else GeneratedName.
	ExternalName func(T) string
	// GeneratedName returns the name the operator generates for an object,
	// unique to its namespace and name. A resource under that name that no
	// object owns, found after a create this object began, is the object's
	// own (a crash before the owner mark was written); under any other name
	// it is adopted only where the provider configuration allows it.
	GeneratedName func(T) string
	// Region returns the region the spec asks for, "" when it names none.
	Region func(T) string
	// ForgetObservation clears status.atProvider. Observe writes it before
	// the reconciler has read the owner mark: what it saw of a resource that
	// is not the object's must not be kept where the object's author reads.
	ForgetObservation func(T)
}

// Intervals of the reconciler that are not options.
const (
	// statusWriteTimeout bounds the status write at the end of a
	// reconcile, apart from the reconcile's own timeout.
	statusWriteTimeout = 10 * time.Second
	// conflictRetryInterval is how soon an object that changed during a
	// reconcile is reconciled again.
	conflictRetryInterval = time.Second
	// terminalRetryInterval is how often a terminal error is retried when
	// nothing it waits on is seen to change.
	terminalRetryInterval = time.Hour
)

// Reconciler reconciles the managed resources of one kind.
type Reconciler[T driver.Managed] struct {
	kind     Kind[T]
	gvk      schema.GroupVersionKind
	client   client.Client
	configs  *ProviderConfigs
	secrets  connectionSecrets
	recorder events.EventRecorder
	clients  *clientCache[T]
	opts     Options
	now      func() time.Time
}

// NewReconciler returns a reconciler of kind. Setup builds one for a
// manager; tests may build one around a fake client.
func NewReconciler[T driver.Managed](kind Kind[T], gvk schema.GroupVersionKind, c client.Client, reader client.Reader, configs *ProviderConfigs, recorder events.EventRecorder, opts Options) *Reconciler[T] {
	opts.setDefaults()
	return &Reconciler[T]{
		kind:     kind,
		gvk:      gvk,
		client:   c,
		configs:  configs,
		secrets:  connectionSecrets{client: c, reader: reader, gvk: gvk},
		recorder: recorder,
		clients:  newClientCache[T](),
		opts:     opts,
		now:      time.Now,
	}
}

// Reconcile brings one managed resource's cloud resource in line with its
// spec, or deletes it, and writes the status once at the end, recording the
// state it left the object in for stratus_managed_resources.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := resourceKey{kind: r.gvk.Kind, NamespacedName: req.NamespacedName}
	mr := r.kind.New()
	if err := r.client.Get(ctx, req.NamespacedName, mr); err != nil {
		if apierrors.IsNotFound(err) {
			managedResources.forget(key)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Cloud calls get the reconcile timeout; the status write has its own
	// grace period, so that a cloud call that hung still leaves a condition.
	workCtx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()

	before, err := statusOf(mr)
	if err != nil {
		return ctrl.Result{}, err
	}
	var provider stratusv1alpha1.Provider
	result, err := r.reconcile(workCtx, mr, &provider)
	mr.ManagedStatus().ObservedGeneration = mr.GetGeneration()
	r.recordState(key, mr, provider)
	if released(mr) {
		// The object is gone, or waits only for others' finalizers: its
		// status is no longer the operator's to write.
		return result, err
	}
	statusCtx, cancelStatus := context.WithTimeout(ctx, statusWriteTimeout)
	defer cancelStatus()
	if werr := r.writeStatus(statusCtx, mr, before); werr != nil {
		if apierrors.IsConflict(werr) {
			// The object changed while we worked: reconcile its new version.
			return ctrl.Result{RequeueAfter: conflictRetryInterval}, nil
		}
		return ctrl.Result{}, errors.Join(err, werr)
	}
	return result, err
}

// recordState updates stratus_managed_resources with the state the
// reconcile left mr in, under provider, or the provider recorded before when
// the reconcile did not resolve one. An object the reconciler has let go of
// (deleted, its finalizer removed) is forgotten.
func (r *Reconciler[T]) recordState(key resourceKey, mr T, provider stratusv1alpha1.Provider) {
	if released(mr) {
		managedResources.forget(key)
		return
	}
	p := string(provider)
	if p == "" {
		var ok bool
		if p, ok = managedResources.provider(key); !ok {
			p = providerUnknown
		}
	}
	managedResources.set(key, resourceState{kind: r.gvk.Kind, provider: p, state: stateOf(mr)})
}

// released reports whether the reconciler has let go of an object being
// deleted: its finalizer is off.
func released(mr client.Object) bool {
	return mr.GetDeletionTimestamp() != nil && !controllerutil.ContainsFinalizer(mr, stratusv1alpha1.Finalizer)
}

// reconcile does the work of Reconcile and sets conditions on mr. It sets
// *provider to the provider of the configuration once it has resolved it.
func (r *Reconciler[T]) reconcile(ctx context.Context, mr T, provider *stratusv1alpha1.Provider) (ctrl.Result, error) {
	spec := mr.ManagedSpec()
	deleting := mr.GetDeletionTimestamp() != nil

	if mr.GetAnnotations()[stratusv1alpha1.AnnotationPaused] == "true" {
		r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonReconcilePaused,
			fmt.Sprintf("reconciliation is paused by the %s annotation", stratusv1alpha1.AnnotationPaused))
		return ctrl.Result{}, nil
	}
	if deleting && !controllerutil.ContainsFinalizer(mr, stratusv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	if deleting && (spec.DeletionPolicy == stratusv1alpha1.DeletionOrphan || spec.ManagementPolicy == stratusv1alpha1.ManagementObserveOnly) {
		return ctrl.Result{}, r.finalize(ctx, mr, "", true)
	}
	if deleting && !r.mayExist(mr) {
		// Nothing was ever created or adopted: there is nothing to delete.
		return ctrl.Result{}, r.finalize(ctx, mr, "", false)
	}

	rc, err := r.configs.resolve(ctx, mr)
	if err != nil {
		return r.fail(ctx, mr, "", reasonCannotConnect, err)
	}
	*provider = rc.Spec.Provider
	name := r.externalName(mr)
	if err := r.checkRecord(mr, name, rc.Spec.Provider); err != nil {
		return r.fail(ctx, mr, rc.key, reasonRefused, err)
	}
	reg, ok := r.kind.Drivers[rc.Spec.Provider]
	if !ok {
		return r.fail(ctx, mr, rc.key, reasonCannotConnect, driver.Terminalf("%s has no driver for provider %s (%s): use a provider configuration for one of %s",
			r.gvk.Kind, rc.Spec.Provider, rc.key, strings.Join(r.providers(), ", ")))
	}
	if err := checkCloudName(reg, name); err != nil {
		if deleting {
			// No cloud resource can have this name: nothing to delete.
			return ctrl.Result{}, r.finalize(ctx, mr, "", false)
		}
		return r.fail(ctx, mr, rc.key, reasonInvalidExternalName, err)
	}
	cl, err := r.clients.get(ctx, reg, rc)
	if err != nil {
		return r.fail(ctx, mr, rc.key, reasonCannotConnect, fmt.Errorf("connect to %s with %s: %w", rc.Spec.Provider, rc.key, err))
	}

	connName := r.secrets.name(mr, reg.GenerateCredentials != nil)
	conn, err := r.secrets.read(ctx, mr, connName)
	if err != nil {
		return r.fail(ctx, mr, rc.key, reasonCannotPublishConnection, err)
	}
	region := r.kind.Region(mr)
	if region == "" {
		region = rc.Spec.Region
	}
	purpose := driver.PurposeSync
	if deleting {
		purpose = driver.PurposeDelete
	}
	dreq := driver.Request[T]{Object: mr, Purpose: purpose, ExternalName: name, Region: region,
		Known: r.known(mr, name), Connection: conn, Owner: r.owner(mr)}
	op := operation[T]{rc: rc, reg: reg, client: cl, req: dreq, connName: connName}

	obs, err := r.observe(ctx, op)
	if err != nil {
		return r.fail(ctx, mr, rc.key, reasonCannotObserve, err)
	}
	switch {
	case deleting:
		return r.delete(ctx, mr, op, obs)
	case !obs.Exists && spec.ManagementPolicy == stratusv1alpha1.ManagementObserveOnly:
		r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonNotFound,
			fmt.Sprintf("%s %q does not exist, and management policy ObserveOnly does not create it", r.gvk.Kind, dreq.ExternalName))
		r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonObserveOnly, "observed")
		return ctrl.Result{RequeueAfter: r.pollInterval(mr)}, nil
	case !obs.Exists && r.seen(mr):
		return r.lost(ctx, mr, op)
	case !obs.Exists:
		return r.create(ctx, mr, op)
	}
	return r.sync(ctx, mr, op, obs)
}

// operation is what one reconcile needs to call the driver.
type operation[T driver.Managed] struct {
	rc       resolvedConfig
	reg      driver.Registration[T]
	client   driver.Client[T]
	req      driver.Request[T]
	connName string
}

// observe calls the driver's Observe within the configuration's rate limit.
func (r *Reconciler[T]) observe(ctx context.Context, op operation[T]) (driver.Observation, error) {
	if err := op.rc.limiter.Wait(ctx); err != nil {
		return driver.Observation{}, driver.Throttled(fmt.Errorf("rate limit of %s: %w", op.rc.key, err))
	}
	req := op.req
	obs, err := op.client.Observe(ctx, req)
	if err != nil {
		return obs, fmt.Errorf("observe %s %q: %w", strings.ToLower(r.gvk.Kind), req.ExternalName, err)
	}
	obs = normalize(obs)
	ctrl.LoggerFrom(ctx).V(1).Info("observed", "externalName", req.ExternalName, "exists", obs.Exists,
		"available", obs.Available, "drift", len(obs.Drift), "unsupported", obs.Unsupported)
	return obs, nil
}

// normalize keeps an observation's drift within the API's limits, whatever
// the driver reported.
func normalize(obs driver.Observation) driver.Observation {
	for i, d := range obs.Drift {
		obs.Drift[i] = driver.Drifted(d.Field, d.Desired, d.Observed)
	}
	return obs
}

// checkCloudName returns the driver's error, terminal, when it says that no
// cloud resource can have name.
func checkCloudName[T driver.Managed](reg driver.Registration[T], name string) error {
	if reg.CloudName == nil {
		return nil
	}
	_, err := reg.CloudName(name)
	if err != nil && !driver.IsTerminal(err) {
		err = driver.Terminal(err)
	}
	return err
}

// known reports whether the operator has recorded the resource named name
// as mr's, reached through the configuration mr names now.
func (r *Reconciler[T]) known(mr T, name string) bool {
	rec := mr.ManagedStatus().ExternalResource
	return rec != nil && rec.Name == name && !configChanged(mr)
}

// create records the intent to create, creates the cloud resource, and
// observes it right away so that a synchronous cloud makes it Ready in one
// reconcile.
func (r *Reconciler[T]) create(ctx context.Context, mr T, op operation[T]) (ctrl.Result, error) {
	req := op.req
	cl := op.client
	kind := strings.ToLower(r.gvk.Kind)

	// The intent is persisted before the cloud call: the external name (so a
	// restarted manager looks for the same resource), the pending mark (so it
	// knows the resource is its own), and the finalizer (so the resource is
	// never leaked by a deletion that races the create).
	if err := r.patchMeta(ctx, mr, func(o client.Object) {
		controllerutil.AddFinalizer(o, stratusv1alpha1.Finalizer)
		setAnnotations(o, map[string]string{
			stratusv1alpha1.AnnotationExternalName:  req.ExternalName,
			stratusv1alpha1.AnnotationCreatePending: r.now().UTC().Format(time.RFC3339),
		})
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("record intent to create %s %q: %w", kind, req.ExternalName, err)
	}
	if gen := op.reg.GenerateCredentials; gen != nil {
		conn, err := r.ensureCredentials(ctx, mr, op.connName, req.Connection, gen)
		if err != nil {
			return r.fail(ctx, mr, op.rc.key, reasonCannotPublishConnection, err)
		}
		req.Connection = conn
		op.req = req
	}

	r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonCreating, fmt.Sprintf("creating %s %q", kind, req.ExternalName))
	if err := op.rc.limiter.Wait(ctx); err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotCreate, driver.Throttled(err))
	}
	created, err := cl.Create(ctx, req)
	maybeCrash(crashAfterCreate)
	if err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotCreate, fmt.Errorf("create %s %q: %w", kind, req.ExternalName, err))
	}
	// Success needs no metadata write of its own: the pending mark and the
	// deterministic name let any later reconcile find the resource, and the
	// status written at the end of this one says it was created.
	r.event(ctx, mr, corev1.EventTypeNormal, reasonCreatedExternalResource, "Create", "created %s %q", kind, req.ExternalName)
	conn, err := r.secrets.write(ctx, mr, op.connName, created.Connection)
	if err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotPublishConnection, err)
	}
	if conn != nil {
		req.Connection = conn
		op.req = req
	}

	var obs driver.Observation
	if created.Observed != nil {
		// The create vouches for what it made: no need to read it back.
		obs = normalize(*created.Observed)
		ctrl.LoggerFrom(ctx).V(1).Info("observed by the create", "externalName", req.ExternalName,
			"available", obs.Available, "drift", len(obs.Drift))
	} else if obs, err = r.observe(ctx, op); err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotObserve, err)
	}
	if !obs.Exists {
		// An asynchronous create: the next observation reports progress.
		r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonReconcileSuccess, "create requested")
		return ctrl.Result{RequeueAfter: r.opts.PendingPollInterval}, nil
	}
	return r.sync(ctx, mr, op, obs)
}

// lost handles a cloud resource the operator managed for mr that is gone:
// deleted behind its back, or not found through a changed configuration.
// It is created again only when the spec asks for it.
func (r *Reconciler[T]) lost(ctx context.Context, mr T, op operation[T]) (ctrl.Result, error) {
	name := op.req.ExternalName
	kind := strings.ToLower(r.gvk.Kind)
	if !configChanged(mr) && mr.ManagedSpec().OnExternalDeletion == stratusv1alpha1.OnExternalDeletionRecreate {
		r.event(ctx, mr, corev1.EventTypeWarning, reasonRecreatingExternal, "Create",
			"%s %q was deleted outside Stratus; creating it again, empty (spec.onExternalDeletion is Recreate)", kind, name)
		return r.create(ctx, mr, op)
	}
	err := r.missing(mr, name)
	r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonExternalResourceMissing, err.Error())
	return r.fail(ctx, mr, op.rc.key, reasonExternalResourceMissing, err)
}

// ensureCredentials persists generated credentials in the connection Secret
// before Create, unless the Secret already holds them.
func (r *Reconciler[T]) ensureCredentials(ctx context.Context, mr T, name string, conn driver.ConnectionDetails, generate func() (driver.ConnectionDetails, error)) (driver.ConnectionDetails, error) {
	creds, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generate credentials: %w", err)
	}
	missing := driver.ConnectionDetails{}
	for k, v := range creds {
		if _, ok := conn[k]; !ok {
			missing[k] = v
		}
	}
	if len(missing) == 0 {
		return conn, nil
	}
	return r.secrets.write(ctx, mr, name, missing)
}

// sync handles a cloud resource that exists: it reports and corrects drift,
// publishes connection details and sets the conditions.
func (r *Reconciler[T]) sync(ctx context.Context, mr T, op operation[T], obs driver.Observation) (ctrl.Result, error) {
	spec, status := mr.ManagedSpec(), mr.ManagedStatus()
	req := op.req
	kind := strings.ToLower(r.gvk.Kind)
	observeOnly := spec.ManagementPolicy == stratusv1alpha1.ManagementObserveOnly

	// Nothing is written to a resource before the cloud's owner mark says
	// it is this object's, or the operator's records and the platform
	// team's adoption rules make it so.
	adopted, err := r.claim(ctx, mr, op, obs)
	if err != nil {
		if rf, ok := asRefusal(err); ok && rf.reason == stratusv1alpha1.ReasonNameConflict {
			r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonNameConflict, err.Error())
		}
		r.forgetObservation(mr)
		return r.fail(ctx, mr, op.rc.key, reasonRefused, err)
	}
	if observeOnly {
		obs.Drift = withoutOwnership(obs.Drift) // observing never writes a mark
	}
	if !controllerutil.ContainsFinalizer(mr, stratusv1alpha1.Finalizer) && !observeOnly {
		// Adoption by external name: from now on deletion is ours to handle.
		if err := r.patchMeta(ctx, mr, func(o client.Object) { controllerutil.AddFinalizer(o, stratusv1alpha1.Finalizer) }); err != nil {
			return ctrl.Result{}, fmt.Errorf("adopt %s %q: %w", kind, req.ExternalName, err)
		}
	}
	if adopted && !observeOnly {
		r.event(ctx, mr, corev1.EventTypeNormal, reasonAdoptedExternalResource, "Adopt", "adopted existing %s %q", kind, req.ExternalName)
	}
	r.record(mr, op)
	// From here on the resource is recorded as mr's: the observations after
	// a write may read it right away.
	op.req.Known = true
	req = op.req

	// Drift is a difference from a spec that has not changed since it was
	// last synced: a change made in the cloud behind the operator's back.
	// A resource never available yet is still being created: what it lacks
	// are the create's remaining steps, not drift.
	wasSynced := status.ObservedGeneration == mr.GetGeneration() && meta.IsStatusConditionTrue(status.Conditions, stratusv1alpha1.ConditionSynced)
	ready := meta.FindStatusCondition(status.Conditions, stratusv1alpha1.ConditionReady)
	creating := ready == nil || ready.Reason == stratusv1alpha1.ReasonCreating
	outOfBand := !obs.UpToDate() && ((wasSynced && !creating) || observeOnly)
	if outOfBand {
		if !slices.Equal(status.Drift, obs.Drift) {
			now := metav1.NewTime(r.now())
			status.LastDriftTime = &now
			action := "correcting it"
			if observeOnly {
				action = "not correcting it: management policy is ObserveOnly"
			}
			r.event(ctx, mr, corev1.EventTypeWarning, reasonDriftDetected, "Observe", "%s %q differs from the spec in %s; %s", kind, req.ExternalName, describeDrift(obs.Drift), action)
			driftDetected.WithLabelValues(r.gvk.Kind, string(op.rc.Spec.Provider)).Inc()
		}
		status.Drift = obs.Drift
	} else {
		status.Drift = nil
	}
	r.setFeatures(ctx, mr, obs.Unsupported)

	if !obs.UpToDate() && !observeOnly {
		if gen := op.reg.GenerateCredentials; gen != nil {
			// An adopted or resumed resource may need the generated
			// credentials too (a missing owner role): persist them first.
			conn, err := r.ensureCredentials(ctx, mr, op.connName, req.Connection, gen)
			if err != nil {
				return r.fail(ctx, mr, op.rc.key, reasonCannotPublishConnection, err)
			}
			req.Connection = conn
			op.req = req
		}
		if err := op.rc.limiter.Wait(ctx); err != nil {
			return r.fail(ctx, mr, op.rc.key, reasonCannotUpdate, driver.Throttled(err))
		}
		updated, err := op.client.Update(ctx, req)
		if err != nil {
			return r.fail(ctx, mr, op.rc.key, reasonCannotUpdate, fmt.Errorf("update %s %q: %w", kind, req.ExternalName, err))
		}
		if outOfBand {
			r.event(ctx, mr, corev1.EventTypeNormal, reasonDriftCorrected, "Update", "corrected drift of %s %q in %s", kind, req.ExternalName, fieldsOf(obs.Drift))
		} else {
			r.event(ctx, mr, corev1.EventTypeNormal, reasonUpdatedExternalResource, "Update", "updated %s %q: %s", kind, req.ExternalName, fieldsOf(obs.Drift))
		}
		if _, err := r.secrets.write(ctx, mr, op.connName, updated.Connection); err != nil {
			return r.fail(ctx, mr, op.rc.key, reasonCannotPublishConnection, err)
		}
		if obs, err = r.observe(ctx, op); err != nil {
			return r.fail(ctx, mr, op.rc.key, reasonCannotObserve, err)
		}
	}
	if _, err := r.secrets.write(ctx, mr, op.connName, obs.Connection); err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotPublishConnection, err)
	}

	switch {
	case obs.Available:
		r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionTrue, stratusv1alpha1.ReasonAvailable, fmt.Sprintf("%s %q is available", kind, req.ExternalName))
	case obs.Exists:
		// Until it was first available, an unavailable resource is still
		// being created (a long-running cloud operation); afterwards it is
		// unavailable (modifying, in maintenance, ...).
		reason := stratusv1alpha1.ReasonUnavailable
		if creating {
			reason = stratusv1alpha1.ReasonCreating
		}
		r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, reason, fmt.Sprintf("%s %q is %s", kind, req.ExternalName, orDefault(obs.State, "not available yet")))
	}
	switch {
	case observeOnly && len(status.Drift) > 0:
		r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonObserveOnly, "observed; differs from the spec in "+fieldsOf(status.Drift))
	case observeOnly:
		r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonObserveOnly, "observed; matches the spec")
	default:
		r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonReconcileSuccess, "the cloud resource matches the spec")
	}
	if !obs.Available {
		return ctrl.Result{RequeueAfter: r.opts.PendingPollInterval}, nil
	}
	return ctrl.Result{RequeueAfter: r.pollInterval(mr)}, nil
}

// delete deletes the cloud resource of an object being deleted, and removes
// the finalizer once it is gone.
func (r *Reconciler[T]) delete(ctx context.Context, mr T, op operation[T], obs driver.Observation) (ctrl.Result, error) {
	req := op.req
	kind := strings.ToLower(r.gvk.Kind)
	if !obs.Exists {
		if configChanged(mr) {
			// The resource may well exist where it was managed: deleting
			// through another account must not abandon it.
			return r.fail(ctx, mr, op.rc.key, reasonCannotDelete, r.missing(mr, req.ExternalName))
		}
		return ctrl.Result{}, r.finalize(ctx, mr, op.connName, false)
	}
	if _, err := r.claim(ctx, mr, op, obs); err != nil {
		if _, ok := asRefusal(err); !ok {
			return r.fail(ctx, mr, op.rc.key, reasonCannotDelete, err)
		}
		// Not this object's to delete: let the object go, and the resource
		// be.
		r.forgetObservation(mr)
		r.event(ctx, mr, corev1.EventTypeWarning, reasonReleasedNotDeleted, "Delete", "did not delete %s %q: %v", kind, req.ExternalName, err)
		return ctrl.Result{}, r.finalize(ctx, mr, op.connName, false)
	}
	// Recorded before the cloud call: a deletion that is blocked or retried
	// stays bound to this resource, whatever name is set on the object
	// afterwards.
	r.record(mr, op)
	op.req.Known = true
	r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonDeleting, fmt.Sprintf("deleting %s %q", kind, req.ExternalName))
	if err := op.rc.limiter.Wait(ctx); err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotDelete, driver.Throttled(err))
	}
	deleted, err := op.client.Delete(ctx, req)
	if driver.IsBlocked(err) {
		r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonDeletionBlocked, err.Error())
		r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonReconcileSuccess, "deletion is blocked; retrying at the poll interval")
		r.event(ctx, mr, corev1.EventTypeWarning, reasonDeletionBlockedEvent, "Delete", "%s", err.Error())
		return ctrl.Result{RequeueAfter: min(r.pollInterval(mr), r.opts.BlockedRetryInterval)}, nil
	}
	if err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotDelete, fmt.Errorf("delete %s %q: %w", kind, req.ExternalName, err))
	}
	r.event(ctx, mr, corev1.EventTypeNormal, reasonDeletedExternalResource, "Delete", "deleted %s %q", kind, req.ExternalName)
	if deleted.Gone {
		return ctrl.Result{}, r.finalize(ctx, mr, op.connName, false)
	}
	if obs, err = r.observe(ctx, op); err != nil {
		return r.fail(ctx, mr, op.rc.key, reasonCannotObserve, err)
	}
	if obs.Exists {
		// An asynchronous delete: wait for the cloud to finish.
		return ctrl.Result{RequeueAfter: r.opts.PendingPollInterval}, nil
	}
	return ctrl.Result{}, r.finalize(ctx, mr, op.connName, false)
}

// finalize releases the connection Secret and removes the finalizer.
func (r *Reconciler[T]) finalize(ctx context.Context, mr T, connName string, orphaned bool) error {
	if connName == "" {
		connName = r.secrets.name(mr, false)
		if connName == "" && mr.GetAnnotations()[stratusv1alpha1.AnnotationCreatePending] != "" {
			connName = r.secrets.name(mr, true) // a generated-credentials Secret may exist
		}
	}
	if err := r.secrets.release(ctx, mr, connName, orphaned); err != nil {
		return err
	}
	if orphaned && r.mayExist(mr) {
		r.event(ctx, mr, corev1.EventTypeNormal, reasonOrphanedExternalResource, "Delete", "kept %s %q in the cloud (deletionPolicy Orphan or management policy ObserveOnly)",
			strings.ToLower(r.gvk.Kind), r.externalName(mr))
	}
	err := r.patchMeta(ctx, mr, func(o client.Object) { controllerutil.RemoveFinalizer(o, stratusv1alpha1.Finalizer) })
	return client.IgnoreNotFound(err)
}

// fail records err in the Synced condition and an Event, and says how to
// retry: a terminal error at the long terminal interval (watches bring the
// changes it waits on sooner), a refusal at the poll interval, anything else
// with backoff.
func (r *Reconciler[T]) fail(ctx context.Context, mr T, configKey, eventReason string, err error) (ctrl.Result, error) {
	reason := stratusv1alpha1.ReasonReconcileError
	message := err.Error()
	rf, refused := asRefusal(err)
	switch {
	case refused:
		reason = rf.reason
	case driver.IsTerminal(err):
		reason = stratusv1alpha1.ReasonInvalidSpec
		message += " (retried when the spec or its provider configuration changes, and every " + terminalRetryInterval.String() + ")"
	case driver.IsThrottled(err):
		reason = stratusv1alpha1.ReasonThrottled
	case driver.IsBadCredentials(err):
		reason = stratusv1alpha1.ReasonBadCredentials
		if configKey != "" {
			r.clients.forget(configKey)
		}
		r.configs.forgetCredentials()
	}
	r.setCondition(mr, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, reason, message)
	if meta.FindStatusCondition(mr.ManagedStatus().Conditions, stratusv1alpha1.ConditionReady) == nil {
		r.setCondition(mr, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonUnavailable, "not reconciled yet: "+reason)
	}
	r.event(ctx, mr, corev1.EventTypeWarning, eventReason, "Reconcile", "%s", message)
	switch {
	case refused:
		return ctrl.Result{RequeueAfter: r.pollInterval(mr)}, nil
	case driver.IsTerminal(err):
		// What the error waits on may change elsewhere (a quota raised, a
		// configuration fixed): the watches bring most such changes at
		// once, and a long retry the rest.
		return ctrl.Result{RequeueAfter: wait.Jitter(terminalRetryInterval, r.opts.PollJitter)}, nil
	}
	return ctrl.Result{}, err
}

// withoutOwnership drops the ownership field from drift.
func withoutOwnership(drift []stratusv1alpha1.DriftedField) []stratusv1alpha1.DriftedField {
	return slices.DeleteFunc(drift, func(d stratusv1alpha1.DriftedField) bool { return d.Field == driver.OwnershipField })
}

// owns reports whether the operator created (or began to create) the
// object's cloud resource. The create-succeeded mark of earlier versions
// counts too.
func (r *Reconciler[T]) owns(mr T) bool {
	a := mr.GetAnnotations()
	return a[stratusv1alpha1.AnnotationCreatePending] != "" || a[stratusv1alpha1.AnnotationCreateSucceeded] != ""
}

// mayExist reports whether a cloud resource may stand behind the object:
// one the operator began to create, or one named for adoption.
func (r *Reconciler[T]) mayExist(mr T) bool {
	return r.owns(mr) || mr.GetAnnotations()[stratusv1alpha1.AnnotationExternalName] != ""
}

func (r *Reconciler[T]) externalName(mr T) string {
	if n := mr.GetAnnotations()[stratusv1alpha1.AnnotationExternalName]; n != "" {
		return n
	}
	return r.kind.ExternalName(mr)
}

func (r *Reconciler[T]) providers() []string {
	var names []string
	for p := range r.kind.Drivers {
		names = append(names, string(p))
	}
	slices.Sort(names)
	return names
}

// pollInterval is the object's poll interval, or the default, with jitter so
// that objects created together do not poll together.
func (r *Reconciler[T]) pollInterval(mr T) time.Duration {
	d := r.opts.PollInterval
	if pi := mr.ManagedSpec().PollInterval; pi != nil && pi.Duration > 0 {
		d = pi.Duration
	}
	return wait.Jitter(d, r.opts.PollJitter)
}

// event records an Event a user must see, and logs it for operators.
func (r *Reconciler[T]) event(ctx context.Context, mr T, eventType, reason, action, note string, args ...any) {
	r.recorder.Eventf(mr, nil, eventType, reason, action, note, args...)
	ctrl.LoggerFrom(ctx).Info(fmt.Sprintf(note, args...), "event", reason, "type", eventType)
}

func (r *Reconciler[T]) setCondition(mr T, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&mr.ManagedStatus().Conditions, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: mr.GetGeneration(),
	})
}

// setFeatures reports the features the endpoint lacks.
func (r *Reconciler[T]) setFeatures(ctx context.Context, mr T, unsupported []string) {
	conds := &mr.ManagedStatus().Conditions
	if len(unsupported) == 0 {
		if meta.FindStatusCondition(*conds, stratusv1alpha1.ConditionFeaturesSupported) != nil {
			r.setCondition(mr, stratusv1alpha1.ConditionFeaturesSupported, metav1.ConditionTrue, stratusv1alpha1.ReasonAllSupported, "the endpoint supports every feature the spec uses")
		}
		return
	}
	msg := fmt.Sprintf("the endpoint does not implement %s; those settings are not applied", strings.Join(unsupported, ", "))
	if c := meta.FindStatusCondition(*conds, stratusv1alpha1.ConditionFeaturesSupported); c == nil || c.Message != msg {
		r.event(ctx, mr, corev1.EventTypeWarning, reasonUnsupportedFeaturesEvent, "Observe", "%s", msg)
	}
	r.setCondition(mr, stratusv1alpha1.ConditionFeaturesSupported, metav1.ConditionFalse, stratusv1alpha1.ReasonEndpointLacksFeature, msg)
}

// patchMeta changes mr's metadata on the API server with an optimistic lock
// and copies the result back, leaving mr's in-memory status alone.
func (r *Reconciler[T]) patchMeta(ctx context.Context, mr T, mutate func(client.Object)) error {
	before := mr.DeepCopyObject().(T)
	after := mr.DeepCopyObject().(T)
	mutate(after)
	if maps.Equal(before.GetAnnotations(), after.GetAnnotations()) && slices.Equal(before.GetFinalizers(), after.GetFinalizers()) {
		return nil
	}
	if err := r.client.Patch(ctx, after, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	mr.SetAnnotations(after.GetAnnotations())
	mr.SetFinalizers(after.GetFinalizers())
	mr.SetResourceVersion(after.GetResourceVersion())
	return nil
}

// writeStatus writes mr's status if it differs from before.
func (r *Reconciler[T]) writeStatus(ctx context.Context, mr T, before json.RawMessage) error {
	after, err := statusOf(mr)
	if err != nil {
		return err
	}
	if string(after) == string(before) {
		return nil
	}
	if err := r.client.Status().Update(ctx, mr); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // finalized and gone
		}
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// statusOf returns the JSON of an object's status.
func statusOf(obj runtime.Object) (json.RawMessage, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert object: %w", err)
	}
	return json.Marshal(u["status"])
}

func setAnnotations(o client.Object, add map[string]string) {
	a := maps.Clone(o.GetAnnotations())
	if a == nil {
		a = map[string]string{}
	}
	maps.Copy(a, add)
	o.SetAnnotations(a)
}

func describeDrift(drift []stratusv1alpha1.DriftedField) string {
	parts := make([]string, 0, len(drift))
	for _, d := range drift {
		parts = append(parts, fmt.Sprintf("%s (desired %q, observed %q)", d.Field, d.Desired, d.Observed))
	}
	return strings.Join(parts, ", ")
}

func fieldsOf(drift []stratusv1alpha1.DriftedField) string {
	parts := make([]string, 0, len(drift))
	for _, d := range drift {
		parts = append(parts, d.Field)
	}
	return strings.Join(parts, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
