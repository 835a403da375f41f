package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
)

// runRender runs `stratus render`: it renders what a CompositeDefinition
// makes of one instance, without a cluster.
func runRender(args []string) error {
	// main reports the error; the manager's logger has nothing to add.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	return renderCommand(args, os.Stdout)
}

// renderCommand parses the flags of `stratus render`, renders, and writes
// the rendered resources as multi-document YAML to out, in creation order,
// followed by a comment block with what is pending or excluded, the
// projected status and the connection Secret's keys.
func renderCommand(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stratus render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	defPath := fs.String("definition", "", "the CompositeDefinition, as YAML (required)")
	instPath := fs.String("instance", "", "the instance of the composite, as YAML (required)")
	obsPath := fs.String("observed", "", "the composed resources as observed, as multi-document YAML; each is labeled "+render.LabelResource+"=<name>, or has the kind and name of a rendered resource")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fmt.Fprintln(out, "usage: stratus render --definition def.yaml --instance instance.yaml [--observed observed.yaml]")
			fs.PrintDefaults()
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("render takes no arguments, got %q", fs.Args())
	case *defPath == "":
		return errors.New("render needs --definition")
	case *instPath == "":
		return errors.New("render needs --instance")
	}

	def, err := readDefinition(*defPath)
	if err != nil {
		return err
	}
	comp, err := render.Compile(def)
	if err != nil {
		var invalid *render.InvalidDefinitionError
		if errors.As(err, &invalid) && len(invalid.Errors) > 1 {
			var b strings.Builder
			for _, fe := range invalid.Errors {
				b.WriteString("\n  " + fe.Error())
			}
			return fmt.Errorf("invalid definition %s:%s", *defPath, b.String())
		}
		return fmt.Errorf("invalid definition %s: %w", *defPath, err)
	}
	instance, err := readInstance(*instPath, comp)
	if err != nil {
		return err
	}
	var docs []*unstructured.Unstructured
	if *obsPath != "" {
		if docs, err = readObjects(*obsPath); err != nil {
			return err
		}
	}
	observed, err := matchObserved(comp, instance, docs, *obsPath)
	if err != nil {
		return err
	}
	res, err := comp.Render(instance, observed)
	if err != nil {
		return fmt.Errorf("cannot render %s: %w", instance.GetName(), err)
	}
	return writeResult(out, def, instance, res)
}

// readDefinition reads a CompositeDefinition, rejecting unknown fields.
func readDefinition(path string) (*v1alpha1.CompositeDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the definition: %w", err)
	}
	def := &v1alpha1.CompositeDefinition{}
	if err := yaml.UnmarshalStrict(data, def); err != nil {
		return nil, fmt.Errorf("cannot parse the definition %s: %w", path, err)
	}
	if gvk := def.GroupVersionKind(); gvk != v1alpha1.GroupVersion.WithKind("CompositeDefinition") {
		return nil, fmt.Errorf("%s holds a %s %s, not a CompositeDefinition %s", path, gvk.Kind, gvk.GroupVersion(), v1alpha1.GroupVersion)
	}
	return def, nil
}

// readInstance reads the instance; a namespaced one without a namespace is
// in "default", as kubectl would put it.
func readInstance(path string, comp *render.Composition) (*unstructured.Unstructured, error) {
	docs, err := readObjects(path)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s must hold one instance, not %d documents", path, len(docs))
	}
	inst := docs[0]
	if comp.Namespaced() && inst.GetNamespace() == "" {
		inst.SetNamespace("default")
	}
	return inst, nil
}

// readObjects reads the objects of a multi-document YAML file, skipping
// empty documents.
func readObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read objects: %w", err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", path, err)
		}
		// Integers stay int64, as in the API server's objects.
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("cannot parse document %d of %s: %w", n, path, err)
		}
		var m map[string]any
		if err := utiljson.Unmarshal(j, &m); err != nil {
			return nil, fmt.Errorf("cannot parse document %d of %s: %w", n, path, err)
		}
		if len(m) == 0 {
			n--
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// matchObserved assigns the observed objects to the composite's resources:
// by their resource label, or else by the kind, name and namespace of a
// rendered resource. Names can depend on other resources, so it renders
// until no more objects match. Every object must match.
func matchObserved(comp *render.Composition, instance *unstructured.Unstructured, docs []*unstructured.Unstructured, path string) (map[string]*unstructured.Unstructured, error) {
	observed := map[string]*unstructured.Unstructured{}
	known := map[string]bool{}
	for _, n := range comp.Order() {
		known[n] = true
	}
	used := make([]bool, len(docs))
	for i, d := range docs {
		name := d.GetLabels()[render.LabelResource]
		if name == "" {
			continue
		}
		if !known[name] {
			return nil, fmt.Errorf("%s: %s %q is labeled %s=%s, which the definition does not compose", path, d.GetKind(), d.GetName(), render.LabelResource, name)
		}
		if observed[name] != nil {
			return nil, fmt.Errorf("%s: two objects are labeled %s=%s", path, render.LabelResource, name)
		}
		observed[name] = d
		used[i] = true
	}
	for {
		res, err := comp.Render(instance, observed)
		if err != nil {
			break // Render reports it.
		}
		matched := false
		for _, r := range res.Resources {
			if observed[r.Name] != nil {
				continue
			}
			for i, d := range docs {
				if !used[i] && sameObject(r.Object, d) {
					observed[r.Name] = d
					used[i] = true
					matched = true
					break
				}
			}
		}
		if !matched {
			break
		}
	}
	for i, d := range docs {
		if !used[i] {
			return nil, fmt.Errorf("%s: %s %q matches no rendered resource: label it %s=<resource>", path, d.GetKind(), d.GetName(), render.LabelResource)
		}
	}
	return observed, nil
}

// sameObject reports whether two objects have the same group, kind, name
// and namespace (when both have one).
func sameObject(a, b *unstructured.Unstructured) bool {
	ga, gb := a.GroupVersionKind(), b.GroupVersionKind()
	return ga.GroupKind() == gb.GroupKind() && a.GetName() == b.GetName() &&
		(a.GetNamespace() == "" || b.GetNamespace() == "" || a.GetNamespace() == b.GetNamespace())
}

// writeResult writes the rendered resources and the comment block.
func writeResult(out io.Writer, def *v1alpha1.CompositeDefinition, instance *unstructured.Unstructured, res *render.Result) error {
	var b bytes.Buffer
	gvk := schema.GroupVersionKind{Group: def.Spec.Group, Kind: def.Spec.Names.Kind}
	fmt.Fprintf(&b, "# %s %s rendered by the CompositeDefinition %s.\n", gvk.Kind, objectKey(instance), def.Name)
	for i, r := range res.Resources {
		if i > 0 {
			b.WriteString("---\n")
		}
		state := "not ready"
		if r.Ready {
			state = "ready"
		}
		fmt.Fprintf(&b, "# %s (%s)\n", r.Name, state)
		y, err := yaml.Marshal(r.Object.Object)
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", r.Name, err)
		}
		b.Write(y)
	}
	if len(res.Resources) > 0 {
		b.WriteString("\n")
	}

	b.WriteString("# pending:")
	if len(res.Pending) == 0 {
		b.WriteString(" none")
	}
	b.WriteString("\n")
	for _, p := range res.Pending {
		fmt.Fprintf(&b, "#   %s: %s\n", p.Name, p.Reason)
	}
	b.WriteString("# excluded:")
	if len(res.Excluded) == 0 {
		b.WriteString(" none")
	}
	b.WriteString("\n")
	for _, e := range res.Excluded {
		fmt.Fprintf(&b, "#   %s\n", e)
	}
	b.WriteString("# status:")
	if len(res.Status) == 0 {
		b.WriteString(" {}\n")
	} else {
		b.WriteString("\n")
		y, err := yaml.Marshal(res.Status)
		if err != nil {
			return fmt.Errorf("cannot write the status: %w", err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(y), "\n"), "\n") {
			fmt.Fprintf(&b, "#   %s\n", line)
		}
	}
	b.WriteString("# connection secret keys:")
	keys := connectionKeys(res)
	if len(keys) == 0 {
		b.WriteString(" none")
	}
	b.WriteString("\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "#   %s\n", k)
	}
	fmt.Fprintf(&b, "# ready: %t\n", res.Ready)
	_, err := out.Write(b.Bytes())
	return err
}

// connectionKeys lists the connection Secret's keys in key order, those
// copied from another Secret with their source. Values are not shown.
func connectionKeys(res *render.Result) []string {
	lines := map[string]string{}
	for k, v := range res.ConnectionData {
		lines[k] = fmt.Sprintf("%s (%d bytes)", k, len(v))
	}
	for _, r := range res.SecretRefs {
		lines[r.Key] = fmt.Sprintf("%s (from secret %s.%s)", r.Key, r.Resource, r.SecretKey)
	}
	keys := make([]string, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = lines[k]
	}
	return out
}

func objectKey(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}
