// Package options is the stratus manager's command line: its flags, and
// what they turn into (the guardrails' options, the webhook certificate
// rotator, the metrics and webhook servers' options), with the scheme and
// cache options the manager is built with. The binary and the tests that
// run a manager share it.
package options

import (
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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

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

// Cache returns the options of the manager's cache. Managed fields are
// dropped from every cached object: nothing reads them, and with the
// managers that write a managed resource (its author, the operator's
// metadata patches and status updates) they are a large share of it.
func Cache() cache.Options {
	return cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
}

// LeaderElectionID is the Lease, in --leader-election-namespace, that the
// replicas elect their leader with; the chart's Role grants it by name.
const LeaderElectionID = "stratus.stratus.dev"

// Manager are the manager's flags.
type Manager struct {
	MetricsAddr             string
	ProbeAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	PollInterval            time.Duration
	ReconcileTimeout        time.Duration
	MaxConcurrentReconciles int
	ClusterName             string
	ComposableKinds         string
	Serving                 Serving
	Webhook                 Webhook
	Zap                     zap.Options
}

// Webhook are the flags of the webhook server and the guardrails.
type Webhook struct {
	Port             int
	Host             string
	CertDir          string
	Configuration    string
	FailurePolicy    string
	Timeout          time.Duration
	ExemptNamespaces string
	AuditInterval    time.Duration
	CertRotation     bool
	CertSecret       string
	Service          string
}

// Bind defines the manager's flags in fs, with their defaults.
func (o *Manager) Bind(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443", "address the Prometheus metrics endpoint binds to (HTTPS unless --metrics-secure=false); 0 turns it off")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "address the health and readiness probes bind to; 0 turns them off")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease; defaults to the pod's")
	fs.DurationVar(&o.PollInterval, "poll-interval", managed.DefaultPollInterval, "how often a Ready resource is observed for drift, unless its spec.pollInterval says otherwise")
	fs.DurationVar(&o.ReconcileTimeout, "reconcile-timeout", 2*time.Minute, "longest time one reconcile may take")
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", 10, "objects of one kind reconciled at once")
	fs.StringVar(&o.ClusterName, "cluster-name", "", "names this cluster in the owner mark of every cloud resource (default: the UID of the kube-system namespace); keep it stable for the cluster's life")
	fs.StringVar(&o.ComposableKinds, compositionscontroller.FlagComposableKinds, compositionscontroller.FormatComposableKinds(compositionscontroller.DefaultComposableKinds), "comma-separated kinds a CompositeDefinition may compose, each Kind.group, or Kind for the core API; a definition that composes any other is not valid, and the operator's RBAC must grant these (the chart's compositions.composableKinds does both)")
	o.Serving.bind(fs)
	o.Webhook.bind(fs)
	o.Zap.BindFlags(fs)
}

func (o *Webhook) bind(fs *flag.FlagSet) {
	fs.IntVar(&o.Port, "webhook-port", 9443, "port the admission webhooks are served on; 0 serves none (only the audit enforces guardrails)")
	fs.StringVar(&o.Host, "webhook-host", "", "address the webhook server binds to; empty binds every address")
	fs.StringVar(&o.CertDir, "webhook-cert-dir", "", "folder holding the webhook serving certificate tls.crt and tls.key; empty uses controller-runtime's default")
	fs.StringVar(&o.Configuration, "webhook-configuration", "", "ValidatingWebhookConfiguration whose guardrail webhook rules are kept in step with the composite kinds; empty leaves it alone")
	fs.StringVar(&o.FailurePolicy, "guardrail-failure-policy", string(admission.Fail), "Fail denies, Ignore admits with a warning, a request the guardrails could not judge in time")
	fs.DurationVar(&o.Timeout, "guardrail-timeout", 3*time.Second, "longest time the guardrails may take to judge one admission request")
	fs.StringVar(&o.ExemptNamespaces, "exempt-namespaces", strings.Join(admission.DefaultExemptNamespaces, ","), "comma-separated namespaces the guardrails never judge at admission; the operator's own namespace (POD_NAMESPACE) is added")
	fs.DurationVar(&o.AuditInterval, "audit-interval", audit.DefaultInterval, "how often every resource is checked against the guardrails")
	fs.BoolVar(&o.CertRotation, "cert-rotation", false, "generate and rotate the webhook serving certificate in --cert-secret (in POD_NAMESPACE) and inject its CA into --webhook-configuration")
	fs.StringVar(&o.CertSecret, "cert-secret", "stratus-webhook-cert", "Secret holding the webhook's CA and serving certificate, with --cert-rotation")
	fs.StringVar(&o.Service, "webhook-service", "stratus-webhook", "Service in front of the webhook server, the certificate's DNS name, with --cert-rotation")
}

// Parse parses the manager's arguments; arguments that are not flags are
// an error.
func Parse(args []string) (*Manager, error) {
	var o Manager
	fs := flag.NewFlagSet("stratus", flag.ContinueOnError)
	o.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return &o, nil
}

// Compositions turns --composable-kinds into the options of
// compositions/controller.Setup.
func (o *Manager) Compositions() ([]compositionscontroller.Option, error) {
	kinds, err := compositionscontroller.ParseComposableKinds(o.ComposableKinds)
	if err != nil {
		return nil, err
	}
	return []compositionscontroller.Option{compositionscontroller.WithComposableKinds(kinds)}, nil
}

// PodNamespace is the namespace the manager runs in, from POD_NAMESPACE.
func PodNamespace() string { return os.Getenv("POD_NAMESPACE") }

// Guardrails turns the flags into the guardrails' options; podNamespace,
// if any, is exempt too.
func (o *Webhook) Guardrails(podNamespace string) (policysetup.Options, error) {
	fp := admission.FailurePolicy(o.FailurePolicy)
	if fp != admission.Fail && fp != admission.Ignore {
		return policysetup.Options{}, fmt.Errorf("--guardrail-failure-policy must be Fail or Ignore, got %q", o.FailurePolicy)
	}
	if o.Timeout <= 0 {
		return policysetup.Options{}, fmt.Errorf("--guardrail-timeout must be positive, got %s", o.Timeout)
	}
	var exempt []string
	for _, ns := range strings.Split(o.ExemptNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			exempt = append(exempt, ns)
		}
	}
	if podNamespace != "" {
		exempt = append(exempt, podNamespace)
	}
	return policysetup.Options{
		ManagedKinds:         registry.ManagedKinds(),
		ServeWebhooks:        o.Port != 0,
		ExemptNamespaces:     exempt,
		FailurePolicy:        fp,
		Timeout:              o.Timeout,
		AuditInterval:        o.AuditInterval,
		WebhookConfiguration: o.Configuration,
	}, nil
}

// AddCertRotator makes the manager generate, rotate and mount the webhook
// serving certificate with cert-controller, in the Secret --cert-secret of
// podNamespace, and returns a channel closed once the certificate is in the
// webhook server's folder.
func (o *Webhook) AddCertRotator(mgr ctrl.Manager, podNamespace string) (<-chan struct{}, error) {
	switch {
	case podNamespace == "":
		return nil, errors.New("--cert-rotation needs the POD_NAMESPACE environment variable")
	case o.Configuration == "":
		return nil, errors.New("--cert-rotation needs --webhook-configuration, to inject the CA into")
	case o.Port == 0:
		return nil, errors.New("--cert-rotation needs the webhooks: --webhook-port must not be 0")
	}
	certDir := o.CertDir
	if certDir == "" {
		certDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	ready := make(chan struct{})
	// The rotator caches only the Secret and the webhook configuration it
	// uses, so that RBAC can grant them by name.
	scoped := nameScoped(mgr,
		namedCollection{path: "/api/v1/namespaces/" + podNamespace + "/secrets", name: o.CertSecret},
		namedCollection{path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", name: o.Configuration})
	err := rotator.AddRotator(scoped, &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: podNamespace, Name: o.CertSecret},
		CertDir:        certDir,
		CAName:         "stratus-webhook-ca",
		CAOrganization: "stratus",
		DNSName:        fmt.Sprintf("%s.%s.svc", o.Service, podNamespace),
		ExtraDNSNames:  []string{fmt.Sprintf("%s.%s.svc.cluster.local", o.Service, podNamespace), fmt.Sprintf("%s.%s", o.Service, podNamespace)},
		IsReady:        ready,
		Webhooks:       []rotator.WebhookInfo{{Name: o.Configuration, Type: rotator.Validating}},
		// Every replica serves the webhooks, so every replica needs the
		// certificate; writes to the Secret are idempotent.
		RequireLeaderElection: false,
	})
	if err != nil {
		return nil, fmt.Errorf("set up webhook certificate rotation: %w", err)
	}
	return ready, nil
}
