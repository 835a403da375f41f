package driver

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// Managed is a managed resource: a Kubernetes object that stands for one
// resource in a cloud.
type Managed interface {
	client.Object
	// ManagedSpec returns the fields every managed resource shares.
	ManagedSpec() *stratusv1alpha1.ManagedResourceSpec
	// ManagedStatus returns the status every managed resource shares.
	ManagedStatus() *stratusv1alpha1.ManagedResourceStatus
}

// ConnectionDetails are the keys and values written to a managed resource's
// connection Secret.
type ConnectionDetails map[string][]byte

// Config is a resolved provider configuration: the spec of a ProviderConfig
// or ClusterProviderConfig with the contents of its credentials Secret.
type Config struct {
	// Spec is the provider configuration.
	Spec stratusv1alpha1.ProviderConfigSpec
	// Credentials holds the credentials Secret's data, when the source is a
	// Secret.
	Credentials map[string][]byte
	// Confined is set for a namespace's own configuration that the platform
	// team has not allowed custom endpoints: a driver must then send its
	// credentials only to the provider's own endpoints, whatever the
	// credentials name (a Google key file's token_uri, say).
	Confined bool
}

// Driver connects to a provider for one kind of managed resource.
type Driver[T Managed] interface {
	// Connect returns a client authenticated with cfg. The reconciler caches
	// it for as long as the configuration and its Secret are unchanged, and
	// closes it (if it implements io.Closer) when they change.
	Connect(ctx context.Context, cfg Config) (Client[T], error)
}

// Registration is a driver as a kind registers it for one provider: the
// Driver, and what the reconciler must know of it apart from any
// connection. A Registration is itself a Driver.
type Registration[T Managed] struct {
	Driver[T]
	// GenerateCredentials, when set, returns new secrets that Create needs
	// and the operator generates, such as a database owner's password, keyed
	// as they appear in the connection Secret. The reconciler writes them to
	// the connection Secret (<name>-connection when the object names none)
	// before it calls Create, or Update of a resource that is not up to
	// date, so that a crash between the cloud call and the status write
	// cannot lose them; the call finds them in Request.Connection. Keys the
	// Secret already holds are kept.
	GenerateCredentials func() (ConnectionDetails, error)
	// CloudName, when set, says how the driver names the cloud resource of
	// an external name (an RDS identifier is the name lowercased, '_' made
	// '-'), or returns a Terminal error saying why no resource can have it.
	// The reconciler refuses such a name before it records any intent or
	// calls the cloud, and lets an object that is being deleted under it go:
	// nothing can exist under it. Nil: every external name is the cloud's.
	CloudName func(externalName string) (string, error)
}

// Purpose is why the reconciler calls a client.
type Purpose int

const (
	// PurposeSync brings the resource in line with the spec: Observe
	// reports everything it is asked to (drift, connection details, ...).
	PurposeSync Purpose = iota
	// PurposeDelete deletes the resource: Observe needs to report only
	// whether it exists and, for the reconciler to check before it deletes,
	// its owner mark (with the ownership drift). A driver may skip every
	// other read, so that a spec made invalid after creation, or a setting
	// that can no longer be read, never holds up a deletion.
	PurposeDelete
)

// String names the purpose.
func (p Purpose) String() string {
	switch p {
	case PurposeSync:
		return "Sync"
	case PurposeDelete:
		return "Delete"
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

// Request is what a client is asked to act on.
type Request[T Managed] struct {
	// Object is the managed resource. Observe (and Create, when it reports
	// what it observed) may write its status.atProvider; nothing else in it
	// may be changed, and nothing in its status is input: what a driver
	// needs to know comes in the fields below.
	Object T
	// Purpose is why the reconciler calls: to sync the resource with the
	// spec, or to delete it. Drivers never look at the object's deletion
	// timestamp.
	Purpose Purpose
	// ExternalName is the name of the resource in the cloud.
	ExternalName string
	// Region is the region to use: the spec's, else the configuration's.
	Region string
	// Known is true when the reconciler found the resource before, under
	// this external name and through this provider configuration, and
	// recorded it (status.externalResource, which only the operator writes).
	// A driver may then read the resource right away, a not-found answer
	// meaning that it is gone, instead of first looking it up: S3 spares a
	// HeadBucket on every poll. It says nothing about the resource's
	// settings, which Observe always reads.
	Known bool
	// Connection holds the current contents of the connection Secret,
	// including the credentials Registration.GenerateCredentials made before
	// Create.
	Connection ConnectionDetails
	// Owner is the object's identity. Create writes its mark on the new
	// resource (in the create call itself where the cloud allows it, else
	// right after, before any other setting); Update writes it whenever
	// Observe reported the OwnershipField as drift, and keeps it on every
	// write that replaces tags or labels.
	Owner Owner
}

// Client acts on external resources of one kind for one provider account.
//
// Ownership: Observe reports the owner mark the resource carries
// (Observation.Owner) and, when it is not req.Owner's, the OwnershipField as
// drift. The reconciler checks the mark before it updates, adopts or deletes:
// a client never changes or deletes a resource on its own judgement of who
// owns it.
type Client[T Managed] interface {
	// Observe reads the external resource without changing it.
	Observe(ctx context.Context, req Request[T]) (Observation, error)
	// Create creates the external resource, marked with req.Owner. When the
	// resource already exists (created meanwhile, or "already exists and
	// yours"), Create changes nothing in it and returns no error and no
	// observation: the reconciler then observes it and checks its owner
	// before any write.
	Create(ctx context.Context, req Request[T]) (CreateResult, error)
	// Update brings an existing external resource in line with the spec.
	Update(ctx context.Context, req Request[T]) (UpdateResult, error)
	// Delete deletes the external resource. It is not an error if it is gone.
	Delete(ctx context.Context, req Request[T]) (DeleteResult, error)
}

// CreateResult is what Create made.
type CreateResult struct {
	// Connection are connection details to publish, such as a database's
	// generated password with the address the cloud gave it.
	Connection ConnectionDetails
	// Observed, when not nil, is what an Observe right after the call would
	// return, as Create can tell from the answers to its own writes (a cloud
	// that creates synchronously, every setting accepted); Create has then
	// written status.atProvider as Observe would. It is set only for a
	// resource the call itself created, never for one that already existed.
	// The reconciler uses it instead of observing, which spares most of the
	// calls of a create; nil: the reconciler observes.
	Observed *Observation
}

// UpdateResult is what Update made.
type UpdateResult struct {
	// Connection are connection details to publish.
	Connection ConnectionDetails
}

// DeleteResult is what Delete left.
type DeleteResult struct {
	// Gone is true when the resource no longer exists once Delete returns
	// (S3 and Cloud Storage delete buckets at once): the reconciler then
	// lets the object go without observing it again. False when the cloud
	// deletes in the background (a database instance) or the driver cannot
	// tell: the reconciler observes until the resource is gone.
	Gone bool
}

// Observation is what Observe found.
type Observation struct {
	// Exists is true when the external resource exists.
	Exists bool
	// Available is true when the resource exists and can be used; a resource
	// that is still being created, modified or deleted is not available.
	Available bool
	// State is the cloud's word for the resource's state, when it has one.
	State string
	// Drift lists the fields in which the resource differs from the spec;
	// empty means up to date.
	Drift []stratusv1alpha1.DriftedField
	// Unsupported lists spec features the endpoint does not implement; they
	// are reported in the FeaturesSupported condition and otherwise skipped.
	Unsupported []string
	// Connection are connection details to publish.
	Connection ConnectionDetails
	// Owner is the owner mark the resource carries, when it exists.
	Owner OwnerMark
}

// UpToDate reports whether the resource matches the spec.
func (o Observation) UpToDate() bool { return len(o.Drift) == 0 }
