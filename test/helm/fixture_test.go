package helm

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
)

var update = flag.Bool("update", false, "package the working tree's chart into "+fixturePath+", the previous version the upgrade test starts from")

// fixtureEpoch stamps the fixture's files, so that packaging the same chart
// twice writes the same archive.
var fixtureEpoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// TestPackageFixture checks the fixture of the previous chart version
// (testdata/stratus-0.2.0.tgz) that TestInstallUpgradeUninstall installs
// first. With -update it writes the fixture from the working tree's chart
// as `helm package` does; do that once per released version.
func TestPackageFixture(t *testing.T) {
	if *update {
		pkg := action.NewPackage()
		pkg.Destination = t.TempDir()
		pkg.SourceDateEpoch = &fixtureEpoch
		name, err := pkg.Run(chartDir, nil)
		if err != nil {
			t.Fatalf("package %s: %v", chartDir, err)
		}
		if got := filepath.Base(name); got != filepath.Base(fixturePath) {
			t.Fatalf("packaged %s, want %s: the fixture is chart version %s", got, filepath.Base(fixturePath), fixtureVersion)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(fixturePath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixturePath, data, 0o644); err != nil {
			t.Fatalf("write %s: %v", fixturePath, err)
		}
		t.Logf("wrote %s (%d bytes)", fixturePath, len(data))
	}
	ch := loadChart(t, fixturePath)
	if ch.Metadata.Name != "stratus" || ch.Metadata.Version != fixtureVersion {
		t.Fatalf("%s holds chart %s %s, want stratus %s", fixturePath, ch.Metadata.Name, ch.Metadata.Version, fixtureVersion)
	}
	for _, f := range []string{"values.schema.json", "files/rbac/role.yaml", "files/webhook/manifests.yaml"} {
		found := ch.Schema != nil && f == "values.schema.json"
		for _, file := range ch.Files {
			found = found || file.Name == f
		}
		if !found {
			t.Errorf("%s lacks %s", fixturePath, f)
		}
	}
	for _, file := range ch.Files {
		if filepath.Ext(file.Name) == ".go" {
			t.Errorf("%s holds Go source %s, which .helmignore should leave out", fixturePath, file.Name)
		}
	}
	if _, err := renderChart(t, ch, installValues(t, 9443)); err != nil {
		t.Errorf("the fixture does not render with the install test's values: %v", err)
	}
}
