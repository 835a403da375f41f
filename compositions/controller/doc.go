// Package controller serves CompositeDefinitions: for each valid definition
// it installs a CustomResourceDefinition for the new API and starts, in the
// running manager, a controller for its instances. That controller renders
// each instance with package render, applies the composed resources in the
// order of their dependencies with server-side apply, deletes those that
// are no longer composed, projects their status onto the instance, and
// aggregates their connection details into one Secret. Deleting an instance
// deletes its composed resources in reverse order, one at a time.
//
// Nobody gets the operator's rights through it. A definition is valid only
// if it composes the kinds the platform team allows (WithComposableKinds),
// and namespaced kinds alone for a namespaced composite; it is served only
// if its group and kind collide with no API that exists, and it never
// takes over a CustomResourceDefinition it did not create. An instance
// creates each resource with a create, which fails if the name is taken,
// and applies it afterwards with its UID, so that an object that is not
// the instance's is never changed: it is reported and left alone. A
// cluster-scoped instance accepts only the resources it recorded creating
// (status.composedResources).
//
// Composed resources are read from a cache of their own that holds only
// objects labeled as composed; Secrets, never listed or watched across the
// cluster, are read by name from the instance's record. An instance that
// waits is reconciled again less and less often while it waits for the
// same thing.
package controller
