// Package driver defines the contract between the generic managed-resource
// reconciler and a cloud: one Driver per kind and provider, which connects
// with a provider configuration's credentials and returns a Client that
// observes, creates, updates and deletes one external resource at a time.
//
// A kind registers each driver as a Registration: the Driver, and what the
// reconciler must know of it apart from any connection. GenerateCredentials
// makes the secrets Create needs (a database owner's password), which the
// reconciler writes to the connection Secret before the call; CloudName says
// how the driver names the cloud resource of an external name, so that a
// name the cloud cannot hold is refused before anything is recorded or
// called.
//
// The contract, which every driver keeps, package drivertest checks on a
// client against the driver's server, and the conformance tests check
// through the operator:
//   - Every call gets a Request: the object, why the reconciler calls
//     (Purpose: to sync the resource with the spec, or to delete it), the
//     external name, region, connection Secret contents and owner, and
//     whether the reconciler recorded the resource before (Known). Nothing
//     in the object's status is input, and no driver reads the deletion
//     timestamp: what it needs to know is in the request.
//   - Observe never changes the cloud. It reports whether the resource
//     exists, whether it matches the spec (and, if not, which fields drift),
//     the owner mark it carries, and the connection details, and writes what
//     it saw into the object's status.atProvider. For PurposeDelete it needs
//     to report only existence and the owner mark.
//   - Create, Update and Delete return small results: CreateResult holds the
//     connection details and, when the call can tell from the answers to its
//     own writes, what an Observe right after would return (Observed), which
//     spares the reconciler that Observe; UpdateResult holds the connection
//     details; DeleteResult says whether the resource is gone once the call
//     returns (Gone), else the reconciler observes until it is.
//   - Create, Update and Delete are idempotent: Create of a resource that
//     already exists changes nothing in it and observes nothing (the
//     reconciler checks its owner mark first), and Delete of one that is gone
//     is not an error. They do not block on slow cloud operations; the next
//     Observe reports progress.
//   - Ownership: Create writes the request owner's mark (Owner), Observe
//     reads it back and reports OwnershipField as drift when it is not the
//     request owner's, and Update writes it then. A request without an owner
//     writes, removes and reports no mark.
//   - Errors are classified: Terminal when the spec must change before a retry
//     can succeed, Throttled when the cloud asked to slow down, BadCredentials
//     when it refused the credentials, Blocked when a deletion must not
//     proceed (a bucket still holds objects, deletion protection is on).
//     Anything else is retried with backoff.
package driver
