package helm

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	chart "github.com/stratus-operator/stratus/charts/stratus"
	"github.com/stratus-operator/stratus/cmd/stratus/options"
	"github.com/stratus-operator/stratus/policy/guardrails"
	"github.com/stratus-operator/stratus/policy/library"
)

// The names the chart gives its objects in release "stratus".
const (
	webhookService = "stratus-webhook"
	webhookSecret  = "stratus-webhook-cert"
	// guardrailWebhook is the webhook whose failure policy and timeout
	// follow the values; the Guardrail webhook keeps the generated ones.
	guardrailWebhook = "guardrails.stratus.dev"
)

// clusterScoped are the kinds the chart renders without a namespace.
var clusterScoped = []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "Guardrail"}

// guardrailAPI is the Guardrail API as `helm template --api-versions`
// names it: served once the chart's CRDs are installed.
const guardrailAPI = "policy.stratus.dev/v1alpha1/Guardrail"

// TestRender renders the chart like `helm template` with several value
// sets, decodes every object strictly into its Go type, and checks what
// the chart promises; see checkRelease for what every value set must
// satisfy.
func TestRender(t *testing.T) {
	ch := loadChart(t, chartDir)
	s, err := scheme()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		values string
		// apiVersions are served besides the built-in APIs.
		apiVersions []string
		check       func(t *testing.T, r *rendered)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, r *rendered) {
				wantKinds(t, r, map[string]int{
					"CustomResourceDefinition": 6, "ClusterRole": 3, "ClusterRoleBinding": 2, "Role": 1, "RoleBinding": 1,
					"ServiceAccount": 1, "Secret": 1, "Service": 2, "Deployment": 1, "PodDisruptionBudget": 1, "ValidatingWebhookConfiguration": 1,
					"ValidatingAdmissionPolicy": 1, "ValidatingAdmissionPolicyBinding": 1,
				})
				dep := one[*appsv1.Deployment](t, r, releaseName)
				if got := *dep.Spec.Replicas; got != 2 {
					t.Errorf("replicas = %d, want 2", got)
				}
				if got, want := dep.Spec.Template.Spec.Containers[0].Image, "stratus-operator/stratus:"+r.Release.Chart.Metadata.AppVersion; got != want {
					t.Errorf("image = %s, want %s", got, want)
				}
				if a := dep.Spec.Template.Spec.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
					t.Errorf("two replicas should be spread over nodes, affinity is %+v", a)
				}
				pdb := one[*policyv1.PodDisruptionBudget](t, r, releaseName)
				if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) || pdb.Spec.MaxUnavailable != nil {
					t.Errorf("PDB minAvailable %v maxUnavailable %v, want minAvailable 1", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
				}
				if guardrails := all[*policyv1alpha1.Guardrail](r); len(guardrails) != 0 {
					t.Errorf("rendered %d Guardrails, want none", len(guardrails))
				}
			},
		},
		{
			name:   "cert-manager",
			values: `{webhook: {certManager: {enabled: true}}}`,
			check: func(t *testing.T, r *rendered) {
				if r.find("Secret", webhookSecret) != nil {
					t.Errorf("the chart renders Secret %s, which cert-manager should own", webhookSecret)
				}
				issuer := r.find("Issuer", "stratus-selfsigned")
				if issuer == nil {
					t.Fatalf("no self-signed Issuer rendered")
				}
				if _, ok, _ := unstructured.NestedMap(issuer.Object.Object, "spec", "selfSigned"); !ok {
					t.Errorf("Issuer %s has no spec.selfSigned", issuer.Object.GetName())
				}
				cert := r.find("Certificate", "stratus-webhook")
				if cert == nil {
					t.Fatalf("no Certificate rendered")
				}
				if got, _, _ := unstructured.NestedString(cert.Object.Object, "spec", "issuerRef", "name"); got != "stratus-selfsigned" {
					t.Errorf("Certificate issuerRef.name = %q, want the rendered Issuer stratus-selfsigned", got)
				}
				if got, _, _ := unstructured.NestedString(cert.Object.Object, "spec", "duration"); got != "2160h" {
					t.Errorf("Certificate duration = %q, want 2160h", got)
				}
			},
		},
		{
			name:   "existing issuer",
			values: `{webhook: {certManager: {enabled: true, issuerRef: {kind: ClusterIssuer, name: corp-ca}}}}`,
			check: func(t *testing.T, r *rendered) {
				if n := r.kinds()["Issuer"]; n != 0 {
					t.Errorf("rendered %d Issuers, want none with an issuerRef", n)
				}
				cert := r.find("Certificate", "stratus-webhook")
				if cert == nil {
					t.Fatalf("no Certificate rendered")
				}
				ref, _, _ := unstructured.NestedStringMap(cert.Object.Object, "spec", "issuerRef")
				if want := map[string]string{"kind": "ClusterIssuer", "name": "corp-ca"}; !maps.Equal(ref, want) {
					t.Errorf("Certificate issuerRef = %v, want %v", ref, want)
				}
			},
		},
		{
			name:   "service monitor",
			values: `{metrics: {serviceMonitor: {enabled: true, labels: {release: prometheus}}}}`,
			check: func(t *testing.T, r *rendered) {
				sm := r.find("ServiceMonitor", releaseName)
				if sm == nil {
					t.Fatalf("no ServiceMonitor rendered")
				}
				if sm.Object.GetLabels()["release"] != "prometheus" {
					t.Errorf("ServiceMonitor labels %v lack release=prometheus", sm.Object.GetLabels())
				}
				metrics := one[*corev1.Service](t, r, "stratus-metrics")
				sel, _, _ := unstructured.NestedStringMap(sm.Object.Object, "spec", "selector", "matchLabels")
				if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(labels.Set(metrics.Labels)) {
					t.Errorf("ServiceMonitor selector %v does not select Service %s (labels %v)", sel, metrics.Name, metrics.Labels)
				}
				if webhook := r.find("Service", webhookService); webhook != nil && labels.SelectorFromSet(sel).Matches(labels.Set(webhook.Object.GetLabels())) {
					t.Errorf("ServiceMonitor selector %v also selects the webhook Service", sel)
				}
				ns, _, _ := unstructured.NestedStringSlice(sm.Object.Object, "spec", "namespaceSelector", "matchNames")
				if !slices.Equal(ns, []string{releaseNamespace}) {
					t.Errorf("ServiceMonitor namespaceSelector.matchNames = %v, want [%s]", ns, releaseNamespace)
				}
				endpoints, _, _ := unstructured.NestedSlice(sm.Object.Object, "spec", "endpoints")
				if len(endpoints) != 1 {
					t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(endpoints))
				}
				ep, _ := endpoints[0].(map[string]any)
				if !slices.ContainsFunc(metrics.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep["port"] }) {
					t.Errorf("ServiceMonitor endpoint port %v is not a port of Service %s", ep["port"], metrics.Name)
				}
				if ep["path"] != "/metrics" || ep["interval"] != "30s" {
					t.Errorf("ServiceMonitor endpoint = %v, want path /metrics every 30s", ep)
				}
				// HTTPS with the scraper's token; the self-signed
				// certificate has no CA to verify it with.
				if ep["scheme"] != "https" || ep["bearerTokenFile"] != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
					t.Errorf("ServiceMonitor endpoint = %v, want https with the ServiceAccount token", ep)
				}
				if tls := serviceMonitorTLS(t, r); !equality.Semantic.DeepEqual(tls, map[string]any{"insecureSkipVerify": true}) {
					t.Errorf("ServiceMonitor tlsConfig %v, want insecureSkipVerify for the self-signed certificate", tls)
				}
				if r.find("ClusterRoleBinding", "stratus-metrics-reader") != nil {
					t.Errorf("a metrics-reader binding without metrics.readerSubjects")
				}
			},
		},
		{
			name:   "no webhook",
			values: `{webhook: {enabled: false}}`,
			check: func(t *testing.T, r *rendered) {
				for _, kind := range []string{"ValidatingWebhookConfiguration", "Secret", "Certificate", "Issuer"} {
					if n := r.kinds()[kind]; n != 0 {
						t.Errorf("rendered %d %s, want none without the webhook", n, kind)
					}
				}
				if r.find("Service", webhookService) != nil {
					t.Errorf("rendered the webhook Service without the webhook")
				}
			},
		},
		{
			name:   "one replica",
			values: `{replicaCount: 1}`,
			check: func(t *testing.T, r *rendered) {
				dep := one[*appsv1.Deployment](t, r, releaseName)
				if got := *dep.Spec.Replicas; got != 1 {
					t.Errorf("replicas = %d, want 1", got)
				}
				if dep.Spec.Template.Spec.Affinity != nil {
					t.Errorf("one replica has no one to be spread from, affinity is %+v", dep.Spec.Template.Spec.Affinity)
				}
				// minAvailable 1 of 1 would block every drain.
				pdb := one[*policyv1.PodDisruptionBudget](t, r, releaseName)
				if pdb.Spec.MinAvailable != nil || pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromInt32(1) {
					t.Errorf("PDB minAvailable %v maxUnavailable %v, want maxUnavailable 1", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
				}
			},
		},
		{
			name:   "library guardrails on a fresh cluster",
			values: libraryRenderValues,
			check: func(t *testing.T, r *rendered) {
				// Helm cannot map the Guardrail kind before the CRDs exist:
				// a post-install hook creates them, never deleting one
				// first, and a pre-delete hook deletes them on uninstall.
				enforced := checkLibraryGuardrails(t, r)
				for _, g := range enforced {
					want := map[string]string{
						"helm.sh/hook": "post-install", "helm.sh/hook-delete-policy": "hook-failed",
						"meta.helm.sh/release-name": releaseName, "meta.helm.sh/release-namespace": releaseNamespace,
					}
					if !maps.Equal(g.Annotations, want) {
						t.Errorf("Guardrail %s annotations %v, want %v: a post-install hook the next upgrade adopts", g.Name, g.Annotations, want)
					}
				}
				deleters := guardrailDeleters(r)
				if len(deleters) != len(enforced) {
					t.Fatalf("%d pre-delete hooks for %d hook Guardrails", len(deleters), len(enforced))
				}
				for i, d := range deleters {
					if d.Name != enforced[i].Name || d.Annotations["helm.sh/hook-delete-policy"] != "before-hook-creation,hook-succeeded" {
						t.Errorf("pre-delete hook %s (%v) does not delete Guardrail %s and then itself", d.Name, d.Annotations, enforced[i].Name)
					}
				}
			},
		},
		{
			name:        "library guardrails on a cluster that serves them",
			values:      libraryRenderValues,
			apiVersions: []string{guardrailAPI},
			check: func(t *testing.T, r *rendered) {
				// Ordinary objects: updated in place, deleted on uninstall.
				for _, g := range checkLibraryGuardrails(t, r) {
					if len(g.Annotations) != 0 {
						t.Errorf("Guardrail %s annotations %v, want none: an ordinary object of the release", g.Name, g.Annotations)
					}
				}
				if d := guardrailDeleters(r); len(d) != 0 {
					t.Errorf("%d pre-delete hooks, want none", len(d))
				}
			},
		},
		{
			name:        "library guardrails kept on uninstall",
			values:      `{guardrails: {keepOnUninstall: true, library: [{name: buckets-not-public}, {name: required-labels, enforcementAction: warn, parameters: {labels: [owner]}}]}}`,
			apiVersions: []string{guardrailAPI},
			check: func(t *testing.T, r *rendered) {
				for _, g := range checkLibraryGuardrails(t, r) {
					if want := map[string]string{"helm.sh/resource-policy": "keep"}; !maps.Equal(g.Annotations, want) {
						t.Errorf("Guardrail %s annotations %v, want %v", g.Name, g.Annotations, want)
					}
				}
			},
		},
		{
			name:   "library guardrails kept on uninstall, on a fresh cluster",
			values: `{guardrails: {keepOnUninstall: true, library: [{name: buckets-not-public}, {name: required-labels, enforcementAction: warn, parameters: {labels: [owner]}}]}}`,
			check: func(t *testing.T, r *rendered) {
				for _, g := range checkLibraryGuardrails(t, r) {
					if g.Annotations["helm.sh/hook"] != "post-install" || g.Annotations["helm.sh/resource-policy"] != "keep" {
						t.Errorf("Guardrail %s annotations %v, want a post-install hook kept on uninstall", g.Name, g.Annotations)
					}
				}
				if d := guardrailDeleters(r); len(d) != 0 {
					t.Errorf("%d pre-delete hooks, want none: the Guardrails are kept", len(d))
				}
			},
		},
		{
			name:   "network policy",
			values: `{networkPolicy: {enabled: true}}`,
			check: func(t *testing.T, r *rendered) {
				np := one[*networkingv1.NetworkPolicy](t, r, releaseName)
				checkNetworkPolicy(t, r, np, nil, 0, true)
			},
		},
		{
			name:   "network policy with a tunnel's agents",
			values: `{networkPolicy: {enabled: true, apiServerCIDRs: [10.0.0.0/28], apiServerPeers: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: konnectivity-agent}}}]}}`,
			check: func(t *testing.T, r *rendered) {
				np := one[*networkingv1.NetworkPolicy](t, r, releaseName)
				checkNetworkPolicy(t, r, np, []string{"10.0.0.0/28"}, 1, true)
				peer := np.Spec.Ingress[0].From[1]
				if peer.NamespaceSelector == nil || peer.PodSelector == nil || peer.PodSelector.MatchLabels["k8s-app"] != "konnectivity-agent" {
					t.Errorf("webhook peer %+v, want the konnectivity agents", peer)
				}
			},
		},
		{
			name:   "network policy with the API server's addresses",
			values: `{networkPolicy: {enabled: true, apiServerCIDRs: [10.0.0.0/28, "fd00::/64"], metrics: {namespaceSelector: {matchLabels: {team: observability}}, podSelector: {matchLabels: {app: vmagent}}}}}`,
			check: func(t *testing.T, r *rendered) {
				np := one[*networkingv1.NetworkPolicy](t, r, releaseName)
				checkNetworkPolicy(t, r, np, []string{"10.0.0.0/28", "fd00::/64"}, 0, true)
				peer := np.Spec.Ingress[1].From[0]
				if peer.NamespaceSelector.MatchLabels["team"] != "observability" || peer.PodSelector.MatchLabels["app"] != "vmagent" {
					t.Errorf("scraper peer %+v, want the namespace team=observability and pods app=vmagent", peer)
				}
			},
		},
		{
			name:   "network policy without the webhook",
			values: `{networkPolicy: {enabled: true}, webhook: {enabled: false}}`,
			check: func(t *testing.T, r *rendered) {
				np := one[*networkingv1.NetworkPolicy](t, r, releaseName)
				checkNetworkPolicy(t, r, np, nil, 0, false)
			},
		},
		{
			name:   "metrics certificate from cert-manager",
			values: `{metrics: {certManager: {enabled: true}, serviceMonitor: {enabled: true}, readerSubjects: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}, {kind: Group, name: scrapers}]}}`,
			check: func(t *testing.T, r *rendered) {
				cert := r.find("Certificate", "stratus-metrics")
				if cert == nil {
					t.Fatalf("no Certificate for the metrics server")
				}
				if got, _, _ := unstructured.NestedString(cert.Object.Object, "spec", "secretName"); got != "stratus-metrics-cert" {
					t.Errorf("metrics Certificate secretName %q, want stratus-metrics-cert", got)
				}
				names, _, _ := unstructured.NestedStringSlice(cert.Object.Object, "spec", "dnsNames")
				if !slices.Contains(names, "stratus-metrics."+releaseNamespace+".svc") {
					t.Errorf("metrics Certificate dnsNames %v lack the Service's name", names)
				}
				if got, _, _ := unstructured.NestedString(cert.Object.Object, "spec", "issuerRef", "name"); got != "stratus-selfsigned" || r.find("Issuer", "stratus-selfsigned") == nil {
					t.Errorf("metrics Certificate issuer %q, want the rendered self-signed Issuer", got)
				}
				if r.find("Certificate", "stratus-webhook") != nil {
					t.Errorf("a webhook Certificate without webhook.certManager")
				}
				tls := serviceMonitorTLS(t, r)
				want := map[string]any{
					"serverName": "stratus-metrics." + releaseNamespace + ".svc",
					"ca":         map[string]any{"secret": map[string]any{"name": "stratus-metrics-cert", "key": "ca.crt"}},
				}
				if !equality.Semantic.DeepEqual(tls, want) {
					t.Errorf("ServiceMonitor tlsConfig %v, want %v: verify the certificate against its CA", tls, want)
				}
				reader := one[*rbacv1.ClusterRoleBinding](t, r, "stratus-metrics-reader")
				wantSubjects := []rbacv1.Subject{
					{Kind: "ServiceAccount", Name: "prometheus", Namespace: "monitoring"},
					{Kind: "Group", Name: "scrapers", APIGroup: "rbac.authorization.k8s.io"},
				}
				if reader.RoleRef.Name != "stratus-metrics-reader" || !equality.Semantic.DeepEqual(reader.Subjects, wantSubjects) {
					t.Errorf("metrics-reader binding %+v to %+v, want the metrics-reader ClusterRole to %+v", reader.RoleRef, reader.Subjects, wantSubjects)
				}
			},
		},
		{
			name:   "metrics certificate from a Secret",
			values: `{metrics: {certSecret: corp-metrics-tls, serviceMonitor: {enabled: true}}}`,
			check: func(t *testing.T, r *rendered) {
				if n := r.kinds()["Certificate"] + r.kinds()["Issuer"]; n != 0 {
					t.Errorf("rendered %d cert-manager objects, want none", n)
				}
				if name, _, _ := unstructured.NestedString(serviceMonitorTLS(t, r), "ca", "secret", "name"); name != "corp-metrics-tls" {
					t.Errorf("ServiceMonitor verifies with the CA of %q, want corp-metrics-tls", name)
				}
			},
		},
		{
			name:   "HTTP/2",
			values: `{manager: {enableHTTP2: true}}`,
			check: func(t *testing.T, r *rendered) {
				if got := managerArgs(t, &one[*appsv1.Deployment](t, r, releaseName).Spec.Template.Spec.Containers[0])["enable-http2"]; got != "true" {
					t.Errorf("--enable-http2=%s, want true", got)
				}
			},
		},
		{
			name:   "composition groups",
			values: `{rbac: {compositions: {groups: [platform.example.com]}}}`,
			check: func(t *testing.T, r *rendered) {
				role := one[*rbacv1.ClusterRole](t, r, "stratus-manager")
				last := role.Rules[len(role.Rules)-1]
				if !slices.Equal(last.APIGroups, []string{"platform.example.com"}) || !slices.Equal(last.Resources, []string{"*"}) {
					t.Errorf("the composition rule is %+v, want every resource of platform.example.com", last)
				}
				for _, rule := range role.Rules {
					if slices.Contains(rule.APIGroups, "*") {
						t.Errorf("rule %+v grants every API group", rule)
					}
				}
			},
		},
		{
			name:   "webhook policy",
			values: `{webhook: {failurePolicy: Ignore, timeoutSeconds: 12, exemptNamespaces: [team-x]}}`,
		},
		{
			name:   "bring your own CRDs, RBAC and ServiceAccount",
			values: `{crds: {install: false}, rbac: {create: false}, serviceAccount: {create: false, name: existing}, podDisruptionBudget: {enabled: false}}`,
			check: func(t *testing.T, r *rendered) {
				for _, kind := range []string{"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount", "PodDisruptionBudget"} {
					if n := r.kinds()[kind]; n != 0 {
						t.Errorf("rendered %d %s, want none", n, kind)
					}
				}
				if got := one[*appsv1.Deployment](t, r, releaseName).Spec.Template.Spec.ServiceAccountName; got != "existing" {
					t.Errorf("serviceAccountName = %s, want existing", got)
				}
			},
		},
		{
			name:   "CRDs not kept",
			values: `{crds: {keep: false}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := values(t, tc.values)
			rel, err := renderChart(t, ch, vals, tc.apiVersions...)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			// Hooks are objects of the release too, created after the
			// others.
			manifest := rel.Manifest
			for _, h := range rel.Hooks {
				manifest += "\n---\n# Source: " + h.Path + "\n" + h.Manifest
			}
			docs, err := decodeManifest(s, manifest)
			if err != nil {
				t.Fatal(err)
			}
			r := &rendered{Release: rel, Docs: docs}
			coalesced, err := chartutil.CoalesceValues(ch, vals)
			if err != nil {
				t.Fatal(err)
			}
			checkRelease(t, r, coalesced)
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// libraryRenderValues install two library guardrails.
const libraryRenderValues = `{guardrails: {library: [{name: buckets-not-public}, {name: required-labels, enforcementAction: warn, parameters: {labels: [owner]}}]}}`

// checkLibraryGuardrails checks the Guardrails of libraryRenderValues (but the
// pre-delete hooks that delete them, see guardrailDeleters): their action,
// kinds, parameters and the library's Rego, which compiles. It returns
// them.
func checkLibraryGuardrails(t *testing.T, r *rendered) []*policyv1alpha1.Guardrail {
	t.Helper()
	var got []*policyv1alpha1.Guardrail
	for _, g := range all[*policyv1alpha1.Guardrail](r) {
		if g.Annotations["helm.sh/hook"] != "pre-delete" {
			got = append(got, g)
		}
	}
	if len(got) != 2 {
		t.Fatalf("rendered %d Guardrails, want 2", len(got))
	}
	wantAction := map[string]policyv1alpha1.EnforcementAction{"buckets-not-public": policyv1alpha1.EnforcementDeny, "required-labels": policyv1alpha1.EnforcementWarn}
	for _, g := range got {
		if g.Spec.EnforcementAction != wantAction[g.Name] {
			t.Errorf("Guardrail %s enforcementAction = %q, want %q", g.Name, g.Spec.EnforcementAction, wantAction[g.Name])
		}
		want := []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}
		if !equality.Semantic.DeepEqual(g.Spec.Match.Kinds, want) {
			t.Errorf("Guardrail %s match.kinds = %+v, want every kind", g.Name, g.Spec.Match.Kinds)
		}
		lib, ok := library.Get(g.Name)
		if !ok {
			t.Errorf("Guardrail %s is not in policy/library", g.Name)
		} else if strings.TrimSpace(g.Spec.Rego) != strings.TrimSpace(lib.Module) {
			t.Errorf("Guardrail %s's Rego differs from policy/library's (run make manifests)", g.Name)
		}
		if _, err := guardrails.Compile(g); err != nil {
			t.Errorf("Guardrail %s does not compile: %v", g.Name, err)
		}
		params, err := guardrails.Parameters(g)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := yaml.Marshal(params); g.Name == "required-labels" && string(got) != "labels:\n- owner\n" {
			t.Errorf("required-labels parameters = %s, want labels: [owner]", got)
		}
	}
	return got
}

// guardrailDeleters returns the pre-delete hooks that delete the library
// Guardrails on uninstall.
func guardrailDeleters(r *rendered) []*policyv1alpha1.Guardrail {
	var out []*policyv1alpha1.Guardrail
	for _, g := range all[*policyv1alpha1.Guardrail](r) {
		if g.Annotations["helm.sh/hook"] == "pre-delete" {
			out = append(out, g)
		}
	}
	return out
}

// serviceMonitorTLS returns the tlsConfig of the ServiceMonitor's one
// endpoint.
func serviceMonitorTLS(t *testing.T, r *rendered) map[string]any {
	t.Helper()
	sm := r.find("ServiceMonitor", releaseName)
	if sm == nil {
		t.Fatalf("no ServiceMonitor rendered")
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(endpoints))
	}
	ep, _ := endpoints[0].(map[string]any)
	tls, _ := ep["tlsConfig"].(map[string]any)
	return tls
}

// checkNetworkPolicy checks that np selects the manager's pods and admits
// ingress only to the webhook port (if webhook: from apiServerCIDRs, then
// as many other peers as peers says, or from anywhere without either) and
// to the
// metrics port from the scraper's pods and namespaces.
func checkNetworkPolicy(t *testing.T, r *rendered, np *networkingv1.NetworkPolicy, apiServerCIDRs []string, peers int, webhook bool) {
	t.Helper()
	dep := one[*appsv1.Deployment](t, r, releaseName)
	if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || !sel.Matches(labels.Set(dep.Spec.Template.Labels)) || sel.Empty() {
		t.Errorf("NetworkPolicy podSelector %v does not select the manager's pods %v", np.Spec.PodSelector, dep.Spec.Template.Labels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || len(np.Spec.Egress) != 0 {
		t.Errorf("NetworkPolicy policyTypes %v egress %v, want ingress only", np.Spec.PolicyTypes, np.Spec.Egress)
	}
	containerPorts := map[string]bool{}
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		containerPorts[p.Name] = true
	}
	var ports []string
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) != 1 || rule.Ports[0].Port == nil || !containerPorts[rule.Ports[0].Port.StrVal] {
			t.Fatalf("NetworkPolicy rule %+v does not admit one named port of the manager (%v)", rule, containerPorts)
		}
		port := rule.Ports[0].Port.StrVal
		ports = append(ports, port)
		switch port {
		case "webhook":
			if len(rule.From) != len(apiServerCIDRs)+peers {
				t.Errorf("the webhook port admits %d peers, want %d CIDRs and %d more peers (none: every source)", len(rule.From), len(apiServerCIDRs), peers)
				continue
			}
			var cidrs []string
			for _, peer := range rule.From[:len(apiServerCIDRs)] {
				if peer.IPBlock == nil || peer.PodSelector != nil || peer.NamespaceSelector != nil || len(peer.IPBlock.Except) != 0 {
					t.Errorf("webhook peer %+v, want an ipBlock only", peer)
					continue
				}
				cidrs = append(cidrs, peer.IPBlock.CIDR)
			}
			if !slices.Equal(cidrs, apiServerCIDRs) {
				t.Errorf("the webhook port admits %v, want %v", cidrs, apiServerCIDRs)
			}
		case "metrics":
			if len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || rule.From[0].PodSelector == nil || rule.From[0].IPBlock != nil {
				t.Errorf("the metrics port admits %+v, want one peer: the scraper's pods in its namespaces", rule.From)
				continue
			}
			for _, sel := range []*metav1.LabelSelector{rule.From[0].NamespaceSelector, rule.From[0].PodSelector} {
				if s, err := metav1.LabelSelectorAsSelector(sel); err != nil || s.Empty() {
					t.Errorf("the scraper's selector %v selects everything (%v)", sel, err)
				}
			}
		}
	}
	want := []string{"metrics"}
	if webhook {
		want = []string{"webhook", "metrics"}
	}
	if !slices.Equal(ports, want) {
		t.Errorf("NetworkPolicy admits ports %v, want %v only", ports, want)
	}
}

// wantKinds checks how many objects of each kind were rendered.
func wantKinds(t *testing.T, r *rendered, want map[string]int) {
	t.Helper()
	if got := r.kinds(); !maps.Equal(got, want) {
		t.Errorf("rendered kinds %v, want %v", got, want)
	}
}

// value returns the value at path, or fails the test.
func value[T any](t *testing.T, v common.Values, path string) T {
	t.Helper()
	raw, err := v.PathValue(path)
	if err != nil {
		t.Fatalf("value %s: %v", path, err)
	}
	switch any(*new(T)).(type) {
	case int:
		// Values from YAML are float64, from --set int64.
		var n int
		switch x := raw.(type) {
		case float64:
			n = int(x)
		case int64:
			n = int(x)
		case int:
			n = x
		default:
			t.Fatalf("value %s is a %T, not a number", path, raw)
		}
		return any(n).(T)
	case []string:
		var out []string
		items, _ := raw.([]any)
		for _, item := range items {
			out = append(out, fmt.Sprint(item))
		}
		return any(out).(T)
	}
	got, ok := raw.(T)
	if !ok {
		t.Fatalf("value %s is a %T, want %T", path, raw, *new(T))
	}
	return got
}

// managerArgs parses the manager container's arguments, the manager
// command then flags: --name=value, and --name for true.
func managerArgs(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	args := map[string]string{}
	if len(c.Args) == 0 || c.Args[0] != "manager" {
		t.Errorf("the container's arguments %q do not start with the manager command", c.Args)
		return args
	}
	for _, a := range c.Args[1:] {
		name, val, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") {
			t.Errorf("argument %q is not a --flag", a)
		}
		if !ok {
			val = "true"
		}
		if _, dup := args[name]; dup {
			t.Errorf("flag --%s is given twice", name)
		}
		args[name] = val
	}
	return args
}

// checkRelease checks what every value set must satisfy: Helm's labels
// and the release's namespace on every object; the Deployment under the
// restricted Pod Security profile with a read-only root file system and
// its selectors, Services, PodDisruptionBudget, ServiceAccount and RBAC
// bindings consistent; the CRDs exactly as generated, kept on uninstall
// when crds.keep; and the webhook configuration (see checkWebhooks).
func checkRelease(t *testing.T, r *rendered, v common.Values) {
	for _, d := range r.Docs {
		l := d.Object.GetLabels()
		want := map[string]string{
			"app.kubernetes.io/managed-by": "Helm",
			"app.kubernetes.io/instance":   releaseName,
			"app.kubernetes.io/name":       "stratus",
			"helm.sh/chart":                "stratus-" + r.Release.Chart.Metadata.Version,
		}
		for k, val := range want {
			if l[k] != val {
				t.Errorf("%s: label %s = %q, want %q", d, k, l[k], val)
			}
		}
		ns := d.Object.GetNamespace()
		if slices.Contains(clusterScoped, d.Object.GetKind()) {
			if ns != "" {
				t.Errorf("%s is cluster-scoped but has namespace %s", d, ns)
			}
		} else if ns != releaseNamespace {
			t.Errorf("%s: namespace %q, want the release's %s", d, ns, releaseNamespace)
		}
	}

	dep := one[*appsv1.Deployment](t, r, releaseName)
	pod := dep.Spec.Template
	podLabels := labels.Set(pod.Labels)
	if sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector); err != nil || !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v (%v)", dep.Spec.Selector, pod.Labels, err)
	}
	for _, v := range restrictedViolations(pod.Annotations, &pod.Spec) {
		t.Errorf("the restricted Pod Security profile forbids the Deployment's pods: %s", v)
	}
	for _, c := range pod.Spec.Containers {
		if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("the pod has %d containers, want the manager only", len(pod.Spec.Containers))
	}
	manager := &pod.Spec.Containers[0]
	args := managerArgs(t, manager)
	containerPorts := map[string]int32{}
	for _, p := range manager.Ports {
		containerPorts[p.Name] = p.ContainerPort
	}
	if value[bool](t, v, "serviceAccount.create") {
		one[*corev1.ServiceAccount](t, r, pod.Spec.ServiceAccountName)
	}
	if got, want := args["leader-elect"], strconv.FormatBool(value[bool](t, v, "leaderElection.enabled")); got != want {
		t.Errorf("--leader-elect=%s, want %s", got, want)
	}
	if got := args["leader-election-namespace"]; got != releaseNamespace {
		t.Errorf("--leader-election-namespace=%s, want %s", got, releaseNamespace)
	}
	if got, want := containerPorts["metrics"], int32(value[int](t, v, "metrics.port")); got != want || args["metrics-bind-address"] != fmt.Sprintf(":%d", want) {
		t.Errorf("metrics port %d and --metrics-bind-address=%s, want %d", got, args["metrics-bind-address"], want)
	}
	// The binary knows every argument; the metrics are served over HTTPS
	// with authentication and authorization (the flag's default), and
	// HTTP/2 follows the value.
	if f, err := parseManagerArgs(manager.Args); err != nil {
		t.Error(err)
	} else if !f.Serving.MetricsSecure || f.Serving.EnableHTTP2 != value[bool](t, v, "manager.enableHTTP2") {
		t.Errorf("--metrics-secure=%t --enable-http2=%t, want true and manager.enableHTTP2", f.Serving.MetricsSecure, f.Serving.EnableHTTP2)
	}
	metricsSecret := value[string](t, v, "metrics.certSecret")
	if value[bool](t, v, "metrics.certManager.enabled") {
		metricsSecret = "stratus-metrics-cert"
	}
	if got := mountedSecret(dep, args["metrics-cert-dir"]); got != metricsSecret || (metricsSecret == "") != (args["metrics-cert-dir"] == "") {
		t.Errorf("--metrics-cert-dir=%q mounts Secret %q, want %q (none: a self-signed certificate)", args["metrics-cert-dir"], got, metricsSecret)
	}
	for _, name := range []string{"poll-interval:manager.pollInterval", "reconcile-timeout:manager.reconcileTimeout", "zap-log-level:manager.logLevel", "audit-interval:audit.interval"} {
		flag, path, _ := strings.Cut(name, ":")
		if got, want := args[flag], value[string](t, v, path); got != want {
			t.Errorf("--%s=%s, want %s from %s", flag, got, want, path)
		}
	}

	for _, svc := range all[*corev1.Service](r) {
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s selector %v does not select the manager's pods %v", svc.Name, svc.Spec.Selector, pod.Labels)
		}
		for _, p := range svc.Spec.Ports {
			if _, ok := containerPorts[p.TargetPort.StrVal]; p.TargetPort.Type != intstr.String || !ok {
				t.Errorf("Service %s port %s targets %s, not a named port of the manager (%v)", svc.Name, p.Name, p.TargetPort.String(), containerPorts)
			}
		}
	}
	for _, pdb := range all[*policyv1.PodDisruptionBudget](r) {
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
			t.Errorf("PodDisruptionBudget %s selector %v does not select the manager's pods", pdb.Name, pdb.Spec.Selector)
		}
	}
	checkRBAC(t, r, pod.Spec.ServiceAccountName, v)
	checkCRDs(t, r, v)
	if value[bool](t, v, "webhook.enabled") {
		checkWebhooks(t, r, v, dep, args, containerPorts)
	} else if args["webhook-port"] != "0" || args["cert-rotation"] != "" {
		t.Errorf("without the webhook, --webhook-port=%s (want 0) and --cert-rotation=%q (want unset)", args["webhook-port"], args["cert-rotation"])
	}
}

// checkRBAC checks the manager's RBAC: the ClusterRole starts with the
// rules controller-gen generated, but the webhook configurations, which it
// grants by name (the release's own, and only with the webhook), then the
// compositions' rules; no rule grants every verb or API group, or every
// resource but of rbac.compositions.groups; Secrets are never listed or
// watched cluster-wide; the Role grants the Lease and the certificate
// Secret by name; the manager may review tokens and access for the
// metrics, and the metrics-reader ClusterRole grants GET /metrics to
// metrics.readerSubjects; every binding binds a rendered role to the
// manager's ServiceAccount, but the metrics-reader's.
func checkRBAC(t *testing.T, r *rendered, serviceAccount string, v common.Values) {
	if !value[bool](t, v, "rbac.create") {
		return
	}
	var generated rbacv1.ClusterRole
	data, err := os.ReadFile(chartDir + "/files/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &generated); err != nil {
		t.Fatalf("parse files/rbac/role.yaml: %v", err)
	}
	role := one[*rbacv1.ClusterRole](t, r, "stratus-manager")
	var want []rbacv1.PolicyRule
	for _, rule := range generated.Rules {
		if slices.Contains(rule.APIGroups, "admissionregistration.k8s.io") {
			rule.Resources = slices.DeleteFunc(slices.Clone(rule.Resources), func(res string) bool { return res == "validatingwebhookconfigurations" })
			if len(rule.Resources) == 0 {
				continue
			}
		}
		want = append(want, rule)
	}
	webhooks := rbacv1.PolicyRule{
		APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations"},
		ResourceNames: []string{releaseName}, Verbs: []string{"get", "list", "watch", "update"},
	}
	if value[bool](t, v, "webhook.enabled") {
		want = append(want, webhooks)
	}
	// The rules after these are the compositions' (compositions.* and
	// rbac.compositions.*).
	if len(role.Rules) < len(want) || !equality.Semantic.DeepEqual(role.Rules[:len(want)], want) {
		t.Errorf("ClusterRole rules:\n%+v\nwant first the generated ones and the release's webhook configuration by name:\n%+v", role.Rules, want)
	}
	groups := value[[]string](t, v, "rbac.compositions.groups")
	for _, rule := range role.Rules {
		if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.APIGroups, "*") {
			t.Errorf("ClusterRole rule %+v grants every verb or API group", rule)
		}
		// Every resource only of the composites' own groups.
		if slices.Contains(rule.Resources, "*") && (len(groups) == 0 || !slices.Equal(rule.APIGroups, groups)) {
			t.Errorf("ClusterRole rule %+v grants every resource of groups other than rbac.compositions.groups %v", rule, groups)
		}
		if slices.Contains(rule.Resources, "validatingwebhookconfigurations") && !slices.Equal(rule.ResourceNames, []string{releaseName}) {
			t.Errorf("ClusterRole rule %+v grants webhook configurations other than the release's %s", rule, releaseName)
		}
		if slices.Contains(rule.APIGroups, "") && slices.Contains(rule.Resources, "secrets") && (slices.Contains(rule.Verbs, "list") || slices.Contains(rule.Verbs, "watch")) {
			t.Errorf("ClusterRole rule %+v lists or watches Secrets in every namespace", rule)
		}
	}

	wantRole := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{options.LeaderElectionID}, Verbs: []string{"get", "update"}},
	}
	if value[bool](t, v, "webhook.enabled") && !value[bool](t, v, "webhook.certManager.enabled") {
		wantRole = append(wantRole, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{webhookSecret}, Verbs: []string{"get", "list", "watch", "update"}})
	}
	wantRole = append(wantRole, rbacv1.PolicyRule{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}})
	if got := one[*rbacv1.Role](t, r, "stratus-manager").Rules; !equality.Semantic.DeepEqual(got, wantRole) {
		t.Errorf("Role rules:\n%+v\nwant the Lease and (with the operator's certificate rotation) the certificate Secret by name, and Events:\n%+v", got, wantRole)
	}

	metricsAuth := []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
	if got := one[*rbacv1.ClusterRole](t, r, "stratus-metrics-auth").Rules; !equality.Semantic.DeepEqual(got, metricsAuth) {
		t.Errorf("metrics-auth rules %+v, want %+v", got, metricsAuth)
	}
	reader := []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}
	if got := one[*rbacv1.ClusterRole](t, r, "stratus-metrics-reader").Rules; !equality.Semantic.DeepEqual(got, reader) {
		t.Errorf("metrics-reader rules %+v, want %+v", got, reader)
	}

	subject := rbacv1.Subject{Kind: "ServiceAccount", Name: serviceAccount, Namespace: releaseNamespace}
	wantBindings := 3
	for _, b := range all[*rbacv1.ClusterRoleBinding](r) {
		one[*rbacv1.ClusterRole](t, r, b.RoleRef.Name)
		if b.RoleRef.Name == "stratus-metrics-reader" {
			wantBindings++
			if b.RoleRef.Kind != "ClusterRole" || len(b.Subjects) == 0 || slices.Contains(b.Subjects, subject) {
				t.Errorf("ClusterRoleBinding %s binds %+v to %+v, want the metrics-reader ClusterRole to the scrapers", b.Name, b.RoleRef, b.Subjects)
			}
			continue
		}
		if b.RoleRef.Kind != "ClusterRole" || !slices.Equal(b.Subjects, []rbacv1.Subject{subject}) {
			t.Errorf("ClusterRoleBinding %s binds %+v to %+v, want the ClusterRole to %+v", b.Name, b.RoleRef, b.Subjects, subject)
		}
	}
	for _, b := range all[*rbacv1.RoleBinding](r) {
		one[*rbacv1.Role](t, r, b.RoleRef.Name)
		if b.RoleRef.Kind != "Role" || !slices.Equal(b.Subjects, []rbacv1.Subject{subject}) {
			t.Errorf("RoleBinding %s binds %+v to %+v, want the Role to %+v", b.Name, b.RoleRef, b.Subjects, subject)
		}
	}
	if n := len(all[*rbacv1.ClusterRoleBinding](r)) + len(all[*rbacv1.RoleBinding](r)); n != wantBindings {
		t.Errorf("rendered %d bindings, want %d: the manager's and metrics-auth ClusterRoleBindings, the RoleBinding and, with metrics.readerSubjects, the metrics-reader's", n, wantBindings)
	}
}

// checkCRDs checks that the chart renders every CRD controller-gen
// generated, unchanged but for Helm's labels and the keep policy.
func checkCRDs(t *testing.T, r *rendered, v common.Values) {
	got := all[*apiextensionsv1.CustomResourceDefinition](r)
	if !value[bool](t, v, "crds.install") {
		return
	}
	want, err := chart.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("rendered %d CRDs, want %d", len(got), len(want))
	}
	keep := value[bool](t, v, "crds.keep")
	for _, w := range want {
		crd := one[*apiextensionsv1.CustomResourceDefinition](t, r, w.Name)
		if !equality.Semantic.DeepEqual(crd.Spec, w.Spec) {
			t.Errorf("CRD %s's spec differs from files/crds", w.Name)
		}
		if policy, ok := crd.Annotations["helm.sh/resource-policy"]; keep && policy != "keep" || !keep && ok {
			t.Errorf("CRD %s has helm.sh/resource-policy %q (set: %t), want keep: %t", w.Name, policy, ok, keep)
		}
		for k, val := range w.Annotations {
			if crd.Annotations[k] != val {
				t.Errorf("CRD %s lost annotation %s=%s", w.Name, k, val)
			}
		}
	}
}

// checkWebhooks checks the webhook configuration: the generated webhooks,
// pointed at the webhook Service, which reaches the manager's webhook
// port; never called for the exempt namespaces and the release's; the
// guardrail webhook's failure policy and timeout from the values; and the
// serving certificate from the operator's rotation or cert-manager.
func checkWebhooks(t *testing.T, r *rendered, v common.Values, dep *appsv1.Deployment, args map[string]string, containerPorts map[string]int32) {
	generated, err := chart.WebhookConfiguration()
	if err != nil {
		t.Fatal(err)
	}
	vwc := one[*admissionregistrationv1.ValidatingWebhookConfiguration](t, r, releaseName)
	if args["webhook-configuration"] != vwc.Name {
		t.Errorf("--webhook-configuration=%s, want %s", args["webhook-configuration"], vwc.Name)
	}
	if len(vwc.Webhooks) != len(generated.Webhooks) {
		t.Fatalf("%d webhooks, want the %d generated", len(vwc.Webhooks), len(generated.Webhooks))
	}
	configured := value[[]string](t, v, "webhook.exemptNamespaces")
	exempt := append(slices.Clone(configured), releaseNamespace)
	if got := strings.Split(args["exempt-namespaces"], ","); !slices.Equal(got, configured) {
		t.Errorf("--exempt-namespaces=%v, want %v (the manager adds its own namespace)", got, configured)
	}
	if got, want := args["guardrail-failure-policy"], value[string](t, v, "webhook.failurePolicy"); got != want {
		t.Errorf("--guardrail-failure-policy=%s, want %s", got, want)
	}
	for i, w := range vwc.Webhooks {
		g := generated.Webhooks[i]
		if w.Name != g.Name {
			t.Errorf("webhook %d is %s, want %s", i, w.Name, g.Name)
		}
		want := &admissionregistrationv1.ServiceReference{Name: webhookService, Namespace: releaseNamespace, Path: g.ClientConfig.Service.Path, Port: ptr(int32(443))}
		if !equality.Semantic.DeepEqual(w.ClientConfig.Service, want) || w.ClientConfig.URL != nil || len(w.ClientConfig.CABundle) != 0 {
			t.Errorf("webhook %s clientConfig %+v, want service %+v and no URL nor CA bundle", w.Name, w.ClientConfig, want)
		}
		if !equality.Semantic.DeepEqual(defaultScope(w.Rules), defaultScope(g.Rules)) || !equality.Semantic.DeepEqual(w.SideEffects, g.SideEffects) || !slices.Equal(w.AdmissionReviewVersions, g.AdmissionReviewVersions) {
			t.Errorf("webhook %s rules, side effects or review versions differ from the generated ones", w.Name)
		}
		if w.FailurePolicy == nil || w.TimeoutSeconds == nil {
			t.Errorf("webhook %s has no failurePolicy or timeoutSeconds", w.Name)
			continue
		}
		// The guardrail webhook's follow the values; the Guardrail
		// webhook keeps its timeout (its failure policy is the chart's
		// choice).
		wantTimeout := *g.TimeoutSeconds
		if w.Name == guardrailWebhook {
			wantPolicy := admissionregistrationv1.FailurePolicyType(value[string](t, v, "webhook.failurePolicy"))
			wantTimeout = int32(value[int](t, v, "webhook.timeoutSeconds"))
			if *w.FailurePolicy != wantPolicy {
				t.Errorf("webhook %s failurePolicy %s, want %s", w.Name, *w.FailurePolicy, wantPolicy)
			}
		}
		if *w.TimeoutSeconds != wantTimeout {
			t.Errorf("webhook %s timeoutSeconds %d, want %d", w.Name, *w.TimeoutSeconds, wantTimeout)
		}
		wantSelector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: exempt,
		}}}
		if !equality.Semantic.DeepEqual(w.NamespaceSelector, wantSelector) {
			t.Errorf("webhook %s namespaceSelector %+v, want %+v", w.Name, w.NamespaceSelector, wantSelector)
		}
	}

	svc := one[*corev1.Service](t, r, webhookService)
	port := int32(value[int](t, v, "webhook.port"))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || containerPorts[svc.Spec.Ports[0].TargetPort.StrVal] != port || args["webhook-port"] != strconv.Itoa(int(port)) {
		t.Errorf("webhook Service ports %+v, --webhook-port=%s: want 443 to the manager's port %d", svc.Spec.Ports, args["webhook-port"], port)
	}

	// The serving certificate's Secret, mounted where the manager reads it.
	secretName := mountedSecret(dep, args["webhook-cert-dir"])
	if secretName != webhookSecret {
		t.Errorf("--webhook-cert-dir=%s mounts Secret %q, want %s", args["webhook-cert-dir"], secretName, webhookSecret)
	}
	env := dep.Spec.Template.Spec.Containers[0].Env
	if !slices.ContainsFunc(env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
	}) {
		t.Errorf("the manager has no POD_NAMESPACE from metadata.namespace: %+v", env)
	}
	dnsName := webhookService + "." + releaseNamespace + ".svc"
	if value[bool](t, v, "webhook.certManager.enabled") {
		if args["cert-rotation"] != "" {
			t.Errorf("with cert-manager, the manager also rotates the certificate")
		}
		cert := r.find("Certificate", "stratus-webhook")
		if cert == nil {
			t.Fatalf("no Certificate rendered")
		}
		if got := vwc.Annotations["cert-manager.io/inject-ca-from"]; got != releaseNamespace+"/"+cert.Object.GetName() {
			t.Errorf("cert-manager.io/inject-ca-from = %q, want the Certificate %s/%s", got, releaseNamespace, cert.Object.GetName())
		}
		if got, _, _ := unstructured.NestedString(cert.Object.Object, "spec", "secretName"); got != secretName {
			t.Errorf("the Certificate's secretName %q is not the mounted Secret %q", got, secretName)
		}
		names, _, _ := unstructured.NestedStringSlice(cert.Object.Object, "spec", "dnsNames")
		if !slices.Contains(names, dnsName) {
			t.Errorf("the Certificate's dnsNames %v lack %s, the name the API server checks", names, dnsName)
		}
		if kind, _, _ := unstructured.NestedString(cert.Object.Object, "spec", "issuerRef", "kind"); kind == "" {
			t.Errorf("the Certificate's issuerRef has no kind")
		}
		return
	}
	if args["cert-rotation"] != "true" || args["cert-secret"] != secretName || args["webhook-service"] != svc.Name {
		t.Errorf("--cert-rotation=%q --cert-secret=%s --webhook-service=%s, want true, %s and %s", args["cert-rotation"], args["cert-secret"], args["webhook-service"], secretName, svc.Name)
	}
	if _, ok := vwc.Annotations["cert-manager.io/inject-ca-from"]; ok {
		t.Errorf("the webhook configuration asks cert-manager for a CA without cert-manager")
	}
	secret := one[*corev1.Secret](t, r, secretName)
	if len(secret.Data)+len(secret.StringData) != 0 {
		t.Errorf("the chart writes data into Secret %s, which an upgrade would reset", secretName)
	}
}

// mountedSecret returns the Secret mounted at path in the manager's
// container, or "".
func mountedSecret(dep *appsv1.Deployment, path string) string {
	for _, vol := range dep.Spec.Template.Spec.Volumes {
		for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
			if m.Name == vol.Name && m.MountPath == path && path != "" && vol.Secret != nil {
				return vol.Secret.SecretName
			}
		}
	}
	return ""
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// defaultScope returns rules with their scope defaulted as the API server
// does.
func defaultScope(rules []admissionregistrationv1.RuleWithOperations) []admissionregistrationv1.RuleWithOperations {
	out := make([]admissionregistrationv1.RuleWithOperations, len(rules))
	for i, r := range rules {
		if r.Scope == nil {
			r.Scope = ptr(admissionregistrationv1.AllScopes)
		}
		out[i] = r
	}
	return out
}
