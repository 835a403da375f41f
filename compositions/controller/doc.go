// Package controller serves CompositeDefinitions: for each valid definition
// it installs a CustomResourceDefinition for the new API and starts, in the
// running manager, a controller for its instances. That controller renders
// each instance with package render, applies the composed resources in the
// order of their dependencies with server-side apply, deletes those that
// are no longer composed, projects their status onto the instance, and
// aggregates their connection details into one Secret. Deleting an instance
// deletes its composed resources in reverse order, one at a time.
package controller
