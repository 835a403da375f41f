package driver

import (
	"context"

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
}

// Driver connects to a provider for one kind of managed resource.
type Driver[T Managed] interface {
	// Connect returns a client authenticated with cfg. The reconciler caches
	// it for as long as the configuration and its Secret are unchanged, and
	// closes it (if it implements io.Closer) when they change.
	Connect(ctx context.Context, cfg Config) (Client[T], error)
}

// Request is what a client is asked to act on.
type Request[T Managed] struct {
	// Object is the managed resource. Observe may write its
	// status.atProvider; nothing else in it may be changed.
	Object T
	// ExternalName is the name of the resource in the cloud.
	ExternalName string
	// Region is the region to use: the spec's, else the configuration's.
	Region string
	// Connection holds the current contents of the connection Secret,
	// including the credentials a CredentialGenerator made before Create.
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
	// yours"), Create changes nothing in it and returns no error: the
	// reconciler then observes it and checks its owner before any write.
	Create(ctx context.Context, req Request[T]) (ConnectionDetails, error)
	// Update brings an existing external resource in line with the spec.
	Update(ctx context.Context, req Request[T]) (ConnectionDetails, error)
	// Delete deletes the external resource. It is not an error if it is gone.
	Delete(ctx context.Context, req Request[T]) error
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

// CredentialGenerator is implemented by clients whose Create needs secrets
// that the operator generates, such as a database owner's password. The
// reconciler writes them to the connection Secret before calling Create, so
// that a crash between the cloud call and the status write cannot lose them.
type CredentialGenerator interface {
	// GenerateCredentials returns new credentials, keyed as they appear in
	// the connection Secret.
	GenerateCredentials() (ConnectionDetails, error)
}

// CreateObserver is implemented by clients whose Create can tell, from the
// answers to its own writes, what a following Observe would return: a cloud
// that creates synchronously and a resource the call itself created. It
// spares the reconciler that Observe, which is most of the calls of a create.
type CreateObserver[T Managed] interface {
	// CreateAndObserve does what Create does. It returns an observation only
	// for a resource the call itself created. When it returns an observation
	// (and has written status.atProvider as Observe would), the reconciler
	// uses it instead of observing; when it returns nil, the reconciler
	// observes. The observation's Connection is the details to publish.
	CreateAndObserve(ctx context.Context, req Request[T]) (*Observation, ConnectionDetails, error)
}

// SynchronousDeleter is implemented by clients whose Delete, when it returns
// no error, leaves the external resource gone: the reconciler then lets the
// object go without observing it again. A client of a cloud that deletes in
// the background (a database instance) does not implement it, or says false.
type SynchronousDeleter interface {
	// DeletesSynchronously reports whether a successful Delete means gone.
	DeletesSynchronously() bool
}
