package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stratus-operator/stratus/policy/library"
	"github.com/stratus-operator/stratus/test/harness"
)

var (
	// templateGVK is Gatekeeper's ConstraintTemplate.
	templateGVK = schema.GroupVersionKind{Group: "templates.gatekeeper.sh", Version: "v1", Kind: "ConstraintTemplate"}
	// constraintGroupVersion holds the constraint kinds Gatekeeper creates
	// from the templates.
	constraintGroupVersion = schema.GroupVersion{Group: "constraints.gatekeeper.sh", Version: "v1beta1"}

	// regoPackage is a library guardrail's package line.
	regoPackage = regexp.MustCompile(`(?m)^package stratus\.guardrails\.[a-z_]+$`)
	// regoViolationHead is the head of a library violation rule, whose
	// "field" Gatekeeper's result format only carries under "details".
	regoViolationHead = regexp.MustCompile(`(?m)^violation contains \{"msg": msg, "field": (.+)\} if \{$`)
)

// templateKind returns the constraint kind of the template translated
// from library guardrail name: Stratus, then name in CamelCase
// (bucket-encryption: StratusBucketEncryption).
func templateKind(name string) string {
	var b strings.Builder
	b.WriteString("Stratus")
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// translateRego rewrites a library guardrail for Gatekeeper, keeping its
// rules as they are: the package is the template's, the object is at
// input.review.object rather than input.object (the parameters are at
// input.parameters in both), and the violation's field moves under
// details, the only extra key Gatekeeper keeps. The result is Rego v1,
// like the library, and the template says so (source.version).
func translateRego(e library.Entry) (string, error) {
	kind := templateKind(e.Name)
	if !regoPackage.MatchString(e.Module) {
		return "", fmt.Errorf("library guardrail %s: no package stratus.guardrails.* line", e.Name)
	}
	if !regoViolationHead.MatchString(e.Module) {
		return "", fmt.Errorf("library guardrail %s: no violation rule of the expected form", e.Name)
	}
	rego := regoPackage.ReplaceAllLiteralString(e.Module, "package "+strings.ToLower(kind))
	rego = regoViolationHead.ReplaceAllString(rego, `violation contains {"msg": msg, "details": {"field": $1}} if {`)
	rego = strings.ReplaceAll(rego, "input.object", "input.review.object")
	if strings.Contains(rego, `"field":`) && !strings.Contains(rego, `"details": {"field":`) {
		return "", fmt.Errorf("library guardrail %s: a violation rule kept its field outside details", e.Name)
	}
	return rego, nil
}

// constraintTemplate returns the Gatekeeper ConstraintTemplate that
// evaluates library guardrail e. Its parameters are free-form, like a
// Guardrail's.
func constraintTemplate(e library.Entry) (*unstructured.Unstructured, error) {
	rego, err := translateRego(e)
	if err != nil {
		return nil, err
	}
	kind := templateKind(e.Name)
	t := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": strings.ToLower(kind)},
		"spec": map[string]any{
			"crd": map[string]any{"spec": map[string]any{
				"names": map[string]any{"kind": kind},
				"validation": map[string]any{
					"legacySchema": false,
					"openAPIV3Schema": map[string]any{
						"type":                                 "object",
						"x-kubernetes-preserve-unknown-fields": true,
					},
				},
			}},
			"targets": []any{map[string]any{
				"target": "admission.k8s.gatekeeper.sh",
				"code": []any{map[string]any{
					"engine": "Rego",
					"source": map[string]any{"version": "v1", "rego": rego},
				}},
			}},
		},
	}}
	t.SetGroupVersionKind(templateGVK)
	return t, nil
}

// newConstraint returns the i-th benchmark constraint, the counterpart of
// newGuardrail(i, e): the template of library guardrail e on every kind
// in every namespace, denying violations, with the same parameters.
func newConstraint(i int, e library.Entry) *unstructured.Unstructured {
	g := newGuardrail(i, e)
	spec := map[string]any{
		"enforcementAction": "deny",
		"match": map[string]any{"kinds": []any{map[string]any{
			"apiGroups": []any{"*"},
			"kinds":     []any{"*"},
		}}},
	}
	if e.Name == "allowed-regions" {
		spec["parameters"] = map[string]any{"regions": []any{benchRegion, "eu-west-1"}}
	}
	c := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": g.Name},
		"spec":     spec,
	}}
	c.SetGroupVersionKind(constraintGroupVersion.WithKind(templateKind(e.Name)))
	return c
}

// installTemplates creates a ConstraintTemplate per library guardrail and
// waits until Gatekeeper has created every constraint CRD. It returns the
// templates, to delete them.
func installTemplates(ctx context.Context, c client.Client) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, e := range library.All() {
		t, err := constraintTemplate(e)
		if err != nil {
			return out, err
		}
		if err := c.Create(ctx, t); err != nil {
			return out, fmt.Errorf("create constraint template %s: %w", t.GetName(), err)
		}
		out = append(out, t)
	}
	for _, t := range out {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		name := t.GetName() + "." + constraintGroupVersion.Group
		err := poll(ctx, 20*time.Second, func() error {
			if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				return err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("CRD %s is not established", name)
		})
		if err != nil {
			status := t.DeepCopy()
			if c.Get(ctx, client.ObjectKeyFromObject(status), status) == nil {
				byPod, _, _ := unstructured.NestedSlice(status.Object, "status", "byPod")
				err = fmt.Errorf("%w (template status.byPod: %v)", err, byPod)
			}
			return out, fmt.Errorf("wait for the constraint CRD of template %s: %w", t.GetName(), err)
		}
	}
	return out, nil
}

// deleteAll deletes objs, ignoring those already gone.
func deleteAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if err := c.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// constraintSet is the constraints the scenario created, in order.
type constraintSet struct {
	client  client.Client
	created []*unstructured.Unstructured
}

// resize creates or deletes constraints until there are n, cycling
// through the library as guardrailSet does, then waits until Gatekeeper
// reports each enforced at its generation (status.byPod).
func (s *constraintSet) resize(ctx context.Context, n int) error {
	for len(s.created) > n {
		c := s.created[len(s.created)-1]
		if err := s.client.Delete(ctx, c); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete constraint %s: %w", c.GetName(), err)
		}
		s.created = s.created[:len(s.created)-1]
	}
	lib := library.All()
	for i := len(s.created); i < n; i++ {
		c := newConstraint(i, lib[i%len(lib)])
		if err := s.client.Create(ctx, c); err != nil {
			return fmt.Errorf("create constraint %s: %w", c.GetName(), err)
		}
		s.created = append(s.created, c)
	}
	for _, c := range s.created {
		err := poll(ctx, harness.Patience, func() error { return enforced(ctx, s.client, c) })
		if err != nil {
			return fmt.Errorf("wait for %d constraints enforced: %w", n, err)
		}
	}
	return nil
}

// enforced returns nil when Gatekeeper reports constraint c enforced at
// its current generation.
func enforced(ctx context.Context, cl client.Client, c *unstructured.Unstructured) error {
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(c.GroupVersionKind())
	if err := cl.Get(ctx, client.ObjectKeyFromObject(c), cur); err != nil {
		return fmt.Errorf("get constraint %s: %w", c.GetName(), err)
	}
	byPod, _, _ := unstructured.NestedSlice(cur.Object, "status", "byPod")
	for _, p := range byPod {
		pod, ok := p.(map[string]any)
		if !ok {
			continue
		}
		gen, _, _ := unstructured.NestedInt64(pod, "observedGeneration")
		if on, _, _ := unstructured.NestedBool(pod, "enforced"); on && gen == cur.GetGeneration() {
			return nil
		}
	}
	return fmt.Errorf("constraint %s %s is not enforced (status.byPod %v)", c.GetKind(), c.GetName(), byPod)
}

// poll calls check every 50ms until it returns nil, for at most patience.
func poll(ctx context.Context, patience time.Duration, check func() error) error {
	deadline := time.Now().Add(patience)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %s: %w", patience, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
