package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/servers"
)

const (
	// gatekeeperNamespace is where Gatekeeper writes its per-pod status
	// objects (POD_NAMESPACE). Left in place, like benchNamespace.
	gatekeeperNamespace = "gatekeeper-system"
	// gatekeeperBuildScript builds Gatekeeper, relative to the repository.
	gatekeeperBuildScript = "test/bench/tools/gatekeeper/build.sh"
	// gatekeeperRequestCount and gatekeeperRequestDuration are Gatekeeper's
	// metrics of its validating webhook (pkg/webhook/stats_reporter.go),
	// as its Prometheus exporter names them.
	gatekeeperRequestCount    = "gatekeeper_validation_request_count"
	gatekeeperRequestDuration = "gatekeeper_validation_request_duration_seconds"
)

// errGatekeeperNotBuilt is returned when Gatekeeper is not built and the
// scenario may not build it (-gatekeeper-build=false).
var errGatekeeperNotBuilt = errors.New("gatekeeper is not built")

// gatekeeperTool returns the folder holding the Gatekeeper binary and its
// CRDs (crds/), built by build.sh. With build false it only looks for a
// previous build and fails with errGatekeeperNotBuilt without one. took is
// how long build.sh ran.
func gatekeeperTool(ctx context.Context, build bool, logf func(string, ...any)) (dir string, took time.Duration, err error) {
	root, err := servers.RepoRoot()
	if err != nil {
		return "", 0, err
	}
	args := []string{filepath.Join(root, gatekeeperBuildScript)}
	if !build {
		args = append(args, "--check")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	took = time.Since(start)
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" {
			logf("gatekeeper: %s", line)
		}
	}
	var exit *exec.ExitError
	if !build && errors.As(err, &exit) && exit.ExitCode() == 2 {
		return "", took, fmt.Errorf("%w: run `bash %s` (a few minutes, once)", errGatekeeperNotBuilt, gatekeeperBuildScript)
	}
	if err != nil {
		return "", took, fmt.Errorf("%s: %w: %s", gatekeeperBuildScript, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), took, nil
}

// gatekeeperProcess is Gatekeeper running as a local process against the
// harness' API server.
type gatekeeperProcess struct {
	cmd *exec.Cmd
	// done is closed when the process has exited; err is then its error.
	done chan struct{}
	err  error
	// dir holds its kubeconfig, serving certificate and log.
	dir string
	// port serves the webhook (https://127.0.0.1:port/v1/admit), metrics
	// its Prometheus metrics.
	port, metrics int
	// caPEM signed the serving certificate.
	caPEM []byte
}

// startGatekeeper runs the Gatekeeper binary of toolDir as the webhook of
// the harness' API server (its audit off), with a serving certificate for
// 127.0.0.1, and waits until it is ready. Its CRDs must be installed.
func startGatekeeper(ctx context.Context, h *harness.Harness, toolDir string) (_ *gatekeeperProcess, err error) {
	dir, err := os.MkdirTemp("", "stratus-bench-gatekeeper-")
	if err != nil {
		return nil, fmt.Errorf("create a folder for gatekeeper: %w", err)
	}
	p := &gatekeeperProcess{dir: dir, done: make(chan struct{})}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.stop())
		}
	}()
	if p.caPEM, err = writeServingCert(dir); err != nil {
		return p, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, h.Env.ControlPlane.KubeConfig, 0o600); err != nil {
		return p, fmt.Errorf("write gatekeeper's kubeconfig: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return p, err
	}
	p.port, p.metrics = ports[0], ports[1]
	health := ports[2]
	logFile, err := os.Create(filepath.Join(dir, "gatekeeper.log"))
	if err != nil {
		return p, fmt.Errorf("create gatekeeper's log: %w", err)
	}
	p.cmd = exec.Command(filepath.Join(toolDir, "gatekeeper"),
		"--kubeconfig="+kubeconfig,
		"--debug-use-fake-pod", // no Pod to own its status objects
		"--operation=webhook",  // the validating webhook
		"--operation=status",   // the constraints' status.byPod, to wait for enforcement
		"--operation=generate", // the constraint CRDs of the templates
		"--host=127.0.0.1",
		"--port="+strconv.Itoa(p.port),
		"--cert-dir="+dir,
		"--disable-cert-rotation",
		"--health-addr=127.0.0.1:"+strconv.Itoa(health),
		"--metrics-addr=0",
		"--metrics-backend=prometheus",
		"--prometheus-port="+strconv.Itoa(p.metrics),
		"--enable-pprof=false",
		"--log-level=INFO",
		"--exempt-namespace="+gatekeeperNamespace,
		"--shutdown-delay=0",
		// Rego templates only: no ValidatingAdmissionPolicy in the path.
		"--default-create-vap-for-templates=false",
		"--default-create-vap-binding-for-constraints=false",
	)
	p.cmd.Env = append(os.Environ(), "POD_NAMESPACE="+gatekeeperNamespace)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return p, fmt.Errorf("start gatekeeper: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", health)
	deadline := time.Now().Add(harness.Patience)
	for {
		err := httpOK(ctx, ready)
		if err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			return p, fmt.Errorf("gatekeeper exited before it was ready: %w; its log ends with:\n%s", p.err, p.logTail(40))
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("gatekeeper is not ready after %s: %w; its log ends with:\n%s", harness.Patience, err, p.logTail(40))
		}
	}
}

// stop stops Gatekeeper (SIGTERM, then SIGKILL after 15s) and removes its
// folder.
func (p *gatekeeperProcess) stop() error {
	var err error
	if p.cmd != nil && p.cmd.Process != nil {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
				err = errors.New("gatekeeper did not stop within 15s of SIGTERM: killed")
			}
		}
	}
	if rmErr := os.RemoveAll(p.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove gatekeeper's folder: %w", rmErr))
	}
	return err
}

// exited returns an error when Gatekeeper is no longer running.
func (p *gatekeeperProcess) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("gatekeeper exited: %w; its log ends with:\n%s", p.err, p.logTail(40))
	default:
		return nil
	}
}

// logTail returns the last n lines of Gatekeeper's log.
func (p *gatekeeperProcess) logTail(n int) string {
	data, err := os.ReadFile(filepath.Join(p.dir, "gatekeeper.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// rss returns Gatekeeper's resident set size, now and at its peak.
func (p *gatekeeperProcess) rss() (now, peak int64, err error) {
	return processRSS(strconv.Itoa(p.cmd.Process.Pid))
}

// metricFamilies reads Gatekeeper's Prometheus metrics.
func (p *gatekeeperProcess) metricFamilies(ctx context.Context) ([]*dto.MetricFamily, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", p.metrics)
	resp, err := getOK(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("read gatekeeper's metrics: %w", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse gatekeeper's metrics: %w", err)
	}
	out := make([]*dto.MetricFamily, 0, len(families))
	for _, f := range families {
		out = append(out, f)
	}
	return out, nil
}

// served returns Gatekeeper's histogram of its validating webhook's
// request durations (every label value added up).
func (p *gatekeeperProcess) served(ctx context.Context) (histogram, error) {
	families, err := p.metricFamilies(ctx)
	if err != nil {
		return histogram{}, err
	}
	return gatherHistogram(gathered(families), gatekeeperRequestDuration)
}

// gathered is metric families already read, as a prometheus.Gatherer.
type gathered []*dto.MetricFamily

// Gather returns the families.
func (g gathered) Gather() ([]*dto.MetricFamily, error) { return g, nil }

// processRSS reads the resident set size of a process (a pid, or self)
// from /proc, now (VmRSS) and at its peak (VmHWM).
func processRSS(pid string) (now, peak int64, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("read the memory of process %s: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(value) // "12345 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("read the memory of process %s: unexpected %s line %q", pid, key, line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("read the memory of process %s: %w", pid, err)
		}
		if key == "VmRSS" {
			now = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return now, peak, nil
}

// httpOK returns nil when url answers 200.
func httpOK(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeServingCert writes a new CA's certificate (ca.crt) and a serving
// certificate it signs for 127.0.0.1 and localhost (tls.crt, tls.key, the
// names Gatekeeper reads from --cert-dir) to dir, and returns the CA's
// certificate in PEM.
func writeServingCert(dir string) ([]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the CA key: %w", err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "stratus-bench-gatekeeper-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create the CA certificate: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, fmt.Errorf("parse the CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the serving key: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create the serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode the serving key: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.crt":  caPEM,
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return caPEM, nil
}
