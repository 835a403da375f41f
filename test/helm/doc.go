// Package helm proves that the Helm chart in charts/stratus works. It runs
// the Helm v4 SDK the way the helm command runs it:
//
//   - TestLint runs `helm lint --strict` on the chart with several value
//     sets. Only the INFO message recommending an icon is allowed.
//   - TestRender renders the chart like `helm template` with several value
//     sets and decodes every object strictly into its Go type (an object
//     with no Go type here, such as a ServiceMonitor or a cert-manager
//     Certificate, is checked as unstructured). It then checks what the
//     chart promises: the restricted Pod Security profile and a read-only
//     root file system, selectors and ports that agree, manager arguments
//     the binary knows, RBAC bound to the manager and narrowed to what it
//     uses (no wildcard but the composition groups, the webhook
//     configuration, certificate Secret and Lease by name, no list or
//     watch of Secrets), the metrics RBAC and ServiceMonitor (HTTPS with a
//     token), the NetworkPolicy only when enabled, CRDs exactly as
//     generated and kept on uninstall, webhooks that skip the exempt
//     namespaces and follow the values, and library Guardrails that
//     compile: ordinary objects where the Guardrail API is served, hooks
//     the next upgrade adopts where it is not, kept on uninstall if asked.
//   - TestSchema installs with wrong values and expects a refusal whose
//     message names the value.
//   - TestInstallUpgradeUninstall installs the previous chart version
//     (testdata/stratus-0.2.0.tgz) into a real API server that starts
//     without the CRDs, so that the chart owns them. It runs the manager
//     in-process as the chart's ServiceAccount, configured from the
//     installed Deployment's arguments, so that the RBAC under test is the
//     chart's. Leader election and certificate rotation are on, and the
//     API server calls the webhooks through the chart's Service, the test
//     standing in for the EndpointSlice controller and the kubelet. The
//     test creates a Bucket, a composite and Guardrails, then upgrades to
//     the working tree's chart, which must delete no Guardrail and keep
//     every object. As a rollout would, the stratus binary then replaces
//     the manager, with the upgraded Deployment's arguments, under the
//     upgraded RBAC, and must never be forbidden; its metrics must refuse
//     a scrape without a token or with a token not allowed GET /metrics
//     and serve one allowed, and its metrics and webhook servers must
//     refuse HTTP/2; the test checks the ServiceAccount's access. It
//     uninstalls, checking that every object and cloud resource survives.
//     Then it installs again with library Guardrails, which an upgrade must
//     change in place and an uninstall delete (or keep, if asked), also as
//     a first install on a cluster without the Guardrail API renders them.
//   - TestPackageFixture checks the fixture. With -update it writes the
//     fixture from the working tree's chart, as `helm package` does.
//
// The install test needs the tools that test/tools/install.sh builds (see
// test/servers.ToolsDir), the go command to build the stratus binary, and a
// non-loopback address on this machine for the webhook's EndpointSlice. It skips itself with -short. With
// STRATUS_TEST_VERBOSE set, the manager also logs to stderr.
package helm
