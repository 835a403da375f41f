package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stratus-operator/stratus/test/servers"
)

// The manager's metrics the scale scenario reads.
const (
	// cloudCallsMetric counts the drivers' cloud API calls
	// (providers/apimetrics).
	cloudCallsMetric = "stratus_cloud_api_calls_total"
	// heapMetric is the Go heap in use, from the Go collector.
	heapMetric = "go_memstats_heap_inuse_bytes"
	// reconcileMetric counts reconciles, by controller and result.
	reconcileMetric = "controller_runtime_reconcile_total"
	// restRequestsMetric counts the manager's requests to the API server,
	// by method and code (client-go's metrics).
	restRequestsMetric = "rest_client_requests_total"
)

// buildStratus builds the stratus binary into dir, as the crash tests do,
// and returns its path.
func buildStratus(ctx context.Context, dir string) (string, error) {
	root, err := servers.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("find the repository: %w", err)
	}
	bin := filepath.Join(dir, "stratus")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/stratus")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build stratus: %w\n%s", err, out)
	}
	return bin, nil
}

// stratusProcess is the stratus binary running as its own process, with
// its metrics served on a local port.
type stratusProcess struct {
	cmd        *exec.Cmd
	metricsURL string
	logPath    string
	// pprofURL is the base of its pprof endpoints; empty if none.
	pprofURL string
	// args are the flags it runs with, for the results.
	args []string
	// done is closed once the process has exited.
	done chan struct{}
}

// stratusFlags are the flags of one manager run that the scenario varies.
type stratusFlags struct {
	pollInterval            time.Duration
	maxConcurrentReconciles int
	// pprof serves net/http/pprof on a local port when set.
	pprof bool
}

// startManager starts bin against the cluster of kubeconfig, logging to a
// file in dir, and waits until its metrics endpoint answers.
func startStratus(ctx context.Context, bin, kubeconfig, dir string, f stratusFlags) (*stratusProcess, error) {
	port, err := freeLocalPort()
	if err != nil {
		return nil, err
	}
	args := []string{
		"manager",
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(port),
		// The benchmark reads metrics over plain HTTP on loopback, as a
		// profiler would: no authentication to measure.
		"--metrics-secure=false",
		"--health-probe-bind-address=0",
		"--webhook-port=0",
		"--poll-interval=" + f.pollInterval.String(),
		"--max-concurrent-reconciles=" + strconv.Itoa(f.maxConcurrentReconciles),
	}
	log, err := os.CreateTemp(dir, "manager-*.log")
	if err != nil {
		return nil, fmt.Errorf("create the manager log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	pprofURL := ""
	if f.pprof {
		pport, err := freeLocalPort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(pport)
		cmd.Env = append(cmd.Env, "STRATUS_PPROF_BIND_ADDRESS="+addr)
		pprofURL = "http://" + addr + "/debug/pprof"
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the manager: %w", err)
	}
	m := &stratusProcess{cmd: cmd, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), logPath: log.Name(), pprofURL: pprofURL, args: args, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(m.done)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := m.scrape(ctx)
		if err == nil {
			return m, nil
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("the manager exited at start (%s); log:\n%s", cmd.ProcessState, m.logTail(4000))
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), m.stop())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("the manager's metrics are not served: %w", err), m.stop())
		}
	}
}

// stop stops the manager with SIGTERM, and SIGKILL if it takes more than
// 30 s. Stopping a stopped manager does nothing.
func (m *stratusProcess) stop() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop the manager: %w", err)
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(30 * time.Second):
	}
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill the manager: %w", err)
	}
	<-m.done
	return nil
}

// alive fails if the manager has exited.
func (m *stratusProcess) alive() error {
	select {
	case <-m.done:
		return fmt.Errorf("the manager exited (%s); log:\n%s", m.cmd.ProcessState, m.logTail(4000))
	default:
		return nil
	}
}

// logTail returns the last n bytes of the manager's log.
func (m *stratusProcess) logTail(n int) string {
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		return err.Error()
	}
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}

// rss returns the manager's resident set size (VmRSS), in bytes.
func (m *stratusProcess) rss() (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read the manager's memory: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(v)
			if len(fields) != 2 || fields[1] != "kB" {
				return 0, fmt.Errorf("%s: unexpected VmRSS line %q", path, line)
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: read VmRSS: %w", path, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s has no VmRSS", path)
}

// promSample is one series of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// promMetrics is one scrape of /metrics.
type promMetrics []promSample

// sum adds up the series of name whose labels include every pair of match.
func (s promMetrics) sum(name string, match map[string]string) float64 {
	total := 0.0
	for _, x := range s {
		if x.name != name {
			continue
		}
		ok := true
		for k, v := range match {
			if x.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			total += x.value
		}
	}
	return total
}

// by adds up the series of name by the value of one label, or of several
// joined with "/".
func (s promMetrics) by(name string, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, x := range s {
		if x.name != name {
			continue
		}
		var key []string
		for _, l := range labels {
			key = append(key, x.labels[l])
		}
		out[strings.Join(key, "/")] += x.value
	}
	return out
}

// scrape reads the manager's /metrics.
func (m *stratusProcess) scrape(ctx context.Context) (promMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := getOK(ctx, m.metricsURL)
	if err != nil {
		return nil, fmt.Errorf("scrape the manager: %w", err)
	}
	defer resp.Body.Close()
	set, err := parsePromText(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape the manager: %w", err)
	}
	return set, nil
}

// parsePromText reads the Prometheus text exposition format: comments are
// skipped, each other line is a series with its value.
func parsePromText(r io.Reader) (promMetrics, error) {
	var out promMetrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parsePromLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

// parsePromLine reads one line `name{k="v",...} value [timestamp]`.
func parsePromLine(line string) (promSample, error) {
	s := promSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return promSample{}, fmt.Errorf("metric line %q has no value", line)
	}
	s.name, line = line[:i], line[i:]
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, ", ")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, "=\"")
			if eq < 0 {
				return promSample{}, fmt.Errorf("metric %s: bad labels", s.name)
			}
			key := line[:eq]
			line = line[eq+2:]
			var val strings.Builder
			j := 0
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
					if line[j] == 'n' {
						val.WriteByte('\n')
						continue
					}
				}
				val.WriteByte(line[j])
			}
			if j == len(line) {
				return promSample{}, fmt.Errorf("metric %s: unterminated label %s", s.name, key)
			}
			s.labels[key] = val.String()
			line = line[j+1:]
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return promSample{}, fmt.Errorf("metric %s has no value", s.name)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return promSample{}, fmt.Errorf("metric %s: read value: %w", s.name, err)
	}
	s.value = v
	return s, nil
}

// freeLocalPort returns a local TCP port nothing listens on.
func freeLocalPort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// collectGarbage makes the manager run a garbage collection (pprof's heap
// profile with gc=1), so that the heap read next is the live heap, not the
// garbage of the work before. The heap profile is saved to path, unless it
// is empty.
func (m *stratusProcess) collectGarbage(ctx context.Context, path string) error {
	if err := m.pprof(ctx, "/heap?gc=1", path); err != nil {
		return fmt.Errorf("collect the manager's garbage: %w", err)
	}
	return nil
}

// cpuProfile records a CPU profile of the manager for d into path.
func (m *stratusProcess) cpuProfile(ctx context.Context, path string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	if err := m.pprof(ctx, fmt.Sprintf("/profile?seconds=%d", int(d.Seconds())), path); err != nil {
		return fmt.Errorf("profile the manager: %w", err)
	}
	return nil
}

// pprof gets one of the manager's pprof endpoints and saves the answer to
// path, or discards it when path is empty.
func (m *stratusProcess) pprof(ctx context.Context, endpoint, path string) error {
	if m.pprofURL == "" {
		return errors.New("the manager serves no pprof")
	}
	resp, err := getOK(ctx, m.pprofURL+endpoint)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if path == "" {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save %s: %w", endpoint, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", endpoint, err)
	}
	return f.Close()
}

// getOK sends a GET to url and returns the response if it is 200 OK; the
// caller closes its body.
func getOK(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp, nil
}
