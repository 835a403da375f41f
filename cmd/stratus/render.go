package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/render"
)

// renderOptions are the flags of `stratus render`.
type renderOptions struct {
	definition, instance, observed string
}

// newRenderCommand builds `stratus render`: it renders what a
// CompositeDefinition makes of one instance, without a cluster.
func newRenderCommand() *cobra.Command {
	var o renderOptions
	cmd := &cobra.Command{
		Use:   "render --definition def.yaml --instance instance.yaml [--observed observed.yaml]",
		Short: "Render a composite from local files, without a cluster",
		Long: `Render what a CompositeDefinition makes of one instance, without a cluster,
as multi-document YAML in creation order, followed by a comment block with
what is pending or excluded, the projected status and the connection
Secret's keys.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// run reports the error; the manager's logger has nothing to add.
			ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
			return renderComposite(o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.definition, "definition", "", "the CompositeDefinition, as YAML (required)")
	f.StringVar(&o.instance, "instance", "", "the instance of the composite, as YAML (required)")
	f.StringVar(&o.observed, "observed", "", "the composed resources as observed, as multi-document YAML; each is labeled "+render.LabelResource+"=<name>, or has the kind and name of a rendered resource")
	return cmd
}

// renderComposite renders, and writes the rendered resources as
// multi-document YAML to out, in creation order, followed by a comment
// block with what is pending or excluded, the projected status and the
// connection Secret's keys.
func renderComposite(o renderOptions, out io.Writer) error {
	switch {
	case o.definition == "":
		return usageErrorf("render needs --definition")
	case o.instance == "":
		return usageErrorf("render needs --instance")
	}
	def, err := readDefinition(o.definition)
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
			return fmt.Errorf("invalid definition %s:%s", o.definition, b.String())
		}
		return fmt.Errorf("invalid definition %s: %w", o.definition, err)
	}
	instance, err := readInstance(o.instance, comp)
	if err != nil {
		return err
	}
	var docs []*unstructured.Unstructured
	if o.observed != "" {
		if docs, err = readObjects(o.observed); err != nil {
			return err
		}
	}
	observed, err := matchObserved(comp, instance, docs, o.observed)
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
	def := &v1alpha1.CompositeDefinition{}
	if err := readTyped(path, def, v1alpha1.GroupVersion.WithKind("CompositeDefinition")); err != nil {
		return nil, fmt.Errorf("cannot read the definition: %w", err)
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
