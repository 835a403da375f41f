package helm

import (
	"strings"
	"testing"
)

// TestSchema installs the chart with wrong values, client-only (what
// `helm install --dry-run=client` and `helm template` do: the same values
// validation against values.schema.json and the same rendering as a real
// install, before anything reaches a cluster), and expects a refusal whose
// message names the wrong value.
func TestSchema(t *testing.T) {
	ch := loadChart(t, chartDir)
	for _, tc := range []struct {
		name   string
		values string
		// want are parts of the error message.
		want []string
	}{
		{name: "failure policy", values: `{webhook: {failurePolicy: Sometimes}}`, want: []string{"/webhook/failurePolicy", "'Fail', 'Ignore'"}},
		{name: "no replica", values: `{replicaCount: 0}`, want: []string{"/replicaCount", "got 0, want 1"}},
		{name: "duration in words", values: `{manager: {pollInterval: "10 minutes"}}`, want: []string{"/manager/pollInterval", "10 minutes"}},
		{name: "short digest", values: `{image: {digest: abc}}`, want: []string{"/image/digest", "abc"}},
		{name: "unknown key", values: `{replicas: 2}`, want: []string{"replicas"}},
		{name: "unknown nested key", values: `{webhook: {failurePolicyy: Ignore}}`, want: []string{"/webhook", "failurePolicyy"}},
		{name: "no such guardrail", values: `{guardrails: {library: [{name: no-such-guardrail}]}}`, want: []string{`guardrails.library: no library guardrail "no-such-guardrail"`}},
		{name: "log level", values: `{manager: {logLevel: verbose}}`, want: []string{"/manager/logLevel", "'debug', 'info', 'error'"}},
		{name: "webhook timeout", values: `{webhook: {timeoutSeconds: 31}}`, want: []string{"/webhook/timeoutSeconds", "got 31, want 30"}},
		{name: "enforcement action", values: `{guardrails: {library: [{name: buckets-not-public, enforcementAction: block}]}}`, want: []string{"/guardrails/library/0/enforcementAction"}},
		{name: "guardrail without name", values: `{guardrails: {library: [{enforcementAction: warn}]}}`, want: []string{"/guardrails/library/0", "name"}},
		{name: "exempt namespace", values: `{webhook: {exemptNamespaces: [Kube_System]}}`, want: []string{"/webhook/exemptNamespaces/0", "Kube_System"}},
		{name: "extra argument", values: `{manager: {extraArgs: ["-v=2"]}}`, want: []string{"/manager/extraArgs/0", "-v=2"}},
		{name: "pull policy", values: `{image: {pullPolicy: Sometimes}}`, want: []string{"/image/pullPolicy"}},
		{name: "service account", values: `{serviceAccount: {create: false}}`, want: []string{"serviceAccount.name is required when serviceAccount.create is false"}},
		{name: "metrics port", values: `{metrics: {port: 80}}`, want: []string{"/metrics/port", "got 80"}},
		{name: "composition group", values: `{rbac: {compositions: {groups: [""]}}}`, want: []string{"/rbac/compositions/groups/0"}},
		{name: "API server CIDR", values: `{networkPolicy: {apiServerCIDRs: [10.0.0.1]}}`, want: []string{"/networkPolicy/apiServerCIDRs/0", "10.0.0.1"}},
		{name: "metrics reader kind", values: `{metrics: {readerSubjects: [{kind: Robot, name: r2}]}}`, want: []string{"/metrics/readerSubjects/0/kind"}},
		{name: "metrics reader ServiceAccount namespace", values: `{metrics: {readerSubjects: [{kind: ServiceAccount, name: prometheus}]}}`, want: []string{"metrics.readerSubjects: a ServiceAccount needs its namespace"}},
		{name: "two metrics certificates", values: `{metrics: {certSecret: mine, certManager: {enabled: true}}}`, want: []string{"metrics.certSecret and metrics.certManager.enabled"}},
		{name: "keep guardrails", values: `{guardrails: {keepOnUninstall: "yes"}}`, want: []string{"/guardrails/keepOnUninstall"}},
		{name: "HTTP/2", values: `{manager: {enableHTTP2: 1}}`, want: []string{"/manager/enableHTTP2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(t, ch, values(t, tc.values))
			if err == nil {
				t.Fatalf("values %s were accepted", tc.values)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}
