// Package catalog answers, on every replica, which composite kinds exist and
// how an instance of one renders: it compiles CompositeDefinitions read from
// a cache, once per generation. The guardrail webhook and audit use it to
// judge composites by what they would create, and the webhook's rules
// follow its kinds. A kind is a composite's only while the operator serves
// it: its definition is Established and the CustomResourceDefinition of
// the kind is the one the definition created, so that a definition naming
// an API it does not serve (a built-in kind, another project's) never
// makes the guardrails treat that API as a composite.
package catalog

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
)

// Catalog compiles the CompositeDefinitions a reader sees. It is safe for
// concurrent use.
type Catalog struct {
	reader client.Reader

	mu       sync.Mutex
	compiled map[string]compiled // by definition name
}

type compiled struct {
	generation  int64
	composition *render.Composition // nil when the definition is invalid
}

// New returns a Catalog over reader, normally the manager's cache.
func New(reader client.Reader) *Catalog {
	return &Catalog{reader: reader, compiled: map[string]compiled{}}
}

// Kind is a composite kind: its instances' storage version and resource.
type Kind struct {
	// Definition is the name of the CompositeDefinition.
	Definition string
	// GroupVersionKind of the instances, at the storage version.
	GroupVersionKind schema.GroupVersionKind
	// Resource is the plural resource name.
	Resource string
	// Versions are the served versions.
	Versions []string
	// Composition renders instances.
	Composition *render.Composition
}

// Kinds returns the composite kinds of every valid definition.
func (c *Catalog) Kinds(ctx context.Context) ([]Kind, error) {
	var list compositionsv1alpha1.CompositeDefinitionList
	// Read-only: the cache's objects are not copied, as this runs for every
	// admission request.
	if err := c.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list CompositeDefinitions: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool, len(list.Items))
	var kinds []Kind
	for i := range list.Items {
		def := &list.Items[i]
		seen[def.Name] = true
		comp := c.compile(def)
		if comp == nil || def.DeletionTimestamp != nil {
			continue
		}
		if ok, err := c.served(ctx, def); err != nil || !ok {
			if err != nil {
				return nil, err
			}
			continue
		}
		kinds = append(kinds, Kind{
			Definition:       def.Name,
			GroupVersionKind: comp.GroupVersionKind(),
			Resource:         def.Spec.Names.Plural,
			Versions:         comp.ServedVersions(),
			Composition:      comp,
		})
	}
	for name := range c.compiled {
		if !seen[name] {
			delete(c.compiled, name)
		}
	}
	return kinds, nil
}

// Lookup returns the composition of the composite kind gk, or nil when gk
// is not a composite.
func (c *Catalog) Lookup(ctx context.Context, gk schema.GroupKind) (*render.Composition, error) {
	kinds, err := c.Kinds(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if k.GroupVersionKind.GroupKind() == gk {
			return k.Composition, nil
		}
	}
	return nil, nil
}

// conditionEstablished is the condition compositions/controller sets on a
// definition whose kind it serves.
const conditionEstablished = "Established"

// crdKind is the kind of CustomResourceDefinitions, read as metadata only.
var crdKind = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// served reports whether the operator serves def's kind: def is
// Established, and the CustomResourceDefinition of the kind exists and is
// controlled by def, which the operator made it.
func (c *Catalog) served(ctx context.Context, def *compositionsv1alpha1.CompositeDefinition) (bool, error) {
	if !meta.IsStatusConditionTrue(def.Status.Conditions, conditionEstablished) {
		return false, nil
	}
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(crdKind)
	err := c.reader.Get(ctx, client.ObjectKey{Name: def.Spec.Names.Plural + "." + def.Spec.Group}, crd)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the CustomResourceDefinition of %s: %w", def.Name, err)
	}
	return metav1.IsControlledBy(crd, def), nil
}

// compile returns the composition of def's generation, compiling it the
// first time; nil when it does not compile. c.mu is held.
func (c *Catalog) compile(def *compositionsv1alpha1.CompositeDefinition) *render.Composition {
	if got, ok := c.compiled[def.Name]; ok && got.generation == def.Generation {
		return got.composition
	}
	comp, err := render.Compile(def)
	if err != nil {
		comp = nil
	}
	c.compiled[def.Name] = compiled{generation: def.Generation, composition: comp}
	return comp
}
