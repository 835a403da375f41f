package helm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	release "helm.sh/helm/v4/pkg/release/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	chart "github.com/stratus-operator/stratus/charts/stratus"
	"github.com/stratus-operator/stratus/cmd/stratus/options"
	"github.com/stratus-operator/stratus/policy/library"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/controlplane"
	"github.com/stratus-operator/stratus/test/localenv"
)

// The manager's identity: the chart's ServiceAccount, as the API server
// sees a pod that runs under it.
const serviceAccountUser = "system:serviceaccount:" + releaseNamespace + ":stratus"

var serviceAccountGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"}

// patience is how long the install test waits for the operator or the API
// server.
const patience = 60 * time.Second

// The objects the install test creates, as a platform team would.
const (
	appsNamespace   = "apps"
	bucketName      = "assets"
	bucketSecret    = "assets-bucket"
	siteNamespace   = "web"
	auditGuardrail  = "audit-public-buckets"
	denyGuardrail   = "deny-public-buckets-guarded"
	guardedNS       = "guarded"
	staticWebsite   = "../../compositions/examples/static-website"
	compositeSecret = "docs-connection"
	// libraryName is the library Guardrail the chart installs.
	libraryName = "required-labels"
	// The scrapers of the metrics: the upgrade binds scraper's
	// ServiceAccount to the metrics-reader ClusterRole, not stranger's.
	monitoringNamespace = "monitoring"
	scraper             = "scraper"
	stranger            = "stranger"
)

// installValues are the values the install test gives: the guardrail
// webhook fails open, since the API server cannot reach the webhook
// between the install and the manager's start; the composition RBAC is
// limited to the example's group; the audit runs often; the webhook
// listens on a port free on this machine.
func installValues(t testing.TB, webhookPort int) map[string]any {
	return values(t, fmt.Sprintf(`{
		webhook: {failurePolicy: Ignore, port: %d},
		rbac: {compositions: {groups: [platform.example.com]}},
		audit: {interval: 2s},
	}`, webhookPort))
}

// libraryValues are the guardrails values that install libraryName
// (warn only, so that it refuses nothing the test creates), kept on
// uninstall if keep.
func libraryValues(keep bool) map[string]any {
	g := map[string]any{"library": []any{map[string]any{"name": libraryName, "enforcementAction": "warn"}}}
	if keep {
		g["keepOnUninstall"] = true
	}
	return g
}

// upgradeValues are the values of the upgrade to the working tree's
// chart: the install's, the same library Guardrail, three replicas, the
// scraper bound to the metrics-reader ClusterRole, and the NetworkPolicy.
func upgradeValues(t testing.TB, webhookPort int) map[string]any {
	vals := installValues(t, webhookPort)
	vals["replicaCount"] = 3
	vals["guardrails"] = libraryValues(false)
	vals["metrics"] = map[string]any{"readerSubjects": []any{map[string]any{"kind": "ServiceAccount", "name": scraper, "namespace": monitoringNamespace}}}
	vals["networkPolicy"] = map[string]any{"enabled": true, "apiServerCIDRs": []any{"10.0.0.0/8"}}
	return vals
}

// giveUp, when set, says why waiting on is pointless: the install test
// sets it to the manager's forbidden errors, so that missing RBAC fails at
// once rather than after patience.
var giveUp func() error

// eventually calls check until it returns nil, or fails the test after
// patience or once giveUp says so.
func eventually(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %v", what, patience, err)
		}
		if giveUp != nil {
			if why := giveUp(); why != nil {
				t.Fatalf("%s: not true (%v), and never will be: %v", what, err, why)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// helmClient runs Helm actions against the test's API server, as the helm
// command does with a kubeconfig.
type helmClient struct {
	t          testing.TB
	kubeconfig string
	// hideGroup, if set, is an API group the capabilities leave out, as
	// if the API server did not serve it.
	hideGroup string
}

// newHelmClient writes kubeconfig to a file, as helm reads it.
func newHelmClient(t testing.TB, kubeconfig []byte) *helmClient {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return &helmClient{t: t, kubeconfig: path}
}

// config returns a fresh action configuration (fresh discovery, so that
// CRDs installed meanwhile are known) storing releases in Secrets, the
// helm command's default.
func (h *helmClient) config(t testing.TB) *action.Configuration {
	t.Helper()
	flags := genericclioptions.NewConfigFlags(false)
	ns, cache := releaseNamespace, t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &h.kubeconfig, &ns, &cache
	cfg := action.NewConfiguration(helmLogger(t))
	if err := cfg.Init(flags, releaseNamespace, "secret"); err != nil {
		t.Fatalf("helm configuration: %v", err)
	}
	caps, err := capabilities(flags)
	if err != nil {
		t.Fatal(err)
	}
	if h.hideGroup != "" {
		caps.APIVersions = slices.DeleteFunc(caps.APIVersions, func(v string) bool { return strings.HasPrefix(v, h.hideGroup+"/") })
	}
	cfg.Capabilities = caps
	return cfg
}

// capabilities discovers the API server's capabilities as Helm does, but
// for its version: test/tools/install.sh builds kube-apiserver without the
// version linker flags, so it says v0.0.0-master, which a chart's
// kubeVersion refuses; its real version is the k8s.io/kubernetes it is
// built from.
func capabilities(getter genericclioptions.RESTClientGetter) (*common.Capabilities, error) {
	dc, err := getter.ToDiscoveryClient()
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	dc.Invalidate()
	v, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("server version: %w", err)
	}
	apiVersions, err := action.GetVersionSet(dc)
	if err != nil {
		return nil, fmt.Errorf("server API versions: %w", err)
	}
	kv := common.KubeVersion{Version: v.GitVersion, Major: v.Major, Minor: v.Minor}
	if strings.HasPrefix(v.GitVersion, "v0.0.0") {
		built, err := toolsKubeVersion()
		if err != nil {
			return nil, err
		}
		kv = *built
	}
	return &common.Capabilities{APIVersions: apiVersions, KubeVersion: kv, HelmVersion: common.DefaultCapabilities.HelmVersion}, nil
}

// toolsKubeVersion is the version of k8s.io/kubernetes that
// test/tools/install.sh builds kube-apiserver from.
func toolsKubeVersion() (*common.KubeVersion, error) {
	const gomod = "../tools/kube-apiserver/go.mod"
	data, err := os.ReadFile(gomod)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", gomod, err)
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "require" && f[1] == "k8s.io/kubernetes" {
			return common.ParseKubeVersion(f[2])
		}
	}
	return nil, fmt.Errorf("%s requires no k8s.io/kubernetes", gomod)
}

// install runs `helm install stratus <chart> -n stratus-system
// --create-namespace` (no --wait: nothing runs pods here).
func (h *helmClient) install(t testing.TB, ctx context.Context, ch *chartv2.Chart, vals map[string]any, dryRun action.DryRunStrategy) (*release.Release, error) {
	t.Helper()
	install := action.NewInstall(h.config(t))
	install.ReleaseName, install.Namespace, install.CreateNamespace = releaseName, releaseNamespace, true
	install.WaitStrategy, install.Timeout = kube.HookOnlyStrategy, time.Minute
	install.DryRunStrategy = dryRun
	r, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("helm install: %w", err)
	}
	return r.(*release.Release), nil
}

// upgrade runs `helm upgrade stratus <chart> -n stratus-system` with the
// helm command's defaults (server-side apply as the release was, no
// --wait), and --force-conflicts if forceConflicts.
func (h *helmClient) upgrade(t testing.TB, ctx context.Context, ch *chartv2.Chart, vals map[string]any, forceConflicts bool) (*release.Release, error) {
	t.Helper()
	upgrade := action.NewUpgrade(h.config(t))
	upgrade.Namespace, upgrade.ForceConflicts = releaseNamespace, forceConflicts
	upgrade.WaitStrategy, upgrade.Timeout = kube.HookOnlyStrategy, time.Minute
	r, err := upgrade.RunWithContext(ctx, releaseName, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("helm upgrade: %w", err)
	}
	return r.(*release.Release), nil
}

// uninstall runs `helm uninstall stratus -n stratus-system`.
func (h *helmClient) uninstall(t testing.TB) error {
	t.Helper()
	uninstall := action.NewUninstall(h.config(t))
	uninstall.WaitStrategy, uninstall.Timeout, uninstall.DeletionPropagation = kube.HookOnlyStrategy, time.Minute, "background"
	if _, err := uninstall.Run(releaseName); err != nil {
		return fmt.Errorf("helm uninstall: %w", err)
	}
	return nil
}

// TestInstallUpgradeUninstall installs the previous chart version into a
// real API server, runs the manager as the chart's ServiceAccount, creates
// a Bucket, a composite and Guardrails, upgrades to the working tree's
// chart and uninstalls, checking at each step that the release holds what
// the operator needs and that no Stratus object or cloud resource is lost.
func TestInstallUpgradeUninstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server, S3, PostgreSQL and GCS")
	}
	begin := time.Now()
	// The binary a rollout of the upgraded Deployment runs.
	buildCtx, cancelBuild := context.WithTimeout(context.Background(), 5*time.Minute)
	binary, err := buildBinary(buildCtx, t.TempDir())
	cancelBuild()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stratus built in %s", time.Since(begin).Round(time.Millisecond))
	hostIP := serviceableAddress(t)
	webhookPort := freePort(t, hostIP)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	env, err := localenv.StartWith(ctx, localenv.Options{ControlPlane: controlplane.Options{SkipCRDs: true, EndpointRouting: true}})
	if err != nil {
		t.Fatalf("start the local environment: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop the local environment: %v", err)
		}
	})
	t.Logf("local environment started in %s", time.Since(begin).Round(time.Millisecond))
	s, err := scheme()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(env.ControlPlane.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	helm := newHelmClient(t, env.ControlPlane.KubeConfig)
	s3c := s3.New(s3.Options{
		Region:       env.S3.Region,
		BaseEndpoint: aws.String(env.S3.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(env.S3.AccessKey, env.S3.SecretKey, ""),
	})
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		start := time.Now()
		ok := t.Run(name, f)
		t.Logf("%s: %s", name, time.Since(start).Round(time.Millisecond))
		if !ok {
			t.FailNow()
		}
	}
	// check runs a step whose failure does not stop the next ones.
	check := func(name string, f func(t *testing.T)) {
		t.Helper()
		start := time.Now()
		t.Run(name, f)
		t.Logf("%s: %s", name, time.Since(start).Round(time.Millisecond))
	}

	check("library guardrails install on a fresh cluster", func(t *testing.T) {
		// What `helm install --dry-run=server` checks before it creates
		// anything: every object of the manifest must map to an API. The
		// Guardrails' CRD is in the same manifest, so the API server does
		// not know the kind yet on a fresh cluster.
		vals := values(t, `{guardrails: {library: [{name: buckets-not-public}]}}`)
		if _, err := helm.install(t, ctx, loadChart(t, chartDir), vals, action.DryRunServer); err != nil {
			t.Errorf("a fresh install with guardrails.library fails: %v", err)
		}
	})

	var installed *release.Release
	step("install the previous version", func(t *testing.T) {
		installed, err = helm.install(t, ctx, loadChart(t, fixturePath), installValues(t, webhookPort), action.DryRunNone)
		if err != nil {
			t.Fatal(err)
		}
		if installed.Info.Status != rcommon.StatusDeployed || installed.Chart.Metadata.Version != fixtureVersion {
			t.Fatalf("release %s %s, want deployed %s", installed.Info.Status, installed.Chart.Metadata.Version, fixtureVersion)
		}
		checkInstalled(t, ctx, admin, installed)
	})
	step("local provider configurations", func(t *testing.T) {
		if err := env.Install(ctx, admin); err != nil {
			t.Fatal(err)
		}
	})

	var dep appsv1.Deployment
	if err := admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: releaseName}, &dep); err != nil {
		t.Fatal(err)
	}
	step("webhook Service endpoint", func(t *testing.T) { publishWebhookEndpoint(t, ctx, admin, &dep, hostIP) })

	outer := t
	var run *managerRun
	step("manager as the ServiceAccount", func(t *testing.T) {
		cfg := rest.CopyConfig(env.ControlPlane.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: serviceAccountUser, Groups: serviceAccountGroups}
		run, err = startManager(managerSetup{
			Config: cfg, Admin: admin, Scheme: s, Args: dep.Spec.Template.Spec.Containers[0].Args,
			Namespace: releaseNamespace, WebhookHost: hostIP, CertDir: outer.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		giveUp = run.forbidden
		outer.Cleanup(func() {
			giveUp = nil
			if err := run.Stop(); err != nil {
				outer.Errorf("stop the manager: %v", err)
			}
			if outer.Failed() {
				outer.Logf("manager logs:\n%s", tail(run.Logs(), 10000))
			}
		})
		waitCtx, cancel := context.WithTimeout(ctx, patience)
		defer cancel()
		if err := run.waitServing(waitCtx); err != nil {
			t.Fatalf("%v; the manager's errors:\n%s", err, strings.Join(run.lines(`"level":"error"`, "forbidden"), "\n"))
		}
	})

	step("certificate rotation", func(t *testing.T) {
		checkCertificate(t, ctx, admin, run.CertDir)
		eventually(t, "the leader election Lease", func() error {
			var lease coordinationv1.Lease
			if err := admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: options.LeaderElectionID}, &lease); err != nil {
				return err
			}
			if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
				return errors.New("no holder")
			}
			return nil
		})
	})

	bucket := &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: bucketName},
		Spec: storagev1alpha1.BucketSpec{ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
			ProviderConfigRef:          stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.AWSProviderConfig},
			WriteConnectionSecretToRef: &stratusv1alpha1.LocalSecretReference{Name: bucketSecret},
		}},
	}
	step("Bucket", func(t *testing.T) {
		createNamespace(t, ctx, admin, appsNamespace)
		if err := admin.Create(ctx, bucket); err != nil {
			t.Fatalf("create Bucket: %v", err)
		}
		waitBucketReady(t, ctx, admin, bucket)
		if !s3BucketExists(ctx, s3c, registry.BucketName(appsNamespace, bucketName)) {
			t.Fatalf("the bucket is Ready but not in the S3 server")
		}
		if err := admin.Get(ctx, types.NamespacedName{Namespace: appsNamespace, Name: bucketSecret}, &corev1.Secret{}); err != nil {
			t.Errorf("the connection Secret: %v", err)
		}
	})

	site := &unstructured.Unstructured{}
	step("composite", func(t *testing.T) {
		def := &compositionsv1alpha1.CompositeDefinition{}
		readYAML(t, filepath.Join(staticWebsite, "definition.yaml"), def)
		readYAML(t, filepath.Join(staticWebsite, "instance.yaml"), &site.Object)
		if err := admin.Create(ctx, def); err != nil {
			t.Fatalf("create CompositeDefinition: %v", err)
		}
		createNamespace(t, ctx, admin, site.GetNamespace())
		eventually(t, "create "+site.GetKind(), func() error {
			err := admin.Create(ctx, site.DeepCopy())
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		})
		waitUnstructuredReady(t, ctx, admin, site)
		if err := admin.Get(ctx, types.NamespacedName{Namespace: site.GetNamespace(), Name: compositeSecret}, &corev1.Secret{}); err != nil {
			t.Errorf("the composite's connection Secret: %v", err)
		}
	})

	step("Guardrails", func(t *testing.T) {
		audited := libraryGuardrail(t, auditGuardrail, "buckets-not-public", policyv1alpha1.EnforcementDryRun, appsNamespace, siteNamespace)
		if err := admin.Create(ctx, audited); err != nil {
			t.Fatalf("create Guardrail: %v", err)
		}
		eventually(t, "Guardrail "+audited.Name+" Compiled and audited", func() error {
			if err := admin.Get(ctx, client.ObjectKeyFromObject(audited), audited); err != nil {
				return err
			}
			if c := meta.FindStatusCondition(audited.Status.Conditions, "Compiled"); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("Compiled is %+v", c)
			}
			if audited.Status.AuditTime == nil {
				return errors.New("no status.auditTime")
			}
			return nil
		})
		// The API server reaches both webhooks through the chart's
		// Service, trusting the rotated certificate: the Guardrail webhook
		// refuses Rego that does not compile, the guardrail webhook a
		// public Bucket in the guarded namespace.
		denyBadRego(t, ctx, admin)
		denied := libraryGuardrail(t, denyGuardrail, "buckets-not-public", policyv1alpha1.EnforcementDeny, guardedNS)
		if err := admin.Create(ctx, denied); err != nil {
			t.Fatalf("create Guardrail: %v", err)
		}
		eventually(t, "Guardrail "+denied.Name+" loaded", func() error {
			if e, ok := run.Guardrails.Get(denied.Name); !ok || e.Generation != denied.Generation {
				return errors.New("not in the store yet")
			}
			return nil
		})
		createNamespace(t, ctx, admin, guardedNS)
		public := bucket.DeepCopy()
		public.ObjectMeta = metav1.ObjectMeta{Namespace: guardedNS, Name: "public"}
		public.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed
		err := admin.Create(ctx, public)
		if err == nil || !strings.Contains(err.Error(), `admission webhook "guardrails.stratus.dev" denied the request`) {
			t.Errorf("a public Bucket in namespace %s: got %v, want the guardrail webhook's denial", guardedNS, err)
		}
	})

	// Scrapers of the metrics: one the upgrade binds to the metrics-reader
	// ClusterRole, one it does not.
	createNamespace(t, ctx, admin, monitoringNamespace)
	for _, name := range []string{scraper, stranger} {
		if err := admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: monitoringNamespace, Name: name}}); err != nil {
			t.Fatalf("create ServiceAccount %s: %v", name, err)
		}
	}

	// What must survive the upgrade, as it is now.
	before := snapshot(t, ctx, admin, site)
	deletions := watchDeletions(t, ctx, env.ControlPlane.Config, s, &policyv1alpha1.GuardrailList{})
	var upgraded *release.Release
	check("upgrade to the working tree's chart", func(t *testing.T) {
		ch := loadChart(t, chartDir)
		if ch.Metadata.Version == fixtureVersion {
			ch.Metadata.Version = "0.2.1"
		}
		vals := upgradeValues(t, webhookPort)
		upgraded, err = helm.upgrade(t, ctx, ch, vals, false)
		if err != nil {
			// What a user runs fails; carry on as they would have to, so
			// that the other checks still run.
			t.Errorf("%v", err)
			if upgraded, err = helm.upgrade(t, ctx, ch, vals, true); err != nil {
				t.Fatalf("with --force-conflicts: %v", err)
			}
		}
		if upgraded.Info.Status != rcommon.StatusDeployed || upgraded.Chart.Metadata.Version != ch.Metadata.Version {
			t.Errorf("release %s chart %s, want deployed chart %s", upgraded.Info.Status, upgraded.Chart.Metadata.Version, ch.Metadata.Version)
		}
		checkInstalled(t, ctx, admin, upgraded)
		var d appsv1.Deployment
		if err := admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: releaseName}, &d); err != nil || *d.Spec.Replicas != 3 {
			t.Errorf("Deployment replicas after the upgrade: %v (%v), want 3", d.Spec.Replicas, err)
		}
	})
	if upgraded == nil {
		t.FailNow()
	}
	check("the upgrade deletes no Guardrail and adds the library's", func(t *testing.T) {
		if deleted := deletions(); len(deleted) != 0 {
			t.Errorf("the upgrade deleted Guardrails %v", deleted)
		}
		var g policyv1alpha1.Guardrail
		if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &g); err != nil {
			t.Fatal(err)
		}
		if a := g.Annotations; a["meta.helm.sh/release-name"] != releaseName || a["helm.sh/hook"] != "" {
			t.Errorf("Guardrail %s annotations %v, want an ordinary object of the release", g.Name, a)
		}
	})
	check("the upgrade keeps every object", func(t *testing.T) {
		after := snapshot(t, ctx, admin, site)
		for key, uid := range before.uids {
			if after.uids[key] != uid {
				t.Errorf("%s was replaced or deleted by the upgrade (UID %s, now %q)", key, uid, after.uids[key])
			}
		}
		if !equalData(before.certData, after.certData) {
			t.Errorf("the upgrade changed the webhook certificate Secret's data (keys before %v, after %v)", keys(before.certData), keys(after.certData))
		}
		waitBucketReady(t, ctx, admin, bucket)
		for _, name := range []string{registry.BucketName(appsNamespace, bucketName), registry.BucketName(siteNamespace, "docs-content"), registry.BucketName(siteNamespace, "docs-logs")} {
			if !s3BucketExists(ctx, s3c, name) {
				t.Errorf("bucket %s is gone from the S3 server", name)
			}
		}
		waitUnstructuredReady(t, ctx, admin, site)
		// The CA bundle survives, or the operator injects it again.
		checkCertificate(t, ctx, admin, run.CertDir)
		// The operator keeps the composite kinds in the guardrail webhook.
		eventually(t, "the guardrail webhook judges the composite kind", func() error {
			var vwc admissionregistrationv1.ValidatingWebhookConfiguration
			if err := admin.Get(ctx, types.NamespacedName{Name: releaseName}, &vwc); err != nil {
				return err
			}
			for _, w := range vwc.Webhooks {
				if w.Name == guardrailWebhook && slices.ContainsFunc(w.Rules, func(r admissionregistrationv1.RuleWithOperations) bool {
					return slices.Contains(r.APIGroups, "platform.example.com")
				}) {
					return nil
				}
			}
			return errors.New("no rule for platform.example.com")
		})
		denyBadRego(t, ctx, admin)
		// Still Ready a poll later.
		time.Sleep(time.Second)
		waitBucketReady(t, ctx, admin, bucket)
	})

	// A rollout: the stratus binary replaces the manager, with the
	// upgraded Deployment's arguments, under the upgraded RBAC.
	giveUp = nil
	if err := run.Stop(); err != nil {
		t.Errorf("stop the manager: %v", err)
	}
	var bin *binaryRun
	step("the binary runs the upgraded Deployment", func(t *testing.T) {
		if err := admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: releaseName}, &dep); err != nil {
			t.Fatal(err)
		}
		waitCtx, cancel := context.WithTimeout(ctx, patience)
		defer cancel()
		bin, err = startBinary(waitCtx, binarySetup{
			Binary: binary, KubeConfig: env.ControlPlane.KubeConfig, Admin: admin, Args: dep.Spec.Template.Spec.Containers[0].Args,
			Namespace: releaseNamespace, WebhookHost: hostIP, Dir: outer.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		giveUp = bin.forbidden
		outer.Cleanup(func() {
			giveUp = nil
			if err := bin.Stop(); err != nil {
				outer.Errorf("stop stratus: %v", err)
			}
			if outer.Failed() {
				outer.Logf("stratus logs:\n%s", tail(bin.Logs(), 10000))
			}
		})
		checkCertificate(t, ctx, admin, bin.CertDir)
		waitBucketReady(t, ctx, admin, bucket)
		denyBadRego(t, ctx, admin)
	})
	check("metrics over HTTPS, for authorized scrapers only", func(t *testing.T) { checkMetrics(t, ctx, admin, bin.MetricsAddr) })
	check("HTTP/2 is refused", func(t *testing.T) {
		for name, addr := range map[string]string{"metrics": bin.MetricsAddr, "webhook": net.JoinHostPort(hostIP, strconv.Itoa(webhookPort))} {
			if proto, err := negotiate(addr, "h2"); err == nil {
				t.Errorf("the %s server accepted a client speaking HTTP/2 only (negotiated %q)", name, proto)
			}
			if proto, err := negotiate(addr, "h2", "http/1.1"); err != nil || proto != "http/1.1" {
				t.Errorf("the %s server negotiated %q (%v) with a client offering HTTP/2 and HTTP/1.1, want http/1.1", name, proto, err)
			}
		}
	})
	check("RBAC is what the manager needs", func(t *testing.T) { checkRBACBounds(t, ctx, admin) })
	check("the NetworkPolicy is accepted", func(t *testing.T) {
		var np networkingv1.NetworkPolicy
		if err := admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: releaseName}, &np); err != nil {
			t.Error(err)
		}
	})
	check("the manager was never forbidden", func(t *testing.T) {
		for name, logs := range map[string]*managerLogs{"the manager": &run.managerLogs, "the binary": &bin.managerLogs} {
			if err := logs.forbidden(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if len(logs.lines("successfully acquired lease")) == 0 {
				t.Errorf("%s's logs were not captured, or it never led", name)
			}
		}
	})
	giveUp = nil
	if err := bin.Stop(); err != nil {
		t.Errorf("stop stratus: %v", err)
	}
	// The EndpointSlice controller would remove the stopped pod's address.
	if err := admin.DeleteAllOf(ctx, &discoveryv1.EndpointSlice{}, client.InNamespace(releaseNamespace), client.MatchingLabels{discoveryv1.LabelServiceName: webhookService}); err != nil {
		t.Errorf("delete the webhook's EndpointSlice: %v", err)
	}

	step("uninstall keeps the CRDs and every object", func(t *testing.T) {
		if err := helm.uninstall(t); err != nil {
			t.Fatal(err)
		}
		crds, err := chart.CRDs()
		if err != nil {
			t.Fatal(err)
		}
		for _, crd := range crds {
			var got apiextensionsv1.CustomResourceDefinition
			if err := admin.Get(ctx, types.NamespacedName{Name: crd.Name}, &got); err != nil || got.DeletionTimestamp != nil {
				t.Errorf("CRD %s after the uninstall: %v (deleting: %v)", crd.Name, err, got.DeletionTimestamp)
			}
		}
		after := snapshot(t, ctx, admin, site)
		for key, uid := range before.uids {
			if strings.HasPrefix(key, "release/") {
				continue
			}
			if after.uids[key] != uid {
				t.Errorf("%s is gone after the uninstall", key)
			}
		}
		for _, name := range []string{registry.BucketName(appsNamespace, bucketName), registry.BucketName(siteNamespace, "docs-content"), registry.BucketName(siteNamespace, "docs-logs")} {
			if !s3BucketExists(ctx, s3c, name) {
				t.Errorf("bucket %s is gone from the S3 server", name)
			}
		}
		for _, obj := range []client.Object{
			&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: releaseName}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: releaseName}},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "stratus-manager"}},
			// An ordinary object of the release, not kept.
			&policyv1alpha1.Guardrail{ObjectMeta: metav1.ObjectMeta{Name: libraryName}},
		} {
			if err := admin.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
				t.Errorf("%T %s after the uninstall: %v, want not found", obj, obj.GetName(), err)
			}
		}
	})

	step("reinstall with library guardrails", func(t *testing.T) {
		// The kept CRDs are adopted again; the library Guardrails are
		// created in the same install, while no operator serves the
		// webhooks yet (a fresh Deployment's pods are not ready, and the
		// CA bundle is not injected). The Guardrail API is served, so they
		// are ordinary objects of the release.
		vals := installValues(t, webhookPort)
		vals["guardrails"] = libraryValues(false)
		rel, err := helm.install(t, ctx, loadChart(t, chartDir), vals, action.DryRunNone)
		if err != nil {
			t.Fatalf("reinstall with guardrails.library: %v", err)
		}
		if len(rel.Hooks) != 0 {
			t.Errorf("the release has %d hooks, want none: the Guardrails are ordinary objects", len(rel.Hooks))
		}
	})
	check("library guardrails are upgraded in place and deleted on uninstall", func(t *testing.T) {
		checkGuardrailUpgrade(t, ctx, admin, helm, env.ControlPlane.Config, s, webhookPort)
		if err := helm.uninstall(t); err != nil {
			t.Fatal(err)
		}
		if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &policyv1alpha1.Guardrail{}); !apierrors.IsNotFound(err) {
			t.Errorf("Guardrail %s after the uninstall: %v, want not found", libraryName, err)
		}
	})
	// A first install, on a cluster that does not serve the Guardrail API
	// yet: the Helm client is told it is not served (the templates' only
	// way to know), while the CRD is in fact there.
	fresh := &helmClient{t: t, kubeconfig: helm.kubeconfig, hideGroup: policyv1alpha1.GroupVersion.Group}
	check("on a fresh cluster, library guardrails are hooks the next upgrade adopts in place", func(t *testing.T) {
		vals := installValues(t, webhookPort)
		vals["guardrails"] = libraryValues(false)
		rel, err := fresh.install(t, ctx, loadChart(t, chartDir), vals, action.DryRunNone)
		if err != nil {
			t.Fatal(err)
		}
		var events []string
		for _, h := range rel.Hooks {
			for _, e := range h.Events {
				events = append(events, h.Kind+" "+h.Name+" "+string(e))
			}
		}
		slices.Sort(events)
		if want := []string{"Guardrail " + libraryName + " post-install", "Guardrail " + libraryName + " pre-delete"}; !slices.Equal(events, want) {
			t.Errorf("the release's hooks %v, want %v", events, want)
		}
		// The next upgrade, the API served, makes them ordinary objects.
		checkGuardrailUpgrade(t, ctx, admin, helm, env.ControlPlane.Config, s, webhookPort)
		if err := helm.uninstall(t); err != nil {
			t.Fatal(err)
		}
		if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &policyv1alpha1.Guardrail{}); !apierrors.IsNotFound(err) {
			t.Errorf("Guardrail %s after the uninstall: %v, want not found", libraryName, err)
		}
	})
	check("on a fresh cluster, an uninstall before any upgrade deletes library guardrails", func(t *testing.T) {
		vals := installValues(t, webhookPort)
		vals["guardrails"] = libraryValues(false)
		if _, err := fresh.install(t, ctx, loadChart(t, chartDir), vals, action.DryRunNone); err != nil {
			t.Fatal(err)
		}
		if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &policyv1alpha1.Guardrail{}); err != nil {
			t.Fatalf("Guardrail %s after the install: %v", libraryName, err)
		}
		if err := fresh.uninstall(t); err != nil {
			t.Fatal(err)
		}
		if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &policyv1alpha1.Guardrail{}); !apierrors.IsNotFound(err) {
			t.Errorf("Guardrail %s after the uninstall: %v, want not found", libraryName, err)
		}
	})
	check("library guardrails kept on uninstall when asked", func(t *testing.T) {
		vals := installValues(t, webhookPort)
		vals["guardrails"] = libraryValues(true)
		if _, err := helm.install(t, ctx, loadChart(t, chartDir), vals, action.DryRunNone); err != nil {
			t.Fatal(err)
		}
		if err := helm.uninstall(t); err != nil {
			t.Fatal(err)
		}
		var g policyv1alpha1.Guardrail
		if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &g); err != nil || g.DeletionTimestamp != nil {
			t.Errorf("Guardrail %s after the uninstall: %v (deleting: %v), want kept", libraryName, err, g.DeletionTimestamp)
		}
	})
	t.Logf("total: %s", time.Since(begin).Round(time.Millisecond))
}

// checkGuardrailUpgrade upgrades the installed release, changing the
// library Guardrail's enforcement action, and checks that the Guardrail
// was changed in place, an ordinary object of the release: never deleted,
// the same UID, and no hook left.
func checkGuardrailUpgrade(t *testing.T, ctx context.Context, admin client.Client, helm *helmClient, cfg *rest.Config, s *runtime.Scheme, webhookPort int) {
	t.Helper()
	var before policyv1alpha1.Guardrail
	if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &before); err != nil {
		t.Fatal(err)
	}
	deletions := watchDeletions(t, ctx, cfg, s, &policyv1alpha1.GuardrailList{})
	vals := installValues(t, webhookPort)
	vals["guardrails"] = map[string]any{"library": []any{map[string]any{"name": libraryName, "enforcementAction": "dryrun"}}}
	rel, err := helm.upgrade(t, ctx, loadChart(t, chartDir), vals, false)
	if err != nil {
		t.Fatal(err)
	}
	if deleted := deletions(); len(deleted) != 0 {
		t.Errorf("the upgrade deleted Guardrails %v", deleted)
	}
	if len(rel.Hooks) != 0 {
		t.Errorf("the upgraded release has %d hooks, want none", len(rel.Hooks))
	}
	var after policyv1alpha1.Guardrail
	if err := admin.Get(ctx, types.NamespacedName{Name: libraryName}, &after); err != nil {
		t.Fatal(err)
	}
	if after.UID != before.UID || after.Spec.EnforcementAction != policyv1alpha1.EnforcementDryRun {
		t.Errorf("Guardrail %s after the upgrade: UID %s (was %s), enforcementAction %s: want the same object, changed to dryrun", libraryName, after.UID, before.UID, after.Spec.EnforcementAction)
	}
	if _, hook := after.Annotations["helm.sh/hook"]; hook || after.Annotations["meta.helm.sh/release-name"] != releaseName {
		t.Errorf("Guardrail %s annotations %v, want an ordinary object of the release", libraryName, after.Annotations)
	}
}

// checkInstalled checks that every object of the release exists, belongs
// to it, and works as far as the API server can tell: the CRDs are
// Established, the webhook configuration calls the webhook Service.
func checkInstalled(t *testing.T, ctx context.Context, admin client.Client, rel *release.Release) {
	t.Helper()
	crds, err := chart.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range crds {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		eventually(t, "CRD "+want.Name+" Established", func() error {
			if err := admin.Get(ctx, types.NamespacedName{Name: want.Name}, crd); err != nil {
				return err
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("conditions %+v", crd.Status.Conditions)
		})
		if crd.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s has no keep policy: %v", crd.Name, crd.Annotations)
		}
		if got, want := crd.Labels["helm.sh/chart"], "stratus-"+rel.Chart.Metadata.Version; got != want {
			t.Errorf("CRD %s label helm.sh/chart = %s, want %s", crd.Name, got, want)
		}
	}
	objects := []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "stratus-manager"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "stratus-manager"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "stratus-manager"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "stratus-manager"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "stratus"}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: releaseName}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: releaseName}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: webhookService}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "stratus-metrics"}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: releaseName}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: webhookSecret}},
	}
	for _, obj := range objects {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Errorf("%T %s: %v", obj, obj.GetName(), err)
			continue
		}
		if a := obj.GetAnnotations(); a["meta.helm.sh/release-name"] != releaseName || a["meta.helm.sh/release-namespace"] != releaseNamespace {
			t.Errorf("%T %s does not belong to the release: annotations %v", obj, obj.GetName(), a)
		}
	}
	vwc := objects[5].(*admissionregistrationv1.ValidatingWebhookConfiguration)
	for _, w := range vwc.Webhooks {
		if s := w.ClientConfig.Service; s == nil || s.Name != webhookService || s.Namespace != releaseNamespace || w.ClientConfig.URL != nil {
			t.Errorf("webhook %s clientConfig %+v, want Service %s/%s", w.Name, w.ClientConfig, releaseNamespace, webhookService)
		}
	}
}

// publishWebhookEndpoint does what the EndpointSlice controller does for
// the webhook Service once the manager's pod is ready: it points the
// Service's port at the pod's webhook port, here on this machine's
// address, where the in-process manager listens.
func publishWebhookEndpoint(t *testing.T, ctx context.Context, admin client.Client, dep *appsv1.Deployment, hostIP string) {
	var svc corev1.Service
	if err := admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: webhookService}, &svc); err != nil {
		t.Fatal(err)
	}
	var ports []discoveryv1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		for _, cp := range dep.Spec.Template.Spec.Containers[0].Ports {
			if sp.TargetPort.StrVal == cp.Name || sp.TargetPort.IntVal == cp.ContainerPort {
				ports = append(ports, discoveryv1.EndpointPort{Name: &sp.Name, Port: &cp.ContainerPort, Protocol: &sp.Protocol})
			}
		}
	}
	if len(ports) != len(svc.Spec.Ports) {
		t.Fatalf("the webhook Service's ports %+v do not all target a port of the manager", svc.Spec.Ports)
	}
	family := discoveryv1.AddressTypeIPv4
	if net.ParseIP(hostIP).To4() == nil {
		family = discoveryv1.AddressTypeIPv6
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: releaseNamespace, Name: webhookService + "-test",
			Labels: map[string]string{discoveryv1.LabelServiceName: webhookService, discoveryv1.LabelManagedBy: "stratus-helm-test"},
		},
		AddressType: family,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{hostIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}}},
		Ports:       ports,
	}
	if err := admin.Create(ctx, slice); err != nil {
		t.Fatalf("create EndpointSlice: %v", err)
	}
}

// checkCertificate checks what the certificate rotation did: the Secret
// holds a CA and a serving certificate for the webhook Service's name, the
// webhook server has them, and every webhook of the configuration trusts
// the CA.
func checkCertificate(t *testing.T, ctx context.Context, admin client.Client, certDir string) {
	t.Helper()
	var secret corev1.Secret
	eventually(t, "the certificate Secret", func() error {
		if err := admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: webhookSecret}, &secret); err != nil {
			return err
		}
		for _, k := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key"} {
			if len(secret.Data[k]) == 0 {
				return fmt.Errorf("no %s in the Secret (keys %v)", k, keys(secret.Data))
			}
		}
		return nil
	})
	if err := verifyServing(secret.Data["ca.crt"], secret.Data["tls.crt"], webhookService+"."+releaseNamespace+".svc"); err != nil {
		t.Errorf("the serving certificate: %v", err)
	}
	eventually(t, "the webhook server's certificate", func() error {
		got, err := os.ReadFile(filepath.Join(certDir, "tls.crt"))
		if err != nil {
			return err
		}
		if string(got) != string(secret.Data["tls.crt"]) {
			return errors.New("not the Secret's")
		}
		return nil
	})
	eventually(t, "the CA bundle in every webhook", func() error {
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := admin.Get(ctx, types.NamespacedName{Name: releaseName}, &vwc); err != nil {
			return err
		}
		for _, w := range vwc.Webhooks {
			if string(w.ClientConfig.CABundle) != string(secret.Data["ca.crt"]) {
				return fmt.Errorf("webhook %s has CA bundle %q", w.Name, base64.StdEncoding.EncodeToString(w.ClientConfig.CABundle))
			}
		}
		return nil
	})
}

// checkRBACBounds asks the API server what the manager's ServiceAccount
// may do: what it needs, and none of what would let a compromised manager
// take the cluster, nor more than it uses of the webhook configurations,
// Secrets and Leases.
func checkRBACBounds(t *testing.T, ctx context.Context, admin client.Client) {
	type access struct{ verb, group, resource, namespace, name string }
	for _, a := range []access{
		{"get", "", "secrets", releaseNamespace, ""},
		{"update", "", "secrets", releaseNamespace, ""},
		{"watch", "", "secrets", releaseNamespace, webhookSecret},
		{"list", "", "secrets", releaseNamespace, webhookSecret},
		{"create", "coordination.k8s.io", "leases", releaseNamespace, ""},
		{"update", "coordination.k8s.io", "leases", releaseNamespace, options.LeaderElectionID},
		{"get", "", "secrets", appsNamespace, ""},
		{"create", "", "secrets", appsNamespace, ""},
		{"create", "events.k8s.io", "events", appsNamespace, ""},
		{"update", "storage.stratus.dev", "buckets/status", appsNamespace, ""},
		{"watch", "platform.example.com", "staticwebsites", "", ""},
		{"update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", releaseName},
		{"watch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", releaseName},
		{"create", "authentication.k8s.io", "tokenreviews", "", ""},
		{"create", "authorization.k8s.io", "subjectaccessreviews", "", ""},
	} {
		if !canI(t, ctx, admin, a.verb, a.group, a.resource, a.namespace, a.name) {
			t.Errorf("the ServiceAccount cannot %s %s.%s %q in %q, which the manager needs", a.verb, a.resource, a.group, a.name, a.namespace)
		}
	}
	for _, a := range []access{
		{"list", "", "secrets", "", ""},
		{"watch", "", "secrets", "", ""},
		{"list", "", "secrets", "kube-system", ""},
		{"watch", "", "secrets", "kube-system", ""},
		{"list", "", "secrets", releaseNamespace, ""},
		{"watch", "", "secrets", releaseNamespace, ""},
		{"watch", "", "secrets", releaseNamespace, "another"},
		{"update", "coordination.k8s.io", "leases", releaseNamespace, "another"},
		{"delete", "coordination.k8s.io", "leases", releaseNamespace, options.LeaderElectionID},
		{"create", "", "pods", releaseNamespace, ""},
		{"create", "", "pods", "kube-system", ""},
		{"create", "", "pods/exec", releaseNamespace, ""},
		{"create", "", "serviceaccounts/token", "kube-system", ""},
		{"delete", "", "namespaces", "", ""},
		{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "", ""},
		{"create", "rbac.authorization.k8s.io", "rolebindings", "kube-system", ""},
		{"update", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		{"bind", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		{"escalate", "rbac.authorization.k8s.io", "roles", releaseNamespace, ""},
		{"bind", "rbac.authorization.k8s.io", "roles", releaseNamespace, ""},
		{"impersonate", "", "users", "", ""},
		{"impersonate", "", "serviceaccounts", releaseNamespace, ""},
		{"create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", ""},
		{"delete", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", releaseName},
		{"update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "another"},
		{"list", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", ""},
		{"update", "", "nodes", "", ""},
		{"create", "apps", "deployments", releaseNamespace, ""},
		{"update", "policy.stratus.dev", "guardrails", "", ""},
	} {
		if canI(t, ctx, admin, a.verb, a.group, a.resource, a.namespace, a.name) {
			t.Errorf("the ServiceAccount can %s %s.%s %q in %q", a.verb, a.resource, a.group, a.name, a.namespace)
		}
	}
}

// canI asks, as the administrator, whether the manager's ServiceAccount
// may do verb on resource (on the object called name, if any: the API
// server authorizes a list or watch with a metadata.name field selector
// as a request for that name).
func canI(t *testing.T, ctx context.Context, admin client.Client, verb, group, resource, namespace, name string) bool {
	t.Helper()
	res, sub, _ := strings.Cut(resource, "/")
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: serviceAccountUser, Groups: serviceAccountGroups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Group: group, Resource: res, Subresource: sub, Name: name},
	}}
	if err := admin.Create(ctx, sar); err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return sar.Status.Allowed
}

// checkMetrics scrapes the manager's metrics at addr over HTTPS: refused
// without a token (401), with a token the API server does not know, and
// with the token of a ServiceAccount not bound to the metrics-reader
// ClusterRole (403); served, over HTTP/1.1, with the token of one bound to
// it.
func checkMetrics(t *testing.T, ctx context.Context, admin client.Client, addr string) {
	t.Helper()
	// The certificate is self-signed, generated at start: there is no CA
	// to verify it with, as for the chart's ServiceMonitor.
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}}
	scrape := func(token string) (int, string, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
		if err != nil {
			return 0, "", "", err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, "", "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Proto, string(body), err
	}
	if code, _, _, err := scrape(""); err != nil || code != http.StatusUnauthorized {
		t.Errorf("a scrape without a token: %d (%v), want 401", code, err)
	}
	// controller-runtime's filter answers 500 Authentication failed when
	// the TokenReview says the token is invalid.
	if code, _, body, err := scrape("not-a-token"); err != nil || code != http.StatusUnauthorized && code != http.StatusInternalServerError || strings.Contains(body, "stratus_") {
		t.Errorf("a scrape with a token the API server does not know: %d (%v), want 401 or 500, without metrics", code, err)
	}
	if code, _, _, err := scrape(serviceAccountToken(t, ctx, admin, monitoringNamespace, stranger)); err != nil || code != http.StatusForbidden {
		t.Errorf("a scrape by a ServiceAccount not bound to metrics-reader: %d (%v), want 403", code, err)
	}
	token := serviceAccountToken(t, ctx, admin, monitoringNamespace, scraper)
	var code int
	var proto, body string
	eventually(t, "an authorized scrape", func() error {
		var err error
		code, proto, body, err = scrape(token)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d: %s", code, tail(body, 200))
		}
		return err
	})
	if proto != "HTTP/1.1" {
		t.Errorf("the scrape was served over %s, want HTTP/1.1", proto)
	}
	if !strings.Contains(body, "stratus_managed_resources") {
		t.Errorf("the metrics lack stratus_managed_resources:\n%s", tail(body, 2000))
	}
}

// serviceAccountToken returns a token of a ServiceAccount, as the kubelet
// mounts it in a pod.
func serviceAccountToken(t *testing.T, ctx context.Context, admin client.Client, namespace, name string) string {
	t.Helper()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := admin.SubResource("token").Create(ctx, sa, req); err != nil {
		t.Fatalf("request a token of ServiceAccount %s/%s: %v", namespace, name, err)
	}
	return req.Status.Token
}

// negotiate opens a TLS connection to addr offering protocols (ALPN) and
// returns the one the server chose.
func negotiate(addr string, protocols ...string) (string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: protocols})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().NegotiatedProtocol, nil
}

// watchDeletions watches list's kind from now on, and returns a function
// that stops watching and returns the names of the objects deleted
// meanwhile.
func watchDeletions(t *testing.T, ctx context.Context, cfg *rest.Config, s *runtime.Scheme, list client.ObjectList) func() []string {
	t.Helper()
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, list)
	if err != nil {
		t.Fatalf("watch %T: %v", list, err)
	}
	var deleted []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(client.Object); ok && ev.Type == watch.Deleted {
				deleted = append(deleted, obj.GetName())
			}
		}
	}()
	return func() []string {
		// Events of the last writes may still be on their way.
		time.Sleep(500 * time.Millisecond)
		w.Stop()
		<-done
		return deleted
	}
}

// state is what must survive an upgrade or an uninstall.
type state struct {
	// uids of the objects by kind/namespace/name; the release's own
	// objects under release/.
	uids     map[string]types.UID
	certData map[string][]byte
}

// snapshot records the state of the objects the test created and of the
// release's.
func snapshot(t *testing.T, ctx context.Context, admin client.Client, site *unstructured.Unstructured) state {
	t.Helper()
	st := state{uids: map[string]types.UID{}}
	crds, err := chart.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	objects := []client.Object{
		&storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: bucketName}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: bucketSecret}},
		&storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: siteNamespace, Name: "docs-content"}},
		&storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: siteNamespace, Name: "docs-logs"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: siteNamespace, Name: compositeSecret}},
		&compositionsv1alpha1.CompositeDefinition{ObjectMeta: metav1.ObjectMeta{Name: "staticwebsites.platform.example.com"}},
		&policyv1alpha1.Guardrail{ObjectMeta: metav1.ObjectMeta{Name: auditGuardrail}},
		&policyv1alpha1.Guardrail{ObjectMeta: metav1.ObjectMeta{Name: denyGuardrail}},
		&stratusv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: localenv.AWSProviderConfig}},
	}
	for _, crd := range crds {
		objects = append(objects, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: crd.Name}})
	}
	composite := site.DeepCopy()
	objects = append(objects, composite)
	for _, obj := range objects {
		err := admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatalf("get %T %s: %v", obj, obj.GetName(), err)
		}
		st.uids[objectKey(admin, obj)] = obj.GetUID()
	}
	var secret corev1.Secret
	err = admin.Get(ctx, types.NamespacedName{Namespace: releaseNamespace, Name: webhookSecret}, &secret)
	if err == nil {
		st.uids["release/"+objectKey(admin, &secret)] = secret.UID
		st.certData = secret.Data
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return st
}

// objectKey names an object for failures.
func objectKey(c client.Client, obj client.Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		if gvk, err := c.GroupVersionKindFor(obj); err == nil {
			kind = gvk.Kind
		}
	}
	return strings.Trim(kind+"/"+obj.GetNamespace()+"/"+obj.GetName(), "/")
}

// libraryGuardrail returns a Guardrail running a library module on the
// namespaces called namespaces, selected by label so that the manager reads
// Namespaces (and its RBAC for them is exercised).
func libraryGuardrail(t *testing.T, name, module string, action policyv1alpha1.EnforcementAction, namespaces ...string) *policyv1alpha1.Guardrail {
	t.Helper()
	e, ok := library.Get(module)
	if !ok {
		t.Fatalf("no library guardrail %s", module)
	}
	return &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego:              e.Module,
			EnforcementAction: action,
			Match: policyv1alpha1.Match{
				Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}},
				NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: namespaces,
				}}},
			},
		},
	}
}

// denyBadRego checks that the API server calls the Guardrail webhook,
// which refuses Rego that does not compile.
func denyBadRego(t *testing.T, ctx context.Context, admin client.Client) {
	t.Helper()
	bad := &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: "does-not-compile"},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego:  "package stratus.bad\n\nviolation contains {\"msg\": msg} if {\n",
			Match: policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}},
		},
	}
	err := admin.Create(ctx, bad, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), `admission webhook "guardrail-rego.stratus.dev" denied the request`) {
		t.Errorf("a Guardrail that does not compile: got %v, want the Guardrail webhook's denial", err)
	}
}

// waitBucketReady waits until b is Ready and Synced.
func waitBucketReady(t *testing.T, ctx context.Context, admin client.Client, b *storagev1alpha1.Bucket) {
	t.Helper()
	eventually(t, "Bucket "+b.Namespace+"/"+b.Name+" Ready", func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
			return err
		}
		for _, typ := range []string{stratusv1alpha1.ConditionReady, stratusv1alpha1.ConditionSynced} {
			if c := meta.FindStatusCondition(b.Status.Conditions, typ); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s is %+v", typ, c)
			}
		}
		return nil
	})
}

// waitUnstructuredReady waits until an object's Ready condition is True.
func waitUnstructuredReady(t *testing.T, ctx context.Context, admin client.Client, u *unstructured.Unstructured) {
	t.Helper()
	eventually(t, u.GetKind()+" "+u.GetName()+" Ready", func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Ready" {
				if m["status"] == "True" {
					return nil
				}
				return fmt.Errorf("Ready is %v: %v", m["status"], m["message"])
			}
		}
		return fmt.Errorf("no Ready condition; status %v", u.Object["status"])
	})
}

// createNamespace creates a namespace, or leaves it if it exists.
func createNamespace(t *testing.T, ctx context.Context, admin client.Client, name string) {
	t.Helper()
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// s3BucketExists reports whether a bucket exists in the S3 server.
func s3BucketExists(ctx context.Context, c *s3.Client, name string) bool {
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

// readYAML parses a YAML file into out.
func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, out); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

// serviceableAddress returns an address of this machine that an
// EndpointSlice accepts (not loopback nor link-local), for the webhook
// server; the API server reaches it without kube-proxy.
func serviceableAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("list this machine's addresses: %v", err)
	}
	var v6 string
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.IsLoopback() || ipnet.IP.IsLinkLocalUnicast() || ipnet.IP.IsMulticast() || ipnet.IP.IsUnspecified() {
			continue
		}
		if ipnet.IP.To4() != nil {
			return ipnet.IP.String()
		}
		if v6 == "" {
			v6 = ipnet.IP.String()
		}
	}
	if v6 != "" {
		return v6
	}
	t.Fatalf("this machine has no address but loopback and link-local ones, which an EndpointSlice refuses: the API server could not reach the webhook through its Service")
	return ""
}

// freePort returns a TCP port free on host.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail returns the end of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// keys returns the sorted keys of m.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// equalData reports whether two Secrets' data are the same.
func equalData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if string(b[k]) != string(v) {
			return false
		}
	}
	return true
}

// verifyServing checks that certPEM is signed by caPEM and serves dnsName.
func verifyServing(caPEM, certPEM []byte, dnsName string) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return errors.New("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("tls.crt holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("parse tls.crt: %w", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("verify tls.crt for %s: %w", dnsName, err)
	}
	return nil
}
