package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
)

// Labels every composed resource carries.
const (
	// LabelComposite is the name of the composite instance.
	LabelComposite = "compositions.stratus.dev/composite"
	// LabelResource is the name of the resource within the composite.
	LabelResource = "compositions.stratus.dev/resource"
	// LabelDefinition is the name of the CompositeDefinition.
	LabelDefinition = "compositions.stratus.dev/definition"
)

// secretPrefix starts a connection Secret entry that copies a key of a
// composed resource's connection Secret.
const secretPrefix = "secret:"

// StatusComposedResources is the status field in which the composite
// controller records the resources an instance created.
const StatusComposedResources = "composedResources"

// reservedStatusFields are status fields the composite controller writes.
var reservedStatusFields = []string{"conditions", "observedGeneration", StatusComposedResources}

var (
	resourceName = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	secretKey    = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
	versionName  = regexp.MustCompile(`^v[0-9]+((alpha|beta)[0-9]+)?$`)
)

// Composition is a compiled CompositeDefinition: its expressions checked
// and planned, its resources ordered. It is immutable and safe for
// concurrent use.
type Composition struct {
	name       string
	gvk        schema.GroupVersionKind
	served     []string
	namespaced bool
	spec       *apiextv1.JSONSchemaProps
	resources  []*composedResource
	order      []int
	status     []*statusField
	connection []*connectionKey
}

// composedResource is one compiled resource of the composite.
type composedResource struct {
	index    int
	name     string
	template map[string]any
	fields   []*templateField
	include  *expression
	ready    *expression
	deps     []string
}

// templateField is a string of a template that holds expressions.
type templateField struct {
	path  fieldPath
	whole bool // the string is one expression
	segs  []segment
	exprs []*expression // one per expression segment
}

// statusField is a field of the composite's status.
type statusField struct {
	key    string
	path   []string
	expr   *expression
	schema *apiextv1.JSONSchemaProps // nil without a status schema
}

// connectionKey is a key of the composite's connection Secret: an
// expression, or a key copied from a resource's connection Secret.
type connectionKey struct {
	key  string
	expr *expression
	ref  *SecretRef
}

// Compile checks a definition and compiles its expressions. The error, an
// *InvalidDefinitionError, lists everything wrong, each with its place in
// the definition.
func Compile(def *v1alpha1.CompositeDefinition) (*Composition, error) {
	if def == nil {
		return nil, fmt.Errorf("no definition")
	}
	base, err := newBaseEnv()
	if err != nil {
		return nil, fmt.Errorf("cannot create the CEL environment: %w", err)
	}
	c := &Composition{
		name:       def.Name,
		namespaced: def.Spec.Scope != v1alpha1.CompositeCluster,
	}
	c.gvk = schema.GroupVersionKind{Group: def.Spec.Group, Version: StorageVersion(def), Kind: def.Spec.Names.Kind}

	var errs []error
	errs = append(errs, c.compileVersions(def.Spec.Versions)...)
	switch msgs := validation.IsValidLabelValue(def.Name); {
	case def.Name == "":
		errs = append(errs, fieldErr("metadata.name", "required"))
	case len(msgs) > 0:
		errs = append(errs, fieldErr("metadata.name", "%q cannot be the value of the label %s: %s", def.Name, LabelDefinition, strings.Join(msgs, "; ")))
	}
	if def.Spec.Group == "" {
		errs = append(errs, fieldErr("group", "required"))
	}
	if def.Spec.Names.Kind == "" {
		errs = append(errs, fieldErr("names.kind", "required"))
	}
	if len(def.Spec.Resources) == 0 {
		errs = append(errs, fieldErr("resources", "a composite needs at least one resource"))
	}

	// Schemas.
	specSchema, serrs := parseSchema(&def.Spec.Schema.Spec, "schema.spec")
	errs = append(errs, serrs...)
	var statusSchema *apiextv1.JSONSchemaProps
	if def.Spec.Schema.Status != nil {
		statusSchema, serrs = parseSchema(def.Spec.Schema.Status, "schema.status")
		errs = append(errs, serrs...)
	}
	c.spec = specSchema

	// Names.
	var names []string
	for i, r := range def.Spec.Resources {
		path := fmt.Sprintf("resources[%d] (%s)", i, r.Name)
		switch {
		case !resourceName.MatchString(r.Name):
			errs = append(errs, fieldErr(path, "name must start with a lowercase letter and hold only letters and digits"))
		case slices.Contains(names, r.Name):
			errs = append(errs, fieldErr(path, "duplicate resource name %q", r.Name))
		}
		names = append(names, r.Name)
	}

	// Environments.
	p := newTypeProvider(base.CELTypeProvider())
	specType := types.DynType
	if specSchema != nil {
		specType = p.celType(specSchema, specTypeName)
	}
	metaType := p.declareObject(metadataTypeName, map[string]*types.Type{
		"name":        types.StringType,
		"namespace":   types.StringType,
		"labels":      types.NewMapType(types.StringType, types.StringType),
		"annotations": types.NewMapType(types.StringType, types.StringType),
	})
	// resources is a map, so that resources.db and resources['db'] both
	// work; compile checks the names.
	resType := types.NewMapType(types.StringType, types.NewMapType(types.StringType, types.DynType))
	env, err := base.Extend(
		cel.CustomTypeProvider(p),
		cel.CustomTypeAdapter(p),
		cel.Variable(varSpec, specType),
		cel.Variable(varMetadata, metaType),
		cel.Variable(varResources, resType),
	)
	if err != nil {
		return nil, fmt.Errorf("cannot create the CEL environment: %w", err)
	}
	readyEnv, err := base.Extend(
		cel.CustomTypeProvider(p),
		cel.CustomTypeAdapter(p),
		cel.Variable(varSpec, specType),
		cel.Variable(varMetadata, metaType),
		cel.Variable(varSelf, types.NewMapType(types.StringType, types.DynType)),
	)
	if err != nil {
		return nil, fmt.Errorf("cannot create the CEL environment: %w", err)
	}

	// Resources.
	for i, r := range def.Spec.Resources {
		cr, rerrs := compileResource(i, r, c.namespaced, compileEnv{env: env, resources: names, self: r.Name}, compileEnv{env: readyEnv, self: r.Name})
		errs = append(errs, rerrs...)
		c.resources = append(c.resources, cr)
	}

	// Status.
	all := compileEnv{env: env, resources: names}
	errs = append(errs, c.compileStatus(def.Spec.Status, statusSchema, all)...)

	// Connection Secret.
	if cs := def.Spec.ConnectionSecret; cs != nil {
		errs = append(errs, c.compileConnection(cs.Data, names, all)...)
	}

	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	order, err := c.sort()
	if err != nil {
		return nil, invalid([]error{err})
	}
	c.order = order
	return c, nil
}

// compileResource compiles the template, includeWhen and readyWhen of
// resource i of a namespaced composite or not.
func compileResource(i int, r v1alpha1.ComposedResource, namespaced bool, env, readyEnv compileEnv) (*composedResource, []error) {
	path := fmt.Sprintf("resources[%d] (%s)", i, r.Name)
	cr := &composedResource{index: i, name: r.Name}
	var errs []error

	data, err := rawJSON(&r.Template)
	if err != nil {
		return cr, []error{fieldErr(path+" template", "%v", err)}
	}
	var tmpl any
	if len(data) > 0 {
		if err := utiljson.Unmarshal(data, &tmpl); err != nil {
			return cr, []error{fieldErr(path+" template", "cannot parse: %v", err)}
		}
	}
	m, ok := tmpl.(map[string]any)
	if !ok {
		return cr, []error{fieldErr(path+" template", "must be an object with apiVersion and kind")}
	}
	cr.template = m
	for _, k := range []string{"apiVersion", "kind"} {
		if s, ok := m[k].(string); !ok || s == "" {
			errs = append(errs, fieldErr(path+" template ."+k, "required"))
		}
	}
	if md, ok := m["metadata"]; ok {
		if md, ok := md.(map[string]any); ok {
			errs = append(errs, checkMetadata(path, md, namespaced)...)
		} else {
			errs = append(errs, fieldErr(path+" template .metadata", "must be an object"))
		}
	}

	walkStrings(m, nil, func(fp fieldPath, s string) {
		if !hasExpressions(s) {
			return
		}
		fpath := path + " template " + fp.String()
		segs, err := parseSegments(s)
		if err != nil {
			errs = append(errs, fieldErr(fpath, "%v", err))
			return
		}
		f := &templateField{path: fp, segs: segs, whole: len(segs) == 1 && segs[0].isExpr}
		failed := false
		for _, seg := range segs {
			if !seg.isExpr {
				continue
			}
			x, reasons := env.compile(seg.text)
			for _, why := range reasons {
				errs = append(errs, fieldErr(fpath, "%s", why))
			}
			if x == nil {
				failed = true
				continue
			}
			if !f.whole && !isText(x.out) {
				errs = append(errs, fieldErr(fpath, "${%s} is a %s, which cannot be interpolated into a string; make it the whole value", seg.text, typeName(x.out)))
				failed = true
				continue
			}
			if f.whole && isMetadataString(fp) && !isString(x.out) {
				errs = append(errs, fieldErr(fpath, "${%s} is a %s, and this field is a string: convert it with string()", seg.text, typeName(x.out)))
				failed = true
				continue
			}
			f.exprs = append(f.exprs, x)
			cr.deps = appendNew(cr.deps, x.deps...)
		}
		if !failed {
			cr.fields = append(cr.fields, f)
		}
	}, func(fp fieldPath, _ string) {
		errs = append(errs, fieldErr(path+" template "+fp.String(), "expressions are not allowed in keys"))
	})

	if r.IncludeWhen != "" {
		x, xerrs := compileCondition(env, r.IncludeWhen, path+" includeWhen")
		errs = append(errs, xerrs...)
		if x != nil {
			cr.include = x
			cr.deps = appendNew(cr.deps, x.deps...)
		}
	}
	if r.ReadyWhen != "" {
		x, xerrs := compileCondition(readyEnv, r.ReadyWhen, path+" readyWhen")
		errs = append(errs, xerrs...)
		cr.ready = x
	}
	slices.Sort(cr.deps)
	return cr, errs
}

// checkMetadata checks the metadata of a template as far as it is known
// before rendering: a namespaced composite's children are in its namespace,
// so its templates set no other; label and annotation keys are valid, and
// label values without expressions too. Values with expressions are
// checked once rendered.
func checkMetadata(path string, md map[string]any, namespaced bool) []error {
	var errs []error
	if ns, ok := md["namespace"]; ok && namespaced && !isOwnNamespace(ns) {
		errs = append(errs, fieldErr(path+" template .metadata.namespace", "the resources of a namespaced composite are in the composite's namespace: remove metadata.namespace"))
	}
	for _, k := range []string{"labels", "annotations"} {
		v, ok := md[k]
		if !ok {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, fieldErr(path+" template .metadata."+k, "must be an object, not %s", jsonKind(v)))
			continue
		}
		for _, key := range sortedKeys(m) {
			fp := path + " template " + fieldPath{"metadata", k, key}.String()
			if hasExpressions(key) {
				// Reported by the walk of the template.
				continue
			}
			if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
				errs = append(errs, fieldErr(fp, "%q is not a valid %s key: %s", key, strings.TrimSuffix(k, "s"), strings.Join(msgs, "; ")))
				continue
			}
			s, ok := m[key].(string)
			if !ok {
				errs = append(errs, fieldErr(fp, "must be a string, not %s", jsonKind(m[key])))
				continue
			}
			if k == "labels" && !hasExpressions(s) {
				if msgs := validation.IsValidLabelValue(s); len(msgs) > 0 {
					errs = append(errs, fieldErr(fp, "%q is not a valid label value: %s", s, strings.Join(msgs, "; ")))
				}
			}
		}
	}
	return errs
}

// isOwnNamespace reports whether a template's metadata.namespace v is the
// composite's own: empty, or ${metadata.namespace}.
func isOwnNamespace(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if s == "" {
		return true
	}
	segs, err := parseSegments(s)
	return err == nil && len(segs) == 1 && segs[0].isExpr && segs[0].text == "metadata.namespace"
}

// isMetadataString reports whether the template field at p is a string of
// the metadata: its name, namespace, or a label or annotation value.
func isMetadataString(p fieldPath) bool {
	if len(p) < 2 || p[0] != "metadata" {
		return false
	}
	switch p[1] {
	case "name", "namespace", "generateName":
		return len(p) == 2
	case "labels", "annotations":
		return len(p) == 3
	}
	return false
}

// compileCondition compiles a bool expression.
func compileCondition(env compileEnv, s, path string) (*expression, []error) {
	src, err := expressionOf(s)
	if err != nil {
		return nil, []error{fieldErr(path, "%v", err)}
	}
	x, reasons := env.compile(src)
	if x == nil {
		return nil, reasonErrs(path, reasons)
	}
	if !isBool(x.out) {
		return nil, []error{fieldErr(path, "must be a bool expression, not a %s", typeName(x.out))}
	}
	return x, nil
}

// compileStatus compiles the status projection, checking each field
// against the status schema when there is one.
func (c *Composition) compileStatus(fields map[string]string, s *apiextv1.JSONSchemaProps, env compileEnv) []error {
	var errs []error
	keys := sortedKeys(fields)
	for _, key := range keys {
		path := "status." + key
		segs := strings.Split(key, ".")
		if slices.Contains(segs, "") {
			errs = append(errs, fieldErr(path, "a status field is a name or a dotted path of names"))
			continue
		}
		if slices.Contains(reservedStatusFields, segs[0]) {
			errs = append(errs, fieldErr(path, "%s is written by the composite controller", segs[0]))
			continue
		}
		if other := conflicting(key, keys); other != "" {
			errs = append(errs, fieldErr(path, "conflicts with status.%s", other))
			continue
		}
		var fs *apiextv1.JSONSchemaProps
		if s != nil {
			var ok bool
			if fs, ok = schemaAt(s, segs); !ok {
				errs = append(errs, fieldErr(path, "not a field of the status schema"))
				continue
			}
		}
		src, err := expressionOf(fields[key])
		if err != nil {
			errs = append(errs, fieldErr(path, "%v", err))
			continue
		}
		x, reasons := env.compile(src)
		if x == nil {
			errs = append(errs, reasonErrs(path, reasons)...)
			continue
		}
		if fs != nil && !fits(fs, x.out) {
			errs = append(errs, fieldErr(path, "the expression is a %s, but the status schema says %s", typeName(x.out), fs.Type))
			continue
		}
		c.status = append(c.status, &statusField{key: key, path: segs, expr: x, schema: fs})
	}
	return errs
}

// conflicting returns a key of keys of which key is a field.
func conflicting(key string, keys []string) string {
	for _, k := range keys {
		if strings.HasPrefix(key, k+".") {
			return k
		}
	}
	return ""
}

// compileConnection compiles the connection Secret's data.
func (c *Composition) compileConnection(data map[string]string, names []string, env compileEnv) []error {
	var errs []error
	if len(data) == 0 {
		errs = append(errs, fieldErr("connectionSecret.data", "a connection Secret needs at least one key"))
	}
	for _, key := range sortedKeys(data) {
		path := "connectionSecret.data." + key
		if !secretKey.MatchString(key) || len(key) > 253 {
			errs = append(errs, fieldErr(path, "not a valid Secret key: use letters, digits, '-', '_' and '.'"))
			continue
		}
		v := strings.TrimSpace(data[key])
		if ref, ok := strings.CutPrefix(v, secretPrefix); ok {
			res, sk, found := strings.Cut(ref, ".")
			switch {
			case !found || res == "" || sk == "":
				errs = append(errs, fieldErr(path, "a Secret reference is secret:<resource>.<key>, not %q", v))
			case !slices.Contains(names, res):
				errs = append(errs, fieldErr(path, "unknown resource %q (resources are %s)", res, strings.Join(names, ", ")))
			case !secretKey.MatchString(sk):
				errs = append(errs, fieldErr(path, "%q is not a valid Secret key", sk))
			default:
				c.connection = append(c.connection, &connectionKey{key: key, ref: &SecretRef{Key: key, Resource: res, SecretKey: sk}})
			}
			continue
		}
		src, err := expressionOf(v)
		if err != nil {
			errs = append(errs, fieldErr(path, "%v", err))
			continue
		}
		x, reasons := env.compile(src)
		if x == nil {
			errs = append(errs, reasonErrs(path, reasons)...)
			continue
		}
		if !isText(x.out) {
			errs = append(errs, fieldErr(path, "the expression is a %s; a Secret value must be a string, bytes, number or bool", typeName(x.out)))
			continue
		}
		c.connection = append(c.connection, &connectionKey{key: key, expr: x})
	}
	return errs
}

// sort orders the resources so that each comes after those it depends on,
// ties in declaration order, or reports a cycle.
func (c *Composition) sort() ([]int, error) {
	index := map[string]int{}
	for i, r := range c.resources {
		index[r.name] = i
	}
	placed := make([]bool, len(c.resources))
	var order []int
	for len(order) < len(c.resources) {
		next := -1
		for i, r := range c.resources {
			if placed[i] {
				continue
			}
			ready := true
			for _, d := range r.deps {
				if !placed[index[d]] {
					ready = false
					break
				}
			}
			if ready {
				next = i
				break
			}
		}
		if next < 0 {
			return nil, c.cycle(index, placed)
		}
		placed[next] = true
		order = append(order, next)
	}
	return order, nil
}

// cycle finds a cycle among the resources not placed, starting from the
// first in declaration order.
func (c *Composition) cycle(index map[string]int, placed []bool) error {
	start := slices.Index(placed, false)
	// Every unplaced resource depends on an unplaced one: follow the first
	// such dependency until a resource repeats.
	seen := map[int]int{}
	var path []int
	for i := start; ; {
		if at, ok := seen[i]; ok {
			cyc := path[at:]
			names := make([]string, 0, len(cyc)+1)
			for _, j := range cyc {
				names = append(names, c.resources[j].name)
			}
			names = append(names, c.resources[cyc[0]].name)
			first := c.resources[cyc[0]]
			return fieldErr(fmt.Sprintf("resources[%d] (%s)", first.index, first.name), "cycle: %s", strings.Join(names, " -> "))
		}
		seen[i] = len(path)
		path = append(path, i)
		for _, d := range c.resources[i].deps {
			if j := index[d]; !placed[j] {
				i = j
				break
			}
		}
	}
}

// Order returns the names of the resources in the order in which they are
// created: each after those it depends on, ties in declaration order.
// Resources are deleted in the reverse order.
func (c *Composition) Order() []string {
	out := make([]string, len(c.order))
	for i, j := range c.order {
		out[i] = c.resources[j].name
	}
	return out
}

// DeletionOrder returns the names of the resources in the order in which
// they are deleted: the reverse of Order.
func (c *Composition) DeletionOrder() []string {
	out := c.Order()
	slices.Reverse(out)
	return out
}

// Dependencies returns the resources the named resource depends on, in
// name order, or nil for an unknown name.
func (c *Composition) Dependencies(name string) []string {
	for _, r := range c.resources {
		if r.name == name {
			return slices.Clone(r.deps)
		}
	}
	return nil
}

// GroupVersionKind returns the kind of the composite's instances, at the
// storage version.
func (c *Composition) GroupVersionKind() schema.GroupVersionKind { return c.gvk }

// ServedVersions returns the versions at which the API server serves the
// composite's instances, in the definition's order.
func (c *Composition) ServedVersions() []string { return slices.Clone(c.served) }

// StorageVersion returns the name of the definition's storage version, or
// "" when no version is the storage version.
func StorageVersion(def *v1alpha1.CompositeDefinition) string {
	for _, v := range def.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return ""
}

// compileVersions checks the versions and records the served ones.
func (c *Composition) compileVersions(versions []v1alpha1.CompositeVersion) []error {
	if len(versions) == 0 {
		return []error{fieldErr("versions", "a composite needs at least one version")}
	}
	var errs []error
	var names []string
	storage := 0
	for i, v := range versions {
		path := fmt.Sprintf("versions[%d]", i)
		switch {
		case !versionName.MatchString(v.Name):
			errs = append(errs, fieldErr(path+".name", "%q is not a version such as v1, v1alpha1 or v2beta3", v.Name))
		case slices.Contains(names, v.Name):
			errs = append(errs, fieldErr(path+".name", "duplicate version %q", v.Name))
		}
		names = append(names, v.Name)
		if v.Storage {
			storage++
			if !v.Served {
				// The instances are watched at the storage version.
				errs = append(errs, fieldErr(path+".served", "the storage version must be served"))
			}
		}
		if v.Served && !slices.Contains(c.served, v.Name) {
			c.served = append(c.served, v.Name)
		}
	}
	if storage != 1 {
		errs = append(errs, fieldErr("versions", "exactly one version must be the storage version, not %d", storage))
	}
	if len(c.served) == 0 {
		errs = append(errs, fieldErr("versions", "at least one version must be served"))
	}
	return errs
}

// Namespaced reports whether the composite's instances are namespaced.
func (c *Composition) Namespaced() bool { return c.namespaced }

func reasonErrs(path string, reasons []string) []error {
	errs := make([]error, len(reasons))
	for i, r := range reasons {
		errs[i] = fieldErr(path, "%s", r)
	}
	return errs
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// typeName names a CEL type for messages: list(string), map(string, dyn).
func typeName(t *types.Type) string {
	if t.Kind() == types.StructKind {
		return "object"
	}
	return t.String()
}
