package helm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/stratus-operator/stratus/cmd/stratus/options"
)

// The chart under test and the release the tests make of it.
const (
	// chartDir is the working tree's chart.
	chartDir = "../../charts/stratus"
	// fixturePath is the previous version of the chart, packaged by
	// TestPackageFixture.
	fixturePath = "testdata/stratus-0.2.0.tgz"
	// fixtureVersion is the chart version of the fixture.
	fixtureVersion = "0.2.0"

	releaseName      = "stratus"
	releaseNamespace = "stratus-system"
)

// defaultKubeVersion is the Kubernetes version that client-only renders and
// lints assume. The helm command assumes its client-go's version (1.37 for
// client-go v0.37); the SDK assumes v1.20 in test binaries, which the
// chart's kubeVersion refuses.
const defaultKubeVersion = "v1.37.0"

// kubeVersion returns defaultKubeVersion parsed.
func kubeVersion(t testing.TB) *common.KubeVersion {
	t.Helper()
	v, err := common.ParseKubeVersion(defaultKubeVersion)
	if err != nil {
		t.Fatalf("parse %s: %v", defaultKubeVersion, err)
	}
	return v
}

// loadChart loads a chart folder or archive.
func loadChart(t testing.TB, path string) *chartv2.Chart {
	t.Helper()
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatalf("load chart %s: %v", path, err)
	}
	return ch
}

// values parses a values file's content, as `helm install -f` does.
func values(t testing.TB, doc string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &vals); err != nil {
		t.Fatalf("parse values %q: %v", doc, err)
	}
	return vals
}

// helmLogger sends the SDK's warnings and errors to the test's output.
func helmLogger(t testing.TB) action.ConfigurationOption {
	return action.ConfigurationSetLogger(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// renderChart renders ch with vals exactly as `helm template` (a
// client-only install) does: the values are validated against the schema,
// then the templates are rendered.
// apiVersions are more APIs for the templates to find served, as `helm
// template --api-versions` gives.
func renderChart(t testing.TB, ch *chartv2.Chart, vals map[string]any, apiVersions ...string) (*release.Release, error) {
	t.Helper()
	install := action.NewInstall(action.NewConfiguration(helmLogger(t)))
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = releaseName
	install.Namespace = releaseNamespace
	install.KubeVersion = kubeVersion(t)
	install.APIVersions = apiVersions
	r, err := install.Run(ch, vals)
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("the install returned a %T, not a v1 release", r)
	}
	return rel, nil
}

// scheme knows every type the chart renders that has Go types here: the
// manager's, and CustomResourceDefinitions.
func scheme() (*runtime.Scheme, error) {
	s, err := options.Scheme()
	if err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	return s, nil
}

// untyped are the kinds the chart may render that have no Go types here.
var untyped = map[schema.GroupVersionKind]bool{
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: true,
	{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}:          true,
	{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"}:               true,
}

// document is one object of a rendered manifest.
type document struct {
	// Source is the template it came from.
	Source string
	// Raw is its YAML.
	Raw []byte
	// Object is the object as unstructured.
	Object *unstructured.Unstructured
	// Typed is the object strictly decoded into its Go type, nil for the
	// untyped kinds.
	Typed runtime.Object
}

// String names the document in failures.
func (d document) String() string {
	return fmt.Sprintf("%s %s (%s)", d.Object.GetKind(), d.Object.GetName(), d.Source)
}

// decodeManifest splits a rendered manifest into its documents and decodes
// each strictly: an unknown or duplicated field, or a kind that is neither
// known to s nor one of the untyped kinds, is an error.
func decodeManifest(s *runtime.Scheme, manifest string) ([]document, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var docs []document
	for {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split the manifest: %w", err)
		}
		source := ""
		for line := range strings.Lines(string(raw)) {
			if after, ok := strings.CutPrefix(line, "# Source: "); ok {
				source = strings.TrimSpace(after)
			}
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, &u.Object); err != nil {
			return nil, fmt.Errorf("parse the document of %s: %w", source, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		d := document{Source: source, Raw: bytes.TrimSpace(raw), Object: u}
		gvk := u.GroupVersionKind()
		switch {
		case s.Recognizes(gvk):
			obj, err := s.New(gvk)
			if err != nil {
				return nil, fmt.Errorf("new %s: %w", gvk, err)
			}
			if err := yaml.UnmarshalStrict(raw, obj); err != nil {
				return nil, fmt.Errorf("decode %s strictly: %w", d, err)
			}
			d.Typed = obj
		case untyped[gvk]:
		default:
			return nil, fmt.Errorf("%s: no Go type for %s and not an expected untyped kind", d, gvk)
		}
		docs = append(docs, d)
	}
}

// rendered is a rendered release, decoded.
type rendered struct {
	Release *release.Release
	Docs    []document
}

// all returns the typed objects of type T.
func all[T runtime.Object](r *rendered) []T {
	var out []T
	for _, d := range r.Docs {
		if o, ok := d.Typed.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// one returns the typed object of type T called name, or fails the test.
func one[T interface {
	runtime.Object
	GetName() string
}](t testing.TB, r *rendered, name string) T {
	t.Helper()
	for _, o := range all[T](r) {
		if o.GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T %s rendered; rendered %v", zero, name, r.Docs)
	return zero
}

// find returns the object of kind called name, typed or not, or nil.
func (r *rendered) find(kind, name string) *document {
	for i, d := range r.Docs {
		if d.Object.GetKind() == kind && d.Object.GetName() == name {
			return &r.Docs[i]
		}
	}
	return nil
}

// kinds counts the rendered objects by kind.
func (r *rendered) kinds() map[string]int {
	n := map[string]int{}
	for _, d := range r.Docs {
		n[d.Object.GetKind()]++
	}
	return n
}
