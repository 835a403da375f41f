package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files of the composition examples")

// examplesDir holds the composition examples.
const examplesDir = "../../compositions/examples"

func TestRenderGolden(t *testing.T) {
	cases := map[string]struct {
		reason   string
		example  string
		observed bool
		golden   string
	}{
		"AppStorageFirstPass": {
			reason:  "Nothing observed: the bucket renders, the database waits for it.",
			example: "appstorage",
			golden:  "rendered.golden.yaml",
		},
		"AppStorageReady": {
			reason:   "Everything observed Ready: both render, with status and connection keys.",
			example:  "appstorage",
			observed: true,
			golden:   "rendered-ready.golden.yaml",
		},
		"StaticWebsiteFirstPass": {
			reason:  "Nothing observed: both buckets render, logging being on.",
			example: "static-website",
			golden:  "rendered.golden.yaml",
		},
		"StaticWebsiteReady": {
			reason:   "Everything observed Ready, matched by kind and name.",
			example:  "static-website",
			observed: true,
			golden:   "rendered-ready.golden.yaml",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(examplesDir, tc.example)
			args := []string{"--definition", filepath.Join(dir, "definition.yaml"), "--instance", filepath.Join(dir, "instance.yaml")}
			if tc.observed {
				args = append(args, "--observed", filepath.Join(dir, "observed.yaml"))
			}
			var out bytes.Buffer
			if _, err := execute(append([]string{"render"}, args...), &out, io.Discard); err != nil {
				t.Fatalf("%s\nrender %s: %v", tc.reason, strings.Join(args, " "), err)
			}
			golden := filepath.Join(dir, tc.golden)
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("cannot read the golden file (run go test ./cmd/stratus -run TestRenderGolden -update): %v", err)
			}
			if !bytes.Equal(want, out.Bytes()) {
				t.Errorf("%s\nrender %s: -want (%s), +got:\n%s", tc.reason, strings.Join(args, " "), golden, cmp.Diff(string(want), out.String()))
			}
		})
	}
}

func TestRenderCommandErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	app := filepath.Join(examplesDir, "appstorage")
	def := filepath.Join(app, "definition.yaml")
	inst := filepath.Join(app, "instance.yaml")
	badDef := write("bad.yaml", `apiVersion: compositions.stratus.dev/v1alpha1
kind: CompositeDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  names: {kind: Thing, plural: things}
  versions: [{name: v1alpha1, served: true, storage: true}]
  schema:
    spec:
      type: object
      properties:
        size: {type: integer}
  resources:
    - name: a
      template:
        apiVersion: v1
        kind: ConfigMap
        data:
          size: "${spec.sise}"
`)
	twoErrors := write("two.yaml", strings.Replace(strings.Replace(mustRead(t, filepath.Join(examplesDir, "appstorage", "definition.yaml")),
		"spec.bucket.versioned", "spec.bucket.versiond", 1), "resources.bucket.status.atProvider.url", "resources.buckt.status.atProvider.url", 1))
	unmatched := write("unmatched.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray}\n")
	unknownLabel := write("unknown.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {compositions.stratus.dev/resource: cache}\n")

	cases := map[string]struct {
		reason string
		args   []string
		want   string
	}{
		"InvalidDefinition": {
			reason: "A definition that does not compile is an error that says where.",
			args:   []string{"--definition", badDef, "--instance", inst},
			want:   "invalid definition " + badDef + ": resources[0] (a) template .data.size: undefined field 'sise'",
		},
		"ManyErrors": {
			reason: "Every error of the definition is listed, one a line.",
			args:   []string{"--definition", twoErrors, "--instance", inst},
			want: "invalid definition " + twoErrors + ":\n" +
				"  resources[0] (bucket) template .spec.versioning: undefined field 'versiond'\n" +
				`  status.bucketURL: unknown resource "buckt" (resources are bucket, db)`,
		},
		"NoDefinition": {
			reason: "--definition is required.",
			args:   []string{"--instance", inst},
			want:   "render needs --definition",
		},
		"WrongInstance": {
			reason: "The instance must be of the definition's kind.",
			args:   []string{"--definition", def, "--instance", unmatched},
			want:   "cannot render stray: the instance's kind is ConfigMap (apiVersion v1), not AppStorage (apiVersion platform.example.com/v1alpha1)",
		},
		"UnmatchedObserved": {
			reason: "An observed object that matches no resource is an error.",
			args:   []string{"--definition", def, "--instance", inst, "--observed", unmatched},
			want:   unmatched + `: ConfigMap "stray" matches no rendered resource: label it compositions.stratus.dev/resource=<resource>`,
		},
		"UnknownLabel": {
			reason: "An observed object labeled with a resource the definition lacks is an error.",
			args:   []string{"--definition", def, "--instance", inst, "--observed", unknownLabel},
			want:   unknownLabel + `: ConfigMap "x" is labeled compositions.stratus.dev/resource=cache, which the definition does not compose`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := execute(append([]string{"render"}, tc.args...), &out, io.Discard)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nrender: -want error, +got error:\n%s", tc.reason, diff)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
