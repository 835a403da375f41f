package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	compositionscontroller "github.com/stratus-operator/stratus/compositions/controller"
	"github.com/stratus-operator/stratus/policy/admission"
	"github.com/stratus-operator/stratus/policy/audit"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/providers/managed"
	"github.com/stratus-operator/stratus/providers/registry"
)

// managerOptions are the manager's flags.
type managerOptions struct {
	metricsAddr             string
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	pollInterval            time.Duration
	reconcileTimeout        time.Duration
	maxConcurrentReconciles int
	webhook                 webhookOptions
	zap                     zap.Options
}

// webhookOptions are the flags of the webhook server and the guardrails.
type webhookOptions struct {
	port             int
	host             string
	certDir          string
	configuration    string
	failurePolicy    string
	timeout          time.Duration
	exemptNamespaces string
	auditInterval    time.Duration
	certRotation     bool
	certSecret       string
	webhookService   string
}

func (o *webhookOptions) bind(fs *flag.FlagSet) {
	fs.IntVar(&o.port, "webhook-port", 9443, "port the admission webhooks are served on; 0 serves none (only the audit enforces guardrails)")
	fs.StringVar(&o.host, "webhook-host", "", "address the webhook server binds to; empty binds every address")
	fs.StringVar(&o.certDir, "webhook-cert-dir", "", "folder holding the webhook serving certificate tls.crt and tls.key; empty uses controller-runtime's default")
	fs.StringVar(&o.configuration, "webhook-configuration", "", "ValidatingWebhookConfiguration whose guardrail webhook rules are kept in step with the composite kinds; empty leaves it alone")
	fs.StringVar(&o.failurePolicy, "guardrail-failure-policy", string(admission.Fail), "Fail denies, Ignore admits with a warning, a request the guardrails could not judge in time")
	fs.DurationVar(&o.timeout, "guardrail-timeout", 3*time.Second, "longest time the guardrails may take to judge one admission request")
	fs.StringVar(&o.exemptNamespaces, "exempt-namespaces", strings.Join(admission.DefaultExemptNamespaces, ","), "comma-separated namespaces the guardrails never judge at admission; the operator's own namespace (POD_NAMESPACE) is added")
	fs.DurationVar(&o.auditInterval, "audit-interval", audit.DefaultInterval, "how often every resource is checked against the guardrails")
	fs.BoolVar(&o.certRotation, "cert-rotation", false, "generate and rotate the webhook serving certificate in --cert-secret (in POD_NAMESPACE) and inject its CA into --webhook-configuration")
	fs.StringVar(&o.certSecret, "cert-secret", "stratus-webhook-cert", "Secret holding the webhook's CA and serving certificate, with --cert-rotation")
	fs.StringVar(&o.webhookService, "webhook-service", "stratus-webhook", "Service in front of the webhook server, the certificate's DNS name, with --cert-rotation")
}

// addCertRotator makes the manager generate, rotate and mount the webhook
// serving certificate with cert-controller, and returns a channel closed
// once the certificate is in the webhook server's folder.
func (o *webhookOptions) addCertRotator(mgr ctrl.Manager) (<-chan struct{}, error) {
	ns := os.Getenv("POD_NAMESPACE")
	switch {
	case ns == "":
		return nil, errors.New("--cert-rotation needs the POD_NAMESPACE environment variable")
	case o.configuration == "":
		return nil, errors.New("--cert-rotation needs --webhook-configuration, to inject the CA into")
	case o.port == 0:
		return nil, errors.New("--cert-rotation needs the webhooks: --webhook-port must not be 0")
	}
	certDir := o.certDir
	if certDir == "" {
		certDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	ready := make(chan struct{})
	err := rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: ns, Name: o.certSecret},
		CertDir:        certDir,
		CAName:         "stratus-webhook-ca",
		CAOrganization: "stratus",
		DNSName:        fmt.Sprintf("%s.%s.svc", o.webhookService, ns),
		ExtraDNSNames:  []string{fmt.Sprintf("%s.%s.svc.cluster.local", o.webhookService, ns), fmt.Sprintf("%s.%s", o.webhookService, ns)},
		IsReady:        ready,
		Webhooks:       []rotator.WebhookInfo{{Name: o.configuration, Type: rotator.Validating}},
		// Every replica serves the webhooks, so every replica needs the
		// certificate; writes to the Secret are idempotent.
		RequireLeaderElection: false,
	})
	if err != nil {
		return nil, fmt.Errorf("set up webhook certificate rotation: %w", err)
	}
	return ready, nil
}

// guardrailOptions turns the flags into the guardrails' options.
func (o *webhookOptions) guardrailOptions() (policysetup.Options, error) {
	fp := admission.FailurePolicy(o.failurePolicy)
	if fp != admission.Fail && fp != admission.Ignore {
		return policysetup.Options{}, fmt.Errorf("--guardrail-failure-policy must be Fail or Ignore, got %q", o.failurePolicy)
	}
	if o.timeout <= 0 {
		return policysetup.Options{}, fmt.Errorf("--guardrail-timeout must be positive, got %s", o.timeout)
	}
	var exempt []string
	for _, ns := range strings.Split(o.exemptNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			exempt = append(exempt, ns)
		}
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		exempt = append(exempt, ns)
	}
	return policysetup.Options{
		ManagedKinds:         registry.ManagedKinds(),
		ServeWebhooks:        o.port != 0,
		ExemptNamespaces:     exempt,
		FailurePolicy:        fp,
		Timeout:              o.timeout,
		AuditInterval:        o.auditInterval,
		WebhookConfiguration: o.configuration,
	}, nil
}

func (o *managerOptions) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address the Prometheus metrics endpoint binds to; 0 turns it off")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address the health and readiness probes bind to; 0 turns them off")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease; defaults to the pod's")
	fs.DurationVar(&o.pollInterval, "poll-interval", managed.DefaultPollInterval, "how often a Ready resource is observed for drift, unless its spec.pollInterval says otherwise")
	fs.DurationVar(&o.reconcileTimeout, "reconcile-timeout", 2*time.Minute, "longest time one reconcile may take")
	fs.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 10, "objects of one kind reconciled at once")
	o.webhook.bind(fs)
	o.zap.BindFlags(fs)
}

func runManagerCommand(args []string) error {
	fs := flag.NewFlagSet("stratus", flag.ContinueOnError)
	var opts managerOptions
	opts.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("find the cluster (set KUBECONFIG or run in a pod): %w", err)
	}
	return runManager(ctrl.SetupSignalHandler(), cfg, opts)
}

// Scheme returns the scheme of every type the manager reads or writes.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		stratusv1alpha1.AddToScheme,
		storagev1alpha1.AddToScheme,
		databasev1alpha1.AddToScheme,
		compositionsv1alpha1.AddToScheme,
		policyv1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

// runManager runs the manager until ctx ends.
func runManager(ctx context.Context, cfg *rest.Config, opts managerOptions) error {
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	guardrails, err := opts.webhook.guardrailOptions()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer: webhook.NewServer(webhook.Options{
			Host:    opts.webhook.host,
			Port:    opts.webhook.port,
			CertDir: opts.webhook.certDir,
		}),
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: opts.metricsAddr},
		HealthProbeBindAddress: opts.probeAddr,
		// STRATUS_PPROF_BIND_ADDRESS serves net/http/pprof there, for
		// profiling (test/bench); unset serves none.
		PprofBindAddress:        os.Getenv("STRATUS_PPROF_BIND_ADDRESS"),
		LeaderElection:          opts.leaderElect,
		LeaderElectionID:        "stratus.stratus.dev",
		LeaderElectionNamespace: opts.leaderElectionNamespace,
		// Releasing the lease on a clean stop lets a new replica take over
		// at once; every reconcile is safe to resume.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := registry.Setup(mgr, registry.DefaultDrivers(), managed.Options{
		PollInterval:            opts.pollInterval,
		Timeout:                 opts.reconcileTimeout,
		MaxConcurrentReconciles: opts.maxConcurrentReconciles,
	}); err != nil {
		return err
	}
	if err := compositionscontroller.Setup(mgr); err != nil {
		return err
	}
	if opts.webhook.certRotation {
		if guardrails.CertsReady, err = opts.webhook.addCertRotator(mgr); err != nil {
			return err
		}
	}
	if _, err := policysetup.Setup(mgr, guardrails); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	ctrl.Log.WithName("setup").Info("starting manager", "pollInterval", opts.pollInterval, "leaderElect", opts.leaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}
