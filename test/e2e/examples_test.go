package e2e

import (
	"github.com/stratus-operator/stratus/test/harness"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/test/servers"
)

// TestExamples: every manifest in examples/ — what the README tells a
// newcomer to `kubectl apply` against `stratus dev` — becomes Ready.
func TestExamples(t *testing.T) {
	ns := h.Namespace(t)
	root, err := servers.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		u.SetNamespace(ns)
		h.Create(t, u)
		t.Logf("applied %s (%s %s)", filepath.Base(f), u.GetKind(), u.GetName())
		obj, err := h.Scheme.New(u.GroupVersionKind())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		typed := obj.(harness.Managed)
		typed.SetNamespace(ns)
		typed.SetName(u.GetName())
		h.WaitReady(t, typed)
	}
}
