package render

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Result is what an instance is made of at one point: the resources to
// apply, those that must wait, and what the instance reports.
type Result struct {
	// Resources are the resources to apply, in creation order.
	Resources []Rendered
	// Pending are the resources that cannot be rendered yet, in creation
	// order.
	Pending []PendingResource
	// Excluded are the resources whose includeWhen is false, or that
	// depend on one that is excluded, in creation order. Any that exist
	// should be deleted.
	Excluded []string
	// Status is the projected status of the instance. Fields whose inputs
	// are not observed yet are left out.
	Status map[string]any
	// ConnectionData are the keys of the connection Secret computed by
	// expressions. Keys whose inputs are not observed yet are left out.
	ConnectionData map[string][]byte
	// SecretRefs are the keys of the connection Secret to copy from the
	// connection Secrets of rendered resources, in key order.
	SecretRefs []SecretRef
	// Ready is true when every resource is rendered (none pending) and
	// every included resource is ready.
	Ready bool
}

// Rendered is a resource to apply.
type Rendered struct {
	// Name is the resource's name within the composite.
	Name string
	// Object is the resource as it should be: named, in the instance's
	// namespace (for namespaced composites) and labeled.
	Object *unstructured.Unstructured
	// Ready is the resource's readyWhen over the observed resource, or
	// whether its Ready condition is True when it has none; false while it
	// is not observed.
	Ready bool
}

// PendingResource is a resource that cannot be rendered yet.
type PendingResource struct {
	// Name is the resource's name within the composite.
	Name string
	// Reason says what it waits for, such as "waiting for bucket to be
	// observed" or "template .spec.host: waiting for
	// resources.db.status.atProvider.host".
	Reason string
}

// SecretRef is a key of the connection Secret copied from a composed
// resource's connection Secret.
type SecretRef struct {
	// Key is the key in the composite's connection Secret.
	Key string
	// Resource is the composed resource whose connection Secret holds it.
	Resource string
	// SecretKey is the key in that Secret.
	SecretKey string
}

type resourceState int

const (
	stateRendered resourceState = iota + 1
	statePending
	stateExcluded
)

// Render renders the resources of an instance, given the composed
// resources observed so far by name (nil for none). Resources are
// evaluated in creation order; one whose dependencies are not observed yet,
// or whose expressions read fields of them that are not there yet, is
// pending. Errors are those of the definition or the instance, such as a
// type error or a division by zero at run time, and name the place.
func (c *Composition) Render(instance *unstructured.Unstructured, observed map[string]*unstructured.Unstructured) (*Result, error) {
	if instance == nil {
		return nil, errors.New("no instance")
	}
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	vars, err := c.variables(instance)
	if err != nil {
		return nil, err
	}
	// visible are the observed resources expressions see: those not
	// excluded.
	visible := map[string]any{}
	vars[varResources] = visible

	res := &Result{Status: map[string]any{}, ConnectionData: map[string][]byte{}}
	state := map[string]resourceState{}
	for _, i := range c.order {
		r := c.resources[i]
		obs := observed[r.name]
		st, err := c.renderResource(r, instance, obs, vars, res)
		if err != nil {
			return nil, err
		}
		state[r.name] = st
		if st != stateExcluded && obs != nil {
			visible[r.name] = obs.Object
		}
	}

	for _, f := range c.status {
		path := "status." + f.key
		v, ok, err := project(f.expr, vars, path)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		j, err := toJSON(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		// In the schema's types: a double that is an integer field becomes
		// an int, and a dyn value of the wrong type is an error.
		if j, err = prepareValue(j, f.schema, path); err != nil {
			return nil, err
		}
		setNested(res.Status, f.path, j)
	}

	for _, k := range c.connection {
		if k.ref != nil {
			if state[k.ref.Resource] == stateRendered {
				res.SecretRefs = append(res.SecretRefs, *k.ref)
			}
			continue
		}
		path := "connectionSecret.data." + k.key
		v, ok, err := project(k.expr, vars, path)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		b, err := toData(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		res.ConnectionData[k.key] = b
	}

	res.Ready = len(res.Pending) == 0
	for _, r := range res.Resources {
		res.Ready = res.Ready && r.Ready
	}
	return res, nil
}

// renderResource renders one resource into res and returns what became of
// it.
func (c *Composition) renderResource(r *composedResource, instance *unstructured.Unstructured, obs *unstructured.Unstructured, vars map[string]any, res *Result) (resourceState, error) {
	path := fmt.Sprintf("resources[%d] (%s)", r.index, r.name)
	visible := vars[varResources].(map[string]any)
	var waiting []string
	for _, d := range r.deps {
		if slices.Contains(res.Excluded, d) {
			res.Excluded = append(res.Excluded, r.name)
			return stateExcluded, nil
		}
		if _, ok := visible[d]; !ok {
			waiting = append(waiting, d)
		}
	}
	pending := func(reason string) (resourceState, error) {
		res.Pending = append(res.Pending, PendingResource{Name: r.name, Reason: reason})
		return statePending, nil
	}
	if len(waiting) > 0 {
		return pending("waiting for " + conjoin(waiting) + " to be observed")
	}

	if r.include != nil {
		v, err := r.include.eval(vars)
		var miss *missingInput
		if errors.As(err, &miss) && miss.ref.root == varResources {
			return pending("includeWhen: " + miss.Error())
		}
		include, err := asBool(v, err, path+" includeWhen")
		if err != nil {
			return 0, err
		}
		if !include {
			res.Excluded = append(res.Excluded, r.name)
			return stateExcluded, nil
		}
	}

	doc := runtime.DeepCopyJSON(r.template)
	for _, f := range r.fields {
		fpath := path + " template " + f.path.String()
		value, err := f.evaluate(vars)
		var miss *missingInput
		if errors.As(err, &miss) && miss.ref.root == varResources {
			return pending("template " + f.path.String() + ": " + miss.Error())
		}
		if err != nil {
			return 0, evalErr(fpath, err)
		}
		setAt(doc, f.path, value)
	}
	doc = removeOmitted(doc).(map[string]any)
	obj := &unstructured.Unstructured{Object: doc}
	if err := c.decorate(obj, r, instance, path); err != nil {
		return 0, err
	}

	ready, err := r.isReady(obs, vars, path)
	if err != nil {
		return 0, err
	}
	res.Resources = append(res.Resources, Rendered{Name: r.name, Object: obj, Ready: ready})
	return stateRendered, nil
}

// evaluate returns the value of a template field.
func (f *templateField) evaluate(vars map[string]any) (any, error) {
	if f.whole {
		v, err := f.exprs[0].eval(vars)
		if err != nil {
			return nil, err
		}
		if opt, ok := v.(*types.Optional); ok {
			if !opt.HasValue() {
				return omitted{}, nil
			}
			v = opt.GetValue()
		}
		return toJSON(v)
	}
	var b strings.Builder
	next := 0
	for _, seg := range f.segs {
		if !seg.isExpr {
			b.WriteString(seg.text)
			continue
		}
		v, err := f.exprs[next].eval(vars)
		next++
		if err != nil {
			return nil, err
		}
		s, err := toText(v)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// decorate names, places and labels a rendered resource.
func (c *Composition) decorate(obj *unstructured.Unstructured, r *composedResource, instance *unstructured.Unstructured, path string) error {
	for _, k := range []string{"apiVersion", "kind"} {
		if s, ok := obj.Object[k].(string); !ok || s == "" {
			return fmt.Errorf("%s template .%s: must be a non-empty string", path, k)
		}
	}
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		if obj.Object["metadata"] != nil {
			return fmt.Errorf("%s template .metadata: must be an object", path)
		}
		md = map[string]any{}
		obj.Object["metadata"] = md
	}
	for _, k := range []string{"name", "namespace"} {
		if v, ok := md[k]; ok {
			if s, ok := v.(string); !ok {
				return fmt.Errorf("%s template .metadata.%s: must be a string, not %s", path, k, jsonKind(v))
			} else if s == "" {
				delete(md, k)
			}
		}
	}
	for _, k := range []string{"labels", "annotations"} {
		v, ok := md[k]
		if !ok {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s template .metadata.%s: must be an object, not %s", path, k, jsonKind(v))
		}
		for _, key := range sortedKeys(m) {
			if _, ok := m[key].(string); !ok {
				return fmt.Errorf("%s template %s: must be a string, not %s", path, fieldPath{"metadata", k, key}, jsonKind(m[key]))
			}
		}
	}
	if _, ok := md["name"]; !ok {
		md["name"] = instance.GetName() + "-" + kebab(r.name)
	}
	if c.namespaced {
		// Whatever the template says, the resources of a namespaced
		// composite are in its namespace.
		ns := instance.GetNamespace()
		if v, ok := md["namespace"]; ok && v != ns {
			return fmt.Errorf("%s template .metadata.namespace: %q is not the composite's namespace %q: the resources of a namespaced composite are in its namespace", path, v, ns)
		}
		if ns != "" {
			md["namespace"] = ns
		}
	}
	labels, _ := md["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		md["labels"] = labels
	}
	annotations, _ := md["annotations"].(map[string]any)
	if err := validateMetadata(path, labels, annotations); err != nil {
		return err
	}
	labels[LabelComposite] = instance.GetName()
	labels[LabelResource] = r.name
	labels[LabelDefinition] = c.name
	return nil
}

// validateMetadata checks the rendered labels and annotations of a
// resource as the API server would, naming the first that is not valid.
func validateMetadata(path string, labels, annotations map[string]any) error {
	for _, k := range sortedKeys(labels) {
		fp := path + " template " + fieldPath{"metadata", "labels", k}.String()
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			return fmt.Errorf("%s: %q is not a valid label key: %s", fp, k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(labels[k].(string)); len(msgs) > 0 {
			return fmt.Errorf("%s: %q is not a valid label value: %s", fp, labels[k], strings.Join(msgs, "; "))
		}
	}
	size := 0
	for _, k := range sortedKeys(annotations) {
		fp := path + " template " + fieldPath{"metadata", "annotations", k}.String()
		if msgs := validation.IsQualifiedName(strings.ToLower(k)); len(msgs) > 0 {
			return fmt.Errorf("%s: %q is not a valid annotation key: %s", fp, k, strings.Join(msgs, "; "))
		}
		size += len(k) + len(annotations[k].(string))
	}
	if size > apivalidation.TotalAnnotationSizeLimitB {
		return fmt.Errorf("%s template .metadata.annotations: %d bytes, more than the %d the API server accepts", path, size, apivalidation.TotalAnnotationSizeLimitB)
	}
	return nil
}

// isReady evaluates whether an observed resource is ready.
func (r *composedResource) isReady(obs *unstructured.Unstructured, vars map[string]any, path string) (bool, error) {
	if obs == nil {
		return false, nil
	}
	if r.ready == nil {
		conds, _, _ := unstructured.NestedSlice(obs.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
				return m["status"] == "True", nil
			}
		}
		return false, nil
	}
	self := map[string]any{varSpec: vars[varSpec], varMetadata: vars[varMetadata], varSelf: obs.Object}
	v, err := r.ready.eval(self)
	var miss *missingInput
	if errors.As(err, &miss) && miss.ref.root == varSelf {
		return false, nil
	}
	return asBool(v, err, path+" readyWhen")
}

// ValidateSpec checks the spec of an instance against the composition's
// schema as Render would, without rendering: types, required fields and
// unknown fields, after the schema's defaults. The error names the place,
// such as "spec.size: required value".
func (c *Composition) ValidateSpec(instance *unstructured.Unstructured) error {
	if instance == nil {
		return errors.New("no instance")
	}
	spec, ok := instance.Object["spec"]
	if !ok || spec == nil {
		spec = map[string]any{}
	}
	_, err := prepareValue(spec, c.spec, "spec")
	return err
}

// checkInstance checks that instance is one of the composite's.
func (c *Composition) checkInstance(instance *unstructured.Unstructured) error {
	gvk := instance.GroupVersionKind()
	if gvk.Kind != "" || gvk.Group != "" || gvk.Version != "" {
		// The API server serves instances at every served version, all
		// with the one schema.
		switch {
		case gvk.GroupKind() != c.gvk.GroupKind():
			return fmt.Errorf("the instance's kind is %s (apiVersion %s), not %s (apiVersion %s)", gvk.Kind, instance.GetAPIVersion(), c.gvk.Kind, c.gvk.GroupVersion())
		case !slices.Contains(c.served, gvk.Version):
			return fmt.Errorf("the instance's apiVersion %s is not a served version of %s (served: %s)", instance.GetAPIVersion(), c.gvk.Kind, strings.Join(c.served, ", "))
		}
	}
	if instance.GetName() == "" {
		return errors.New("the instance has no name")
	}
	if msgs := validation.IsValidLabelValue(instance.GetName()); len(msgs) > 0 {
		return fmt.Errorf("the instance's name %q cannot be the value of the label %s: %s", instance.GetName(), LabelComposite, strings.Join(msgs, "; "))
	}
	return nil
}

// variables returns spec and metadata of the instance, as expressions see
// them.
func (c *Composition) variables(instance *unstructured.Unstructured) (map[string]any, error) {
	spec, ok := instance.Object["spec"]
	if !ok || spec == nil {
		spec = map[string]any{}
	}
	prepared, err := prepareValue(spec, c.spec, "spec")
	if err != nil {
		return nil, fmt.Errorf("the instance's %w", err)
	}
	stringMap := func(m map[string]string) map[string]any {
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return map[string]any{
		varSpec: prepared,
		varMetadata: map[string]any{
			"name":        instance.GetName(),
			"namespace":   instance.GetNamespace(),
			"labels":      stringMap(instance.GetLabels()),
			"annotations": stringMap(instance.GetAnnotations()),
		},
	}, nil
}

// project evaluates a status field or connection key. ok is false when
// the value is left out: its inputs are not observed yet, or it is an
// empty optional.
func project(x *expression, vars map[string]any, path string) (v ref.Val, ok bool, err error) {
	v, err = x.eval(vars)
	var miss *missingInput
	switch {
	case errors.As(err, &miss) && miss.ref.root == varResources:
		return nil, false, nil
	case err != nil:
		return nil, false, evalErr(path, err)
	}
	if opt, isOpt := v.(*types.Optional); isOpt {
		if !opt.HasValue() {
			return nil, false, nil
		}
		v = opt.GetValue()
	}
	return v, true, nil
}

// asBool returns the value of a condition.
func asBool(v ref.Val, err error, path string) (bool, error) {
	if err != nil {
		return false, evalErr(path, err)
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%s: must be a bool, not a %s", path, v.Type().TypeName())
	}
	return bool(b), nil
}

// evalErr names the place of an evaluation error, and explains a field of
// the instance that is not set.
func evalErr(path string, err error) error {
	var miss *missingInput
	if errors.As(err, &miss) {
		return fmt.Errorf("%s: %s is not set: test it with has(%s) or read it with ?. and orValue()", path, miss.ref, miss.ref)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// setNested sets m[path[0]][path[1]]... to v.
func setNested(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// conjoin lists names: "a", "a and b", "a, b and c".
func conjoin(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// kebab turns a resource name into a DNS label: logsBucket becomes
// logs-bucket, primaryDB primary-db.
func kebab(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, c := range rs {
		if unicode.IsUpper(c) {
			prevLower := i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]))
			nextLower := i > 0 && i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1])
			if prevLower || nextLower {
				b.WriteByte('-')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}
