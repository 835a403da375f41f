package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
)

// templateKind is the kind of one resource of a definition.
type templateKind struct {
	// path names the resource in messages: resources[0] (bucket).
	path string
	gvk  schema.GroupVersionKind
}

// templateKinds returns the kind of each resource of a definition.
func templateKinds(def *v1alpha1.CompositeDefinition) ([]templateKind, error) {
	out := make([]templateKind, 0, len(def.Spec.Resources))
	for i, res := range def.Spec.Resources {
		path := fmt.Sprintf("resources[%d] (%s)", i, res.Name)
		var tm metav1.TypeMeta
		raw := res.Template.Raw
		if raw == nil && res.Template.Object != nil {
			var err error
			if raw, err = json.Marshal(res.Template.Object); err != nil {
				return nil, fmt.Errorf("%s template: %w", path, err)
			}
		}
		if err := json.Unmarshal(raw, &tm); err != nil {
			return nil, fmt.Errorf("%s template: %w", path, err)
		}
		out = append(out, templateKind{path: path, gvk: schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)})
	}
	return out, nil
}

// notComposable says which resources of a definition are of kinds that
// compositions may not create, or "" when all may be.
func notComposable(kinds []templateKind, allowed []schema.GroupKind) string {
	var bad []string
	for _, k := range kinds {
		if !slices.Contains(allowed, k.gvk.GroupKind()) {
			bad = append(bad, fmt.Sprintf("%s composes %s", k.path, kindString(k.gvk.GroupKind())))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	allowedNames := "none"
	if len(allowed) > 0 {
		allowedNames = strings.ReplaceAll(FormatComposableKinds(allowed), ",", ", ")
	}
	return fmt.Sprintf("%s, which compositions may not create: the platform team lists the kinds they may in the manager's --%s (chart value %s), now %s",
		strings.Join(bad, "; "), FlagComposableKinds, ValueComposableKinds, allowedNames)
}

// scopeProblems checks the composed kinds against the API server: each
// must be served, and a namespaced composite, whose resources are all in
// its namespace, composes only namespaced kinds. It returns what is wrong,
// or "".
func scopeProblems(mapper meta.RESTMapper, kinds []templateKind, namespaced bool) (string, error) {
	var bad []string
	for _, k := range kinds {
		m, err := mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
		switch {
		case meta.IsNoMatchError(err):
			bad = append(bad, fmt.Sprintf("%s: the API server serves no %s at %s", k.path, k.gvk.Kind, k.gvk.GroupVersion()))
		case err != nil:
			return "", fmt.Errorf("cannot find the resource of %s: %w", kindString(k.gvk.GroupKind()), err)
		case namespaced && m.Scope.Name() != meta.RESTScopeNameNamespace:
			bad = append(bad, fmt.Sprintf("%s: %s is cluster-scoped, and the resources of a namespaced composite are in its namespace", k.path, kindString(k.gvk.GroupKind())))
		}
	}
	return strings.Join(bad, "; "), nil
}

// stratusGroups are the API groups of Stratus's own kinds.
var stratusGroups = []string{"stratus.dev", "storage.stratus.dev", "database.stratus.dev", "compositions.stratus.dev", "policy.stratus.dev"}

// reservedGroup says why a definition may not use group, or "": Stratus's
// own groups, and Kubernetes' (*.k8s.io, *.kubernetes.io), whose CRDs the
// API server accepts only with an approval of the Kubernetes project.
func reservedGroup(group string) string {
	if slices.Contains(stratusGroups, group) {
		return fmt.Sprintf("group %s is reserved for Stratus: a composite needs a group of its own", group)
	}
	for _, suffix := range []string{"k8s.io", "kubernetes.io"} {
		if group == suffix || strings.HasSuffix(group, "."+suffix) {
			return fmt.Sprintf("group %s is reserved for Kubernetes: a composite needs a group of its own", group)
		}
	}
	return ""
}

// apiConflict says how a definition's API collides with an API that
// exists, or "" when it does not. groups are the API groups the API
// server serves; crds are the CustomResourceDefinitions. A definition may
// only add kinds to a group that CompositeDefinitions alone serve, under
// names no other kind of the group has, and never takes over a
// CustomResourceDefinition it did not create.
func apiConflict(def *v1alpha1.CompositeDefinition, groups []string, crds []apiextv1.CustomResourceDefinition) string {
	group := def.Spec.Group
	if why := reservedGroup(group); why != "" {
		return why
	}
	name := def.Spec.Names.Plural + "." + group
	served := false
	for i := range crds {
		crd := &crds[i]
		if crd.Spec.Group != group {
			continue
		}
		served = true
		owner := definitionOf(crd)
		switch {
		case crd.Name == name && (owner == nil || owner.UID != def.UID):
			return fmt.Sprintf("the CustomResourceDefinition %s exists and this definition did not create it: a definition never takes over an API; choose another group or plural", name)
		case owner == nil:
			return fmt.Sprintf("group %s is served by the CustomResourceDefinition %s, which no CompositeDefinition created: a composite needs a group of its own", group, crd.Name)
		case owner.UID == def.UID:
			continue
		}
		if c := crdCondition(crd, apiextv1.NamesAccepted); c != nil && c.Status == apiextv1.ConditionFalse {
			// The API server refused its names: it serves nothing, and
			// another definition created at the same time may have them.
			continue
		}
		n := crd.Spec.Names
		if strings.EqualFold(n.Kind, def.Spec.Names.Kind) || n.Plural == def.Spec.Names.Plural || n.Singular == lower(def.Spec.Names.Kind) {
			return fmt.Sprintf("kind %s (%s) of group %s is served by the CustomResourceDefinition %s of the CompositeDefinition %s", n.Kind, n.Plural, group, crd.Name, owner.Name)
		}
	}
	if !served && slices.Contains(groups, group) {
		return fmt.Sprintf("group %s is served by the API server (a built-in or aggregated API): a composite needs a group of its own", group)
	}
	return ""
}

// definitionOf returns the CompositeDefinition that controls crd, or nil.
func definitionOf(crd client.Object) *metav1.OwnerReference {
	ref := metav1.GetControllerOf(crd)
	if ref == nil || ref.Kind != "CompositeDefinition" || !strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/") {
		return nil
	}
	return ref
}

// access is one thing the operator must be allowed to do.
type access struct {
	group, resource, subresource string
	verbs                        []string
	// grant says how the platform team grants it.
	grant string
}

// notPermitted checks with the API server's authorizer that the operator
// may do what serving a composite takes, and says what it may not, or "".
func notPermitted(ctx context.Context, c client.Client, needs []access) (string, error) {
	var missing []string
	for _, n := range needs {
		var denied []string
		for _, verb := range n.verbs {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Group: n.group, Resource: n.resource, Subresource: n.subresource, Verb: verb},
			}}
			if err := c.Create(ctx, review); err != nil {
				return "", fmt.Errorf("cannot review the operator's access to %s: %w", n.resource, err)
			}
			if !review.Status.Allowed {
				denied = append(denied, verb)
			}
		}
		if len(denied) == 0 {
			continue
		}
		res := n.resource
		if n.subresource != "" {
			res += "/" + n.subresource
		}
		if n.group != "" {
			res += "." + n.group
		}
		missing = append(missing, fmt.Sprintf("the operator may not %s %s: %s", conjoin(denied), res, n.grant))
	}
	return strings.Join(missing, "; "), nil
}

// servingAccess is what the operator must be allowed to serve a
// definition's composite: watch and update its instances and their status,
// and create, watch and delete the composed kinds.
func servingAccess(def *v1alpha1.CompositeDefinition, mapper meta.RESTMapper, kinds []templateKind) ([]access, error) {
	group := fmt.Sprintf("add %s to the chart value %s", def.Spec.Group, ValueCompositeGroups)
	needs := []access{
		{group: def.Spec.Group, resource: def.Spec.Names.Plural, verbs: []string{"get", "list", "watch", "update", "patch"}, grant: group},
		{group: def.Spec.Group, resource: def.Spec.Names.Plural, subresource: "status", verbs: []string{"update"}, grant: group},
	}
	seen := map[schema.GroupResource]bool{}
	for _, k := range kinds {
		m, err := mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
		if err != nil {
			return nil, fmt.Errorf("cannot find the resource of %s: %w", kindString(k.gvk.GroupKind()), err)
		}
		gr := m.Resource.GroupResource()
		if seen[gr] {
			continue
		}
		seen[gr] = true
		verbs := []string{"get", "list", "watch", "create", "patch", "delete"}
		if !cached(k.gvk.GroupKind()) {
			verbs = []string{"get", "create", "patch", "delete"}
		}
		needs = append(needs, access{group: gr.Group, resource: gr.Resource, verbs: verbs,
			grant: fmt.Sprintf("the chart grants the kinds of its value %s", ValueComposableKinds)})
	}
	return needs, nil
}

// conjoin lists words: "a", "a and b", "a, b and c".
func conjoin(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
