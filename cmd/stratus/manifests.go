package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// readTyped reads the one manifest of a file into obj, rejecting unknown
// fields and any other kind than want.
func readTyped(path string, obj interface {
	GroupVersionKind() schema.GroupVersionKind
}, want schema.GroupVersionKind) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		return fmt.Errorf("cannot parse %s: %w", path, err)
	}
	if gvk := obj.GroupVersionKind(); gvk != want {
		return fmt.Errorf("%s holds a %s %s, not a %s %s", path, gvk.Kind, gvk.GroupVersion(), want.Kind, want.GroupVersion())
	}
	return nil
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

// objectKey is namespace/name, or name.
func objectKey(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}
