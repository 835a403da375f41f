package helm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/servers"
)

// buildBinary builds the stratus binary into dir.
func buildBinary(ctx context.Context, dir string) (string, error) {
	root, err := servers.RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "stratus")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/stratus")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build stratus: %w\n%s", err, out)
	}
	return bin, nil
}

// binaryRun is the stratus binary running as a pod of the chart's
// Deployment would: with its arguments, as its ServiceAccount, in its
// namespace.
type binaryRun struct {
	managerLogs
	// MetricsAddr is where the metrics server listens.
	MetricsAddr string
	// CertDir is the webhook server's certificate folder.
	CertDir string

	cmd        *exec.Cmd
	exited     chan struct{}
	cancel     context.CancelFunc
	copierDone chan struct{}
}

// binarySetup is how the test runs the binary.
type binarySetup struct {
	// Binary is the stratus binary.
	Binary string
	// KubeConfig reaches the API server as an administrator; the binary
	// impersonates ServiceAccount with it.
	KubeConfig []byte
	// Admin reads the certificate Secret for the emulated kubelet.
	Admin client.Client
	// Args are the Deployment's container arguments.
	Args []string
	// Namespace is the pod's namespace (POD_NAMESPACE).
	Namespace string
	// WebhookHost is where the webhook server listens.
	WebhookHost string
	// Dir holds the kubeconfig and the certificate folder.
	Dir string
}

// startBinary runs the binary with the Deployment's arguments, but the
// webhook server on WebhookHost, the metrics and probe servers on local
// ports, and the certificate folder filled from the Secret by an emulated
// kubelet (see copyCerts); it waits until the binary is ready (its /readyz:
// the certificate in place, the webhooks served, the guardrails loaded),
// and gives up as soon as it is forbidden anything.
func startBinary(ctx context.Context, s binarySetup) (*binaryRun, error) {
	f, err := parseManagerArgs(s.Args)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := impersonatingKubeConfig(s.KubeConfig, serviceAccountUser, serviceAccountGroups)
	if err != nil {
		return nil, err
	}
	kubeconfigPath := filepath.Join(s.Dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = freeLocalPort(); err != nil {
			return nil, err
		}
	}
	run := &binaryRun{
		managerLogs: managerLogs{logs: &harness.SyncBuffer{}},
		MetricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		CertDir:     filepath.Join(s.Dir, "certs"),
		exited:      make(chan struct{}),
		copierDone:  make(chan struct{}),
	}
	if err := os.MkdirAll(run.CertDir, 0o700); err != nil {
		return nil, err
	}
	probes := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	// The last of a repeated flag wins.
	args := append(append([]string{}, s.Args...),
		"--webhook-host="+s.WebhookHost,
		"--webhook-cert-dir="+run.CertDir,
		"--metrics-bind-address="+run.MetricsAddr,
		"--health-probe-bind-address="+probes,
	)
	var sink io.Writer = run.logs
	if os.Getenv(verboseEnv) != "" {
		sink = io.MultiWriter(run.logs, os.Stderr)
	}
	run.cmd = exec.Command(s.Binary, args...)
	run.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath, "POD_NAMESPACE="+s.Namespace)
	run.cmd.Stdout, run.cmd.Stderr = sink, sink

	copyCtx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	go func() {
		defer close(run.copierDone)
		if f.Webhook.CertRotation {
			copyCerts(copyCtx, s.Admin, types.NamespacedName{Namespace: s.Namespace, Name: f.Webhook.CertSecret}, run.CertDir, run.logs)
		}
	}()
	if err := run.cmd.Start(); err != nil {
		cancel()
		<-run.copierDone
		return nil, fmt.Errorf("start stratus: %w", err)
	}
	go func() {
		_ = run.cmd.Wait()
		close(run.exited)
	}()

	ready := "http://" + probes + "/readyz"
	fail := func(err error) (*binaryRun, error) {
		err = errors.Join(err, run.Stop())
		return nil, fmt.Errorf("%w; stratus logs:\n%s", err, tail(run.Logs(), 6000))
	}
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return run, nil
			}
			err = fmt.Errorf("%s: %s", ready, resp.Status)
		}
		if forbidden := run.forbidden(); forbidden != nil {
			return fail(fmt.Errorf("stratus is not ready (%v), and never will be: %w", err, forbidden))
		}
		select {
		case <-run.exited:
			return fail(fmt.Errorf("stratus exited before it was ready (%s)", run.cmd.ProcessState))
		case <-ctx.Done():
			return fail(fmt.Errorf("stratus is not ready: %w", err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the binary with SIGTERM, as the kubelet does, and the
// emulated kubelet.
func (b *binaryRun) Stop() error {
	defer func() {
		b.cancel()
		<-b.copierDone
	}()
	select {
	case <-b.exited:
		return nil
	default:
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-b.exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
		return errors.New("stratus did not stop within 30s of SIGTERM")
	}
}

// impersonatingKubeConfig returns kubeconfig with its users acting as
// user and groups.
func impersonatingKubeConfig(kubeconfig []byte, user string, groups []string) ([]byte, error) {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("parse kubeconfig: %w", err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate, auth.ImpersonateGroups = user, groups
	}
	return clientcmd.Write(*cfg)
}

// freeLocalPort returns a TCP port free on the loopback address.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
