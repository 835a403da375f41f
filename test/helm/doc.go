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
//     root file system, selectors and ports that agree, RBAC bound to the
//     manager, CRDs exactly as generated and kept on uninstall, webhooks
//     that skip the exempt namespaces and follow the values, and library
//     Guardrails that compile.
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
//     test creates a Bucket, a composite and Guardrails, then checks the
//     ServiceAccount's access. It upgrades to the working tree's chart and
//     uninstalls, checking that every object and cloud resource survives.
//     Then it installs again with library Guardrails.
//   - TestPackageFixture checks the fixture. With -update it writes the
//     fixture from the working tree's chart, as `helm package` does.
//
// The install test needs the tools that test/tools/install.sh builds (see
// test/servers.ToolsDir) and a non-loopback address on this machine for the
// webhook's EndpointSlice. It skips itself with -short. With
// STRATUS_TEST_VERBOSE set, the manager also logs to stderr.
package helm
