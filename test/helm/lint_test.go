package helm

import (
	"path/filepath"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// TestLint runs `helm lint --strict` on the chart: no error and no warning
// but the recommendation of an icon, with the default values and with the
// value sets the chart documents.
func TestLint(t *testing.T) {
	dir, err := filepath.Abs(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		values string
	}{
		{name: "defaults"},
		{name: "cert-manager", values: `{webhook: {certManager: {enabled: true}}}`},
		{name: "service monitor", values: `{metrics: {serviceMonitor: {enabled: true}}}`},
		{name: "no webhook", values: `{webhook: {enabled: false}}`},
		{name: "one replica", values: `{replicaCount: 1}`},
		{name: "library guardrails", values: `{guardrails: {library: [{name: buckets-not-public}, {name: required-labels, enforcementAction: warn, parameters: {labels: [owner]}}]}}`},
		{name: "composition groups", values: `{rbac: {compositions: {groups: [platform.example.com]}}}`},
		{name: "network policy", values: `{networkPolicy: {enabled: true, apiServerCIDRs: [10.0.0.0/28]}}`},
		{name: "metrics certificate", values: `{metrics: {certManager: {enabled: true}, serviceMonitor: {enabled: true}, readerSubjects: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}]}}`},
		{name: "guardrails kept", values: `{guardrails: {keepOnUninstall: true, library: [{name: buckets-not-public}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNamespace
			lint.KubeVersion = kubeVersion(t)
			result := lint.Run([]string{dir}, values(t, tc.values))
			if result.TotalChartsLinted != 1 {
				t.Fatalf("linted %d charts, want 1: %v", result.TotalChartsLinted, result.Errors)
			}
			// Every message at or above the strict tolerance (a warning) is
			// also in result.Errors: the messages say it all.
			for _, m := range result.Messages {
				if m.Severity == support.InfoSev && m.Err.Error() == "icon is recommended" {
					continue
				}
				t.Errorf("lint: %s", m)
			}
		})
	}
}
