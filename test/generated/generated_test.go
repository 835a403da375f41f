// Package generated checks that the files controller-gen generates (CRDs,
// deepcopy functions, RBAC) are up to date with the API types and markers.
package generated

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratus-operator/stratus/test/servers"
)

// sources are what `make generate manifests` reads and writes.
var sources = []string{"go.mod", "go.sum", "Makefile", "apis", "providers", "compositions", "policy", "charts/stratus/files", "test/faults"}

// TestGeneratedFilesAreUpToDate regenerates into a copy of the sources and
// compares every generated file with the committed one.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	root, err := servers.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	controllerGen, err := servers.Tool("controller-gen")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	for _, s := range sources {
		if err := os.CopyFS(filepath.Join(work, s), os.DirFS(filepath.Join(root, s))); err != nil {
			if fi, statErr := os.Stat(filepath.Join(root, s)); statErr == nil && !fi.IsDir() {
				data, _ := os.ReadFile(filepath.Join(root, s))
				err = os.WriteFile(filepath.Join(work, s), data, 0o644)
			}
			if err != nil {
				t.Fatalf("copy %s: %v", s, err)
			}
		}
	}
	// Remove the generated files, so that a file no longer generated shows too.
	for rel := range generatedFiles(t, work) {
		if err := os.Remove(filepath.Join(work, rel)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("make", "generate", "manifests", "CONTROLLER_GEN="+controllerGen)
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make generate manifests: %v\n%s", err, out)
	}
	want, got := generatedFiles(t, work), generatedFiles(t, root)
	for rel, data := range want {
		if !bytes.Equal(got[rel], data) {
			t.Errorf("%s is stale or missing: run `make generate manifests`", rel)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s is no longer generated: delete it or run `make generate manifests`", rel)
		}
	}
}

// generatedFiles returns the generated files below dir by relative path.
func generatedFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, top := range []string{"apis", "charts/stratus/files"} {
		err := filepath.WalkDir(filepath.Join(dir, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if top == "apis" && !strings.HasSuffix(p, "zz_generated.deepcopy.go") {
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files[rel], err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatalf("read generated files: %v", err)
		}
	}
	return files
}
