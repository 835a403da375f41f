// Package harness runs the operator for tests: the local environment (a
// real API server, S3 server and PostgreSQL), the manager in-process with
// short intervals, and helpers that wait for what the operator does. Its
// manager's logs are kept, so tests can prove no credential is logged.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/stratus-operator/stratus/cmd/stratus/options"
	compositionscontroller "github.com/stratus-operator/stratus/compositions/controller"
	"github.com/stratus-operator/stratus/policy/admission"
	"github.com/stratus-operator/stratus/policy/guardrails"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/providers/managed"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/controlplane"
	"github.com/stratus-operator/stratus/test/localenv"
)

// Intervals of the manager under test: short, so that drift, blocked
// deletions and retries happen within a test's patience.
const (
	PollInterval = 2 * time.Second
	// AuditInterval is how often the guardrail audit runs.
	AuditInterval = 5 * time.Second
	// Patience is how long a test waits for the operator.
	Patience = 90 * time.Second
)

// verboseEnv, when set, also sends the manager's logs to stderr.
const verboseEnv = "STRATUS_TEST_VERBOSE"

// Harness is a running local environment with the manager.
type Harness struct {
	Env    *localenv.Env
	Client client.Client
	Scheme *runtime.Scheme
	// Guardrails is the store the webhook and the audit enforce.
	Guardrails *guardrails.Store

	logs   *SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

// Scheme returns a scheme with every Stratus type: the manager's.
func Scheme() (*runtime.Scheme, error) { return options.Scheme() }

// Start starts the local environment, installs its provider configurations,
// and runs the manager with drivers.
func Start(ctx context.Context, drivers registry.Drivers) (*Harness, error) {
	h := &Harness{logs: &SyncBuffer{}}
	var sink io.Writer = h.logs
	if os.Getenv(verboseEnv) != "" {
		sink = io.MultiWriter(h.logs, os.Stderr)
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(sink), zap.UseDevMode(true), zap.Level(zapcore.DebugLevel), zap.StacktraceLevel(zapcore.PanicLevel)))

	var err error
	if h.Env, err = localenv.StartWith(ctx, localenv.Options{ControlPlane: controlplane.Options{Webhooks: true}}); err != nil {
		return nil, err
	}
	if h.Scheme, err = Scheme(); err != nil {
		return nil, errors.Join(err, h.Env.Stop())
	}
	if h.Client, err = h.Env.NewClient(h.Scheme); err != nil {
		return nil, errors.Join(err, h.Env.Stop())
	}
	if err := h.Env.Install(ctx, h.Client); err != nil {
		return nil, errors.Join(err, h.Env.Stop())
	}
	w := h.Env.ControlPlane.Webhook
	mgr, err := ctrl.NewManager(h.Env.ControlPlane.Config, ctrl.Options{
		Scheme:                 h.Scheme,
		Cache:                  options.Cache(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          webhook.NewServer(webhook.Options{Host: w.Host, Port: w.Port, CertDir: w.CertDir}),
		// A test binary may start one harness after another: the
		// controllers of each have the same names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("create manager: %w", err), h.Env.Stop())
	}
	if err := registry.Setup(mgr, drivers, managed.Options{
		PollInterval:         PollInterval,
		PendingPollInterval:  500 * time.Millisecond,
		BlockedRetryInterval: PollInterval,
		BaseBackoff:          100 * time.Millisecond,
		MaxBackoff:           5 * time.Second,
	}); err != nil {
		return nil, errors.Join(err, h.Env.Stop())
	}
	if err := compositionscontroller.Setup(mgr); err != nil {
		return nil, errors.Join(err, h.Env.Stop())
	}
	if h.Guardrails, err = policysetup.Setup(mgr, policysetup.Options{
		ManagedKinds:         registry.ManagedKinds(),
		ServeWebhooks:        true,
		ExemptNamespaces:     admission.DefaultExemptNamespaces,
		Timeout:              5 * time.Second,
		AuditInterval:        AuditInterval,
		WebhookConfiguration: policysetup.DefaultWebhookConfiguration,
	}); err != nil {
		return nil, errors.Join(err, h.Env.Stop())
	}
	runCtx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- mgr.Start(runCtx) }()
	if err := h.waitServing(ctx, mgr); err != nil {
		return nil, errors.Join(err, h.Stop())
	}
	return h, nil
}

// waitServing waits until the webhooks are served and the guardrails
// loaded, so that a test's first request is judged.
func (h *Harness) waitServing(ctx context.Context, mgr ctrl.Manager) error {
	started := mgr.GetWebhookServer().StartedChecker()
	deadline := time.Now().Add(Patience)
	for {
		err := started(nil)
		if err == nil && !h.Guardrails.Ready() {
			err = errors.New("guardrails are loading")
		}
		if err == nil {
			return nil
		}
		select {
		case err := <-h.done:
			h.done <- err
			return fmt.Errorf("the manager stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook server is not serving: %w", err)
		}
	}
}

// Stop stops the manager and the environment.
func (h *Harness) Stop() error {
	h.cancel()
	err := <-h.done
	return errors.Join(err, h.Env.Stop())
}

// Logs returns everything the manager logged so far.
func (h *Harness) Logs() string { return h.logs.String() }

// SyncBuffer is a bytes.Buffer safe for concurrent use, for capturing a
// manager's logs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
