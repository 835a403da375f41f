package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/stratus-operator/stratus/cmd/stratus/options"
	compositionscontroller "github.com/stratus-operator/stratus/compositions/controller"
	"github.com/stratus-operator/stratus/policy/guardrails"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/providers/managed"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
)

// verboseEnv, when set, also sends the manager's logs to stderr, as for
// the other test harnesses.
const verboseEnv = "STRATUS_TEST_VERBOSE"

// parseManagerArgs parses a manager container's arguments, the manager
// command (an older chart's have none) and its flags, with the binary's
// own flags, so that an argument the chart passes and the binary does not
// know fails the test.
func parseManagerArgs(args []string) (*options.Manager, error) {
	flags := args
	if len(flags) > 0 && flags[0] == "manager" {
		flags = flags[1:]
	}
	f, err := options.Parse(flags)
	if err != nil {
		return nil, fmt.Errorf("parse the manager's arguments %q: %w", args, err)
	}
	return f, nil
}

// managerRun is the manager running in-process.
type managerRun struct {
	// Guardrails is the store the webhook and the audit enforce.
	Guardrails *guardrails.Store
	// CertDir is the webhook server's certificate folder.
	CertDir string

	managerLogs
	cancel     context.CancelFunc
	done       chan error
	copierDone chan struct{}
	certsReady <-chan struct{}
	mgr        ctrl.Manager
	stopOnce   sync.Once
	stopErr    error
	secretKey  types.NamespacedName
}

// managerSetup is how the test runs the manager.
type managerSetup struct {
	// Config reaches the API server as the manager's identity.
	Config *rest.Config
	// Admin reads the certificate Secret for the emulated kubelet.
	Admin client.Client
	// Scheme has every type the manager reads or writes.
	Scheme *runtime.Scheme
	// Args are the Deployment's container arguments.
	Args []string
	// Namespace is the pod's namespace (POD_NAMESPACE).
	Namespace string
	// WebhookHost is where the webhook server listens, an address the API
	// server reaches through the webhook Service's EndpointSlice.
	WebhookHost string
	// CertDir is the webhook server's certificate folder, which must last
	// as long as the manager.
	CertDir string
}

// startManager runs the manager as cmd/stratus's runManager does, with the
// flags of the Deployment and the same options built from them (cache,
// webhook and metrics servers), but with the metrics and probe servers
// off, the webhook server on WebhookHost, faster retries, and the
// certificate folder filled from the Secret by an emulated kubelet (see
// copyCerts). It logs to a buffer, with client-go's
// own logs (klog) too, so that a test sees every error.
func startManager(s managerSetup) (*managerRun, error) {
	f, err := parseManagerArgs(s.Args)
	if err != nil {
		return nil, err
	}
	run := &managerRun{managerLogs: managerLogs{logs: &harness.SyncBuffer{}}, CertDir: s.CertDir}
	var sink io.Writer = run.logs
	if os.Getenv(verboseEnv) != "" {
		sink = io.MultiWriter(run.logs, os.Stderr)
	}
	logger := zap.New(zap.UseFlagOptions(&f.Zap), zap.WriteTo(sink))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger.WithName("klog"))

	webhookOptions := f.Serving.Webhook(&f.Webhook)
	webhookOptions.Host, webhookOptions.CertDir = s.WebhookHost, run.CertDir
	mgr, err := ctrl.NewManager(s.Config, ctrl.Options{
		Scheme:                        s.Scheme,
		Logger:                        logger,
		Cache:                         f.Webhook.Cache(),
		WebhookServer:                 webhook.NewServer(webhookOptions),
		Metrics:                       f.Serving.Metrics("0"),
		HealthProbeBindAddress:        "0",
		LeaderElection:                f.LeaderElect,
		LeaderElectionID:              options.LeaderElectionID,
		LeaderElectionNamespace:       f.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		// Shorter than the default 30s, for a failing test's sake.
		GracefulShutdownTimeout: ptr(5 * time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	run.mgr = mgr
	if err := registry.Setup(mgr, registry.DefaultDrivers(), managed.Options{
		PollInterval:            f.PollInterval,
		Timeout:                 f.ReconcileTimeout,
		MaxConcurrentReconciles: f.MaxConcurrentReconciles,
		// Faster than the defaults, for the test's patience.
		PendingPollInterval: 500 * time.Millisecond,
		BaseBackoff:         100 * time.Millisecond,
		MaxBackoff:          2 * time.Second,
	}); err != nil {
		return nil, err
	}
	if err := compositionscontroller.Setup(mgr); err != nil {
		return nil, err
	}
	opts, err := f.Webhook.Guardrails(s.Namespace)
	if err != nil {
		return nil, err
	}
	if f.Webhook.CertRotation {
		run.secretKey = types.NamespacedName{Namespace: s.Namespace, Name: f.Webhook.CertSecret}
		f.Webhook.CertDir = run.CertDir
		if opts.CertsReady, err = f.Webhook.AddCertRotator(mgr, s.Namespace); err != nil {
			return nil, err
		}
		run.certsReady = opts.CertsReady
	}
	if run.Guardrails, err = policysetup.Setup(mgr, opts); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	run.cancel, run.done, run.copierDone = cancel, make(chan error, 1), make(chan struct{})
	go func() {
		defer close(run.copierDone)
		if f.Webhook.CertRotation {
			copyCerts(ctx, s.Admin, run.secretKey, run.CertDir, run.logs)
		}
	}()
	go func() { run.done <- mgr.Start(ctx) }()
	return run, nil
}

// copyCerts emulates the kubelet's secret volume: it writes every key of
// the Secret into dir whenever the Secret changes, until ctx ends. The
// kubelet reads the Secret with its own credentials, hence the admin
// client.
func copyCerts(ctx context.Context, admin client.Reader, key types.NamespacedName, dir string, logs io.Writer) {
	written := map[string][]byte{}
	for {
		var secret corev1.Secret
		if err := admin.Get(ctx, key, &secret); err == nil {
			for name, data := range secret.Data {
				if bytes.Equal(written[name], data) {
					continue
				}
				if err := writeAtomically(filepath.Join(dir, name), data); err != nil {
					fmt.Fprintf(logs, "emulated kubelet: %v\n", err)
					continue
				}
				written[name] = data
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeAtomically replaces a file in one rename, as the kubelet swaps a
// secret volume's files, so that no reader sees half a certificate.
func writeAtomically(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// waitServing waits until the certificate is in place, the webhooks are
// served and the guardrails are loaded. The webhook server must not be
// asked for before the certificate is there: asking adds it to the
// manager, which would start it without a certificate.
func (m *managerRun) waitServing(ctx context.Context) error {
	if m.certsReady != nil {
		select {
		case <-m.certsReady:
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("the manager stopped before its certificate was ready: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("the webhook certificate is not ready: %w", ctx.Err())
		}
	}
	started := m.mgr.GetWebhookServer().StartedChecker()
	for {
		err := started(nil)
		if err == nil && !m.Guardrails.Ready() {
			err = errors.New("guardrails are loading")
		}
		if err == nil {
			return nil
		}
		select {
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("the manager stopped: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("the webhook server is not serving: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the manager, releasing its lease, and the emulated kubelet.
func (m *managerRun) Stop() error {
	m.stopOnce.Do(func() {
		m.cancel()
		m.stopErr = <-m.done
		<-m.copierDone
	})
	return m.stopErr
}

// managerLogs are what a manager logs.
type managerLogs struct {
	logs *harness.SyncBuffer
}

// Logs returns everything the manager logged so far.
func (m *managerLogs) Logs() string { return m.logs.String() }

// lines returns the lines of the manager's logs that contain any of words,
// case-insensitively.
func (m *managerLogs) lines(words ...string) []string {
	var out []string
	for line := range strings.Lines(m.Logs()) {
		lower := strings.ToLower(line)
		if slices.ContainsFunc(words, func(w string) bool { return strings.Contains(lower, strings.ToLower(w)) }) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// forbidden returns the manager's forbidden errors, or nil: any means the
// chart's RBAC lacks what the manager needs.
func (m *managerLogs) forbidden() error {
	lines := m.lines("forbidden", "cannot list resource", "cannot watch resource", "cannot get resource")
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("the manager was forbidden %d times:\n%s", len(lines), strings.Join(lines, "\n"))
}
