package managed

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// refusal stops a reconcile before it changes the cloud, for a reason a user
// or the platform team must act on: a configuration the namespace may not
// use, a resource another object owns, an adoption not allowed. It is
// reported with its own reason and retried at the poll interval, since what
// it waits for (a namespace label, a configuration, the cloud) can change
// without the object changing.
type refusal struct {
	reason string
	err    error
}

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// refuse returns err as a refusal with reason.
func refuse(reason string, err error) error { return &refusal{reason: reason, err: err} }

// asRefusal returns the refusal err is or wraps.
func asRefusal(err error) (*refusal, bool) {
	var r *refusal
	ok := errors.As(err, &r)
	return r, ok
}

// ownership says whose a cloud resource is, by the mark it carries.
type ownership int

const (
	// ownedByThis: the resource carries this object's mark.
	ownedByThis ownership = iota
	// ownedByNone: no mark, or the mark of an object of this cluster that
	// no longer exists.
	ownedByNone
	// ownedByOther: the mark of another object, of this cluster or another.
	ownedByOther
)

// owner is the identity the operator marks mr's cloud resource with.
func (r *Reconciler[T]) owner(mr T) driver.Owner {
	return driver.Owner{Cluster: r.opts.ClusterName, Namespace: mr.GetNamespace(), Name: mr.GetName(), UID: string(mr.GetUID())}
}

// ownershipOf reads the mark a cloud resource carries. A mark naming an
// object of this cluster that is gone is stale: the resource is then no
// object's.
func (r *Reconciler[T]) ownershipOf(ctx context.Context, mr T, mark driver.OwnerMark) (ownership, error) {
	switch {
	case !mark.Marked():
		return ownedByNone, nil
	case mark.ID == r.owner(mr).ID():
		return ownedByThis, nil
	case !mark.Names(r.opts.ClusterName):
		return ownedByOther, nil
	}
	other := r.kind.New()
	err := r.client.Get(ctx, types.NamespacedName{Namespace: mark.Namespace, Name: mark.Name}, other)
	switch {
	case apierrors.IsNotFound(err):
		return ownedByNone, nil
	case err != nil:
		return ownedByOther, fmt.Errorf("look up the owner of the cloud resource: %w", err)
	}
	return ownedByOther, nil
}

// claim decides whether the operator may act for mr on the cloud resource
// obs found: a resource mr's mark is on, or one no object owns that mr may
// take (see claimable). adopted is true when mr takes it by adoption now.
// Anything else is a refusal, and nothing is changed in the cloud.
func (r *Reconciler[T]) claim(ctx context.Context, mr T, op operation[T], obs driver.Observation) (adopted bool, err error) {
	kind := strings.ToLower(r.gvk.Kind)
	name := op.req.ExternalName
	own, err := r.ownershipOf(ctx, mr, obs.Owner)
	if err != nil {
		return false, err
	}
	switch own {
	case ownedByThis:
		return false, nil
	case ownedByOther:
		who := "another Stratus object"
		if obs.Owner.Namespace == mr.GetNamespace() && obs.Owner.Name != "" {
			// The asker may see objects of its own namespace; of others it
			// learns nothing.
			who = fmt.Sprintf("%s %q in this namespace", r.gvk.Kind, obs.Owner.Name)
		}
		return false, refuse(stratusv1alpha1.ReasonNameConflict, fmt.Errorf(
			"the %s %q belongs to %s: it is neither changed, adopted nor deleted for this object; choose another name", kind, name, who))
	}
	if r.claimable(mr, name) {
		return false, nil
	}
	if !r.chosenName(mr, name) {
		return false, refuse(stratusv1alpha1.ReasonNameConflict, fmt.Errorf(
			"a %s named %q already exists and this object did not create it: choose another name, or ask the platform team to let this namespace adopt it (spec.adoption of the provider configuration) and name it in the %s annotation",
			kind, name, stratusv1alpha1.AnnotationExternalName))
	}
	if !op.rc.adoption {
		return false, refuse(stratusv1alpha1.ReasonAdoptionNotAllowed, fmt.Errorf(
			"the %s %q exists and no Stratus object owns it; %s does not let namespace %q adopt it (spec.adoption): adoption is the platform team's decision",
			kind, name, op.rc.key, mr.GetNamespace()))
	}
	return true, nil
}

// claimable reports whether a resource named name that no object owns is
// mr's by the operator's own records: status, which only the operator
// writes, names it; or mr was made Ready before marks were written; or the
// operator began to create it under the name it generated for mr (unique to
// mr), and stopped before the mark was written.
func (r *Reconciler[T]) claimable(mr T, name string) bool {
	status := mr.ManagedStatus()
	if status.ExternalResource != nil {
		// The record vouches for the resource it was made for: the same
		// name reached through the same configuration. Through another
		// configuration (another account, region or server) an unmarked
		// resource of that name is someone else's, and only adoption may
		// take it.
		return r.known(mr, name)
	}
	if !r.owns(mr) {
		return false
	}
	if ready := meta.FindStatusCondition(status.Conditions, stratusv1alpha1.ConditionReady); ready != nil && ready.Reason == stratusv1alpha1.ReasonAvailable {
		// Made Ready by a version that wrote no marks. (Deleting and
		// DeletionBlocked are not evidence: this version writes them
		// without a record for objects it never made Ready.)
		return true
	}
	return r.kind.GeneratedName != nil && name == r.kind.GeneratedName(mr)
}

// chosenName reports whether name is one the user chose (the external-name
// annotation or a name field of the spec), not the one the operator
// generates for mr: only a chosen name can ask to adopt.
func (r *Reconciler[T]) chosenName(mr T, name string) bool {
	return r.kind.GeneratedName == nil || name != r.kind.GeneratedName(mr)
}

// seen reports whether the operator has found mr's cloud resource to be
// mr's own before: its record in status, or a Ready condition written by a
// version that kept no record.
func (r *Reconciler[T]) seen(mr T) bool {
	status := mr.ManagedStatus()
	if status.ExternalResource != nil {
		return true
	}
	ready := meta.FindStatusCondition(status.Conditions, stratusv1alpha1.ConditionReady)
	return r.owns(mr) && ready != nil && (ready.Reason == stratusv1alpha1.ReasonAvailable || ready.Reason == stratusv1alpha1.ReasonDeletionBlocked)
}

// checkRecord refuses what would silently abandon the resource the operator
// manages for mr: an external name changed after the operator found it, or a
// providerConfigRef that now reaches another provider.
func (r *Reconciler[T]) checkRecord(mr T, name string, provider stratusv1alpha1.Provider) error {
	rec := mr.ManagedStatus().ExternalResource
	if rec == nil {
		return nil
	}
	if rec.Name != name {
		return refuse(stratusv1alpha1.ReasonExternalNameImmutable, fmt.Errorf(
			"the external name is %q and cannot change (now %q): the operator would abandon %q; restore the %s annotation. To manage another resource, create another object",
			rec.Name, name, rec.Name, stratusv1alpha1.AnnotationExternalName))
	}
	if provider != "" && rec.Provider != "" && rec.Provider != provider {
		return refuse(stratusv1alpha1.ReasonProviderConfigChanged, fmt.Errorf(
			"providerConfigRef changed from %s %q (%s) to %s %q (%s): a resource cannot move to another provider, and the one in %s would be abandoned; restore providerConfigRef. To move, create a new object with the new configuration, and delete this one (deletionPolicy Orphan keeps the old resource)",
			rec.ProviderConfigRef.Kind, rec.ProviderConfigRef.Name, rec.Provider, mr.ManagedSpec().ProviderConfigRef.Kind, mr.ManagedSpec().ProviderConfigRef.Name, provider, rec.Provider))
	}
	return nil
}

// configChanged reports whether mr now reaches its resource through another
// configuration than the one the operator last reached it with.
func configChanged(mr driver.Managed) bool {
	rec := mr.ManagedStatus().ExternalResource
	return rec != nil && rec.ProviderConfigRef != mr.ManagedSpec().ProviderConfigRef
}

// missing is the refusal for a resource the operator managed that is gone.
func (r *Reconciler[T]) missing(mr T, name string) error {
	kind := strings.ToLower(r.gvk.Kind)
	if configChanged(mr) {
		rec := mr.ManagedStatus().ExternalResource
		return refuse(stratusv1alpha1.ReasonProviderConfigChanged, fmt.Errorf(
			"the %s %q is not found through the new providerConfigRef (%s %q; it was managed through %s %q): another account, so nothing is created there and the old one is not abandoned; restore providerConfigRef. To move, create a new object with the new configuration",
			kind, name, mr.ManagedSpec().ProviderConfigRef.Kind, mr.ManagedSpec().ProviderConfigRef.Name, rec.ProviderConfigRef.Kind, rec.ProviderConfigRef.Name))
	}
	return refuse(stratusv1alpha1.ReasonExternalResourceMissing, fmt.Errorf(
		"the %s %q was deleted outside Stratus: its data may be lost, and it is not recreated empty (spec.onExternalDeletion is Report); restore it, set spec.onExternalDeletion to Recreate to create it again, or delete this object",
		kind, name))
}

// record notes in mr's status the resource the operator manages for it.
func (r *Reconciler[T]) record(mr T, op operation[T]) {
	mr.ManagedStatus().ExternalResource = &stratusv1alpha1.ExternalResourceStatus{
		Name:              op.req.ExternalName,
		Provider:          op.rc.Spec.Provider,
		ProviderConfigRef: mr.ManagedSpec().ProviderConfigRef,
	}
}

// forgetObservation clears what Observe wrote of a resource the object may
// not act on.
func (r *Reconciler[T]) forgetObservation(mr T) {
	if r.kind.ForgetObservation != nil {
		r.kind.ForgetObservation(mr)
	}
}
