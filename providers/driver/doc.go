// Package driver defines the contract between the generic managed-resource
// reconciler and a cloud: one Driver per kind and provider, which connects
// with a provider configuration's credentials and returns a Client that
// observes, creates, updates and deletes one external resource at a time.
//
// The contract, which every driver keeps and the conformance tests check:
//   - Observe never changes the cloud. It reports whether the resource
//     exists, whether it matches the spec (and, if not, which fields drift),
//     writes what it saw into the object's status.atProvider, and returns
//     the connection details.
//   - Create, Update and Delete are idempotent: Create of a resource that
//     already exists and Delete of one that is gone are not errors. They do
//     not block on slow cloud operations; the next Observe reports progress.
//   - Errors are classified: Terminal when the spec must change before a retry
//     can succeed, Throttled when the cloud asked to slow down, Blocked when a
//     deletion must not proceed (a bucket still holds objects, deletion
//     protection is on). Anything else is retried with backoff.
package driver
