// Package controlplane starts a real kube-apiserver and etcd, built from
// source by test/tools/install.sh, with the Stratus CRDs installed, for the
// tests and for `stratus dev`.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	chart "github.com/stratus-operator/stratus/charts/stratus"
	"github.com/stratus-operator/stratus/test/servers"
)

// ControlPlane is a running kube-apiserver and etcd.
type ControlPlane struct {
	env *envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// KubeConfig is a kubeconfig file's content for the same user.
	KubeConfig []byte
	// Webhook is where the API server calls the webhooks, when they were
	// installed.
	Webhook *WebhookServing
}

// WebhookServing is where the manager must serve the webhooks: the API
// server calls https://Host:Port and trusts the certificate in CertDir.
type WebhookServing struct {
	Host    string
	Port    int
	CertDir string
}

// Options configure the control plane.
type Options struct {
	// Webhooks installs the operator's webhook configuration, pointing at
	// a local port the manager must serve (see ControlPlane.Webhook).
	Webhooks bool
	// SkipCRDs leaves the Stratus CRDs out, for tests that install them
	// another way, such as the Helm chart's templates, which must own them.
	SkipCRDs bool
	// EndpointRouting makes the API server call a webhook Service at one of
	// its EndpointSlice's addresses rather than at its cluster IP
	// (--enable-aggregator-routing), so that, without kube-proxy, a test can
	// serve a webhook behind a real Service by writing the EndpointSlice.
	EndpointRouting bool
}

// Start starts a control plane and installs the CRDs.
func Start() (*ControlPlane, error) { return StartWith(Options{}) }

// StartWith starts a control plane, installs the CRDs unless
// opts.SkipCRDs and, if asked, the webhook configuration.
func StartWith(opts Options) (*ControlPlane, error) {
	dir, err := servers.ToolsDir()
	if err != nil {
		return nil, err
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return nil, fmt.Errorf("%s is not built in %s: run `bash test/tools/install.sh`: %w", bin, dir, err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		ErrorIfCRDPathMissing: true,
	}
	if !opts.SkipCRDs {
		crds, err := chart.CRDs()
		if err != nil {
			return nil, err
		}
		env.CRDInstallOptions.CRDs = crds
	}
	if opts.EndpointRouting {
		env.ControlPlane.GetAPIServer().Configure().Set("enable-aggregator-routing", "true")
	}
	if opts.Webhooks {
		vwc, err := chart.WebhookConfiguration()
		if err != nil {
			return nil, err
		}
		env.WebhookInstallOptions.ValidatingWebhooks = []*admissionregistrationv1.ValidatingWebhookConfiguration{vwc}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd: %w", err)
	}
	cp := &ControlPlane{env: env, Config: cfg, KubeConfig: env.KubeConfig}
	if !opts.SkipCRDs {
		if err := installAdmissionPolicies(cfg); err != nil {
			return nil, errors.Join(err, env.Stop())
		}
	}
	if opts.Webhooks {
		w := env.WebhookInstallOptions
		cp.Webhook = &WebhookServing{Host: w.LocalServingHost, Port: w.LocalServingPort, CertDir: w.LocalServingCertDir}
	}
	return cp, nil
}

// installAdmissionPolicies installs the chart's ValidatingAdmissionPolicies
// and their bindings, as the chart does.
func installAdmissionPolicies(cfg *rest.Config) error {
	policies, bindings, err := chart.AdmissionPolicies()
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		return fmt.Errorf("client for admission policies: %w", err)
	}
	ctx := context.Background()
	for _, p := range policies {
		if err := c.Create(ctx, p); err != nil {
			return fmt.Errorf("install admission policy %s: %w", p.Name, err)
		}
	}
	for _, b := range bindings {
		if err := c.Create(ctx, b); err != nil {
			return fmt.Errorf("install admission policy binding %s: %w", b.Name, err)
		}
	}
	return nil
}

// Stop stops the control plane and removes its data.
func (c *ControlPlane) Stop() error {
	if err := c.env.Stop(); err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}
