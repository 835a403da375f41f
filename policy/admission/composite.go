package admission

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/engine"
	"github.com/stratus-operator/stratus/policy/guardrails"
	"github.com/stratus-operator/stratus/policy/match"
)

// judgeChildren renders a composite as if it were created now and judges
// each resource it would create. Each finding names the path from the
// composite to the child. Resources that wait for others cannot be rendered
// yet: they are judged when the composite creates them. notes are warnings
// for the user about what could not be judged up front.
func (h *Handler) judgeChildren(ctx context.Context, snap *guardrails.Snapshot, r *request) (judgement, error) {
	var j judgement
	comp, err := h.Composites.Lookup(ctx, r.match.GroupKind)
	if err != nil {
		return j, fmt.Errorf("find composite kind %s: %w", r.match.GroupKind, err)
	}
	if comp == nil || len(snap.Entries) == 0 {
		return j, nil
	}
	instance := r.subject.DeepCopy()
	instance.SetAPIVersion(comp.GroupVersionKind().GroupVersion().String())
	if r.match.Namespace != "" && instance.GetNamespace() == "" {
		instance.SetNamespace(r.match.Namespace)
	}
	res, err := comp.Render(instance, nil)
	if err != nil {
		// The composite controller reports this on the instance's status.
		j.notes = []string{fmt.Sprintf("guardrails could not render %s %s to judge what it would create: %v", instance.GetKind(), key(instance.GetNamespace(), instance.GetName()), err)}
		return j, nil
	}
	parent := fmt.Sprintf("%s %s", instance.GetKind(), key(instance.GetNamespace(), instance.GetName()))
	for _, child := range res.Resources {
		obj := child.Object
		gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
		if err != nil {
			return j, fmt.Errorf("composite %s resource %q: %w", parent, child.Name, err)
		}
		req := match.Request{
			GroupKind: schema.GroupKind{Group: gv.Group, Kind: obj.GetKind()},
			Namespace: obj.GetNamespace(),
			Labels:    obj.GetLabels(),
			Operation: r.match.Operation,
		}
		in := engine.Input{Object: obj.Object, Operation: r.input.Operation, UserInfo: r.input.UserInfo}
		if obj.GetNamespace() == r.match.Namespace {
			in.Namespace = r.input.Namespace
		}
		fs, failures, err := snap.Judge(ctx, req, in, h.namespaceLabels(ctx))
		if err != nil {
			return j, fmt.Errorf("composite %s resource %q: %w", parent, child.Name, err)
		}
		for _, f := range fs {
			f.Message = fmt.Sprintf("%s → resources.%s: %s", parent, child.Name, f.Message)
			j.findings = append(j.findings, f)
		}
		for _, f := range failures {
			f.Err = fmt.Errorf("%s → resources.%s: %w", parent, child.Name, f.Err)
			j.failures = append(j.failures, f)
		}
	}
	if len(res.Pending) > 0 && r.match.Operation == policyv1alpha1.Operation("CREATE") {
		names := make([]string, 0, len(res.Pending))
		for _, p := range res.Pending {
			names = append(names, p.Name)
		}
		j.notes = append(j.notes, fmt.Sprintf("%s: resources %v depend on others and will be judged by the guardrails when they are created", parent, names))
	}
	return j, nil
}

func key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
