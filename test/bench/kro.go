package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The kro side of the composites scenario: kro (github.com/kubernetes-sigs/kro)
// built by test/bench/tools/kro/build.sh, run as a local process against
// the harness's API server, with a ResourceGraphDefinition equivalent to
// the Stratus BenchSite. The Stratus manager still reconciles the Buckets:
// kro only replaces the composition layer.
const (
	// kroVersion is the kro release that test/bench/tools/kro/go.mod pins.
	kroVersion = "v0.9.4"
	// kroModule is kro's Go module, whose source (in the module cache)
	// holds the CRDs.
	kroModule = "github.com/kubernetes-sigs/kro"
	// kroQPS and kroBurst are kro's client limits, set to those of the
	// in-process Stratus manager (envtest's rest.Config: 1000 and 2000)
	// rather than kro's defaults (100 and 150).
	kroQPS, kroBurst = 1000, 2000
	// kroStartTimeout bounds kro's start, until /readyz answers.
	kroStartTimeout = time.Minute
)

// kroResourceGraph is the kro side: the same three Buckets per BenchSite
// as stratusCompositeDefinition, with the same names (instance-resource),
// spec and status fields. readyWhen makes kro wait for each Bucket's Ready
// condition, which Stratus does by default; without it kro calls a
// resource ready as soon as it exists.
const kroResourceGraph = `
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: benchsites.kro.bench.stratus.dev
spec:
  schema:
    apiVersion: v1alpha1
    kind: BenchSite
    group: kro.bench.stratus.dev
    spec:
      team: string | required=true
      retentionDays: integer | default=30 minimum=1
    status:
      contentBucket: ${content.status.atProvider.name}
      logsBucket: ${logs.status.atProvider.name}
      assetsBucket: ${assets.status.atProvider.name}
  resources:
    - id: content
      readyWhen:
        - ${content.status.conditions.exists(c, c.type == "Ready" && c.status == "True")}
      template:
        apiVersion: storage.stratus.dev/v1alpha1
        kind: Bucket
        metadata:
          name: ${schema.metadata.name}-content
        spec:
          providerConfigRef:
            kind: ClusterProviderConfig
            name: local-aws
          publicAccess: Allowed
          versioning: Disabled
          labels:
            team: ${schema.spec.team}
            purpose: content
    - id: logs
      readyWhen:
        - ${logs.status.conditions.exists(c, c.type == "Ready" && c.status == "True")}
      template:
        apiVersion: storage.stratus.dev/v1alpha1
        kind: Bucket
        metadata:
          name: ${schema.metadata.name}-logs
        spec:
          providerConfigRef:
            kind: ClusterProviderConfig
            name: local-aws
          publicAccess: Blocked
          versioning: Enabled
          lifecycle:
            - name: expire-logs
              expirationDays: ${schema.spec.retentionDays}
          labels:
            team: ${schema.spec.team}
            purpose: logs
    - id: assets
      readyWhen:
        - ${assets.status.conditions.exists(c, c.type == "Ready" && c.status == "True")}
      template:
        apiVersion: storage.stratus.dev/v1alpha1
        kind: Bucket
        metadata:
          name: ${schema.metadata.name}-assets
        spec:
          providerConfigRef:
            kind: ClusterProviderConfig
            name: local-aws
          publicAccess: Blocked
          versioning: Disabled
          labels:
            team: ${schema.spec.team}
            purpose: assets
`

// kroCRDGVK is the kind of CustomResourceDefinitions, read as unstructured.
var kroCRDGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// kroBinary returns the kro binary to run: path when set, else where
// build.sh caches it. It fails, saying how to build it, when the file is
// missing; the scenario then skips the kro side.
func kroBinary(path string) (string, error) {
	if path == "" {
		root := os.Getenv("STRATUS_TOOLS_CACHE")
		if root == "" {
			gocache, err := kroGoEnv("GOCACHE")
			if err != nil {
				return "", err
			}
			root = filepath.Join(gocache, "..", "stratus-tools")
		}
		path = filepath.Join(root, "kro-"+kroVersion, "kro")
	}
	path = filepath.Clean(path)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no kro binary at %s (build it with test/bench/tools/kro/build.sh, or pass -kro-bin): %w", path, err)
	}
	return path, nil
}

// kroGoEnv returns the value of a go env variable.
func kroGoEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// kroCRDDir returns kro's CRD folder in the module cache, where build.sh
// leaves the module's source.
func kroCRDDir() (string, error) {
	modcache, err := kroGoEnv("GOMODCACHE")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(modcache, kroModule+"@"+kroVersion, "helm", "crds")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("kro's CRDs are not in the module cache (run test/bench/tools/kro/build.sh): %w", err)
	}
	return dir, nil
}

// measureKroComposites installs kro's CRDs, starts kro, creates the
// ResourceGraphDefinition, measures N BenchSites, then deletes the
// instances and the definition and stops kro. kro's CRDs stay installed.
func measureKroComposites(ctx context.Context, e *env, c client.Client, cfg compositesConfig, bin string) (row compositeRow, err error) {
	dir, err := kroCRDDir()
	if err != nil {
		return row, err
	}
	if err := kroInstallCRDs(ctx, c, dir, cfg.Timeout); err != nil {
		return row, err
	}
	p, err := startKro(ctx, e, bin, cfg.KroWorkers)
	if err != nil {
		return row, err
	}
	defer func() {
		if serr := p.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		if err != nil {
			err = fmt.Errorf("%w\nkro's last log lines:\n%s", err, p.logTail(30))
		}
	}()
	rgd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(kroResourceGraph), &rgd.Object); err != nil {
		return row, fmt.Errorf("parse the resource graph definition: %w", err)
	}
	if err := c.Create(ctx, rgd); err != nil && !apierrors.IsAlreadyExists(err) {
		return row, fmt.Errorf("create the resource graph definition: %w", err)
	}
	defer func() {
		// Before kro stops: kro removes the definition's finalizer.
		if derr := compDeleteAndWait(context.WithoutCancel(ctx), c, rgd, cfg.Timeout); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete the resource graph definition: %w", derr))
		}
	}()
	gvk := schema.GroupVersionKind{Group: "kro.bench.stratus.dev", Version: "v1alpha1", Kind: "BenchSite"}
	start := time.Now()
	if err := compWaitFor(ctx, cfg.Timeout, "the resource graph definition to be Active and its CRD served", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(rgd), rgd); err != nil {
			return fmt.Errorf("get the resource graph definition: %w", err)
		}
		if state, _, _ := unstructured.NestedString(rgd.Object, "status", "state"); state != "Active" {
			conds, _, _ := unstructured.NestedSlice(rgd.Object, "status", "conditions")
			return fmt.Errorf("state %q, conditions %v", state, conds)
		}
		return compServed(ctx, c, gvk)
	}); err != nil {
		return row, err
	}
	e.logf("composites: kro: resource graph definition Active and served in %s", time.Since(start).Round(time.Millisecond))
	sys := compositeSystem{
		name:      "kro " + kroVersion,
		namespace: "bench-composites-kro",
		gvk:       gvk,
		ready: func(u *unstructured.Unstructured) bool {
			state, _, _ := unstructured.NestedString(u.Object, "status", "state")
			return state == "ACTIVE" && compConditionTrue(u, "Ready")
		},
		sample:     p.sample,
		memoryNote: "the kro process alone: peak RSS (VmHWM) and peak Go heap in use (go_memstats_heap_alloc_bytes from its metrics endpoint, polled); the Stratus manager reconciles the Buckets meanwhile in the bench process, not counted here",
	}
	row, err = measureComposites(ctx, e, c, sys, cfg)
	if hwm, herr := compProcStatus(p.cmd.Process.Pid, "VmHWM"); herr == nil {
		row.peak.rss = max(row.peak.rss, hwm)
	}
	return row, err
}

// kroInstallCRDs creates every CRD in the YAML files of dir, unless it
// exists, and waits until each is Established.
func kroInstallCRDs(ctx context.Context, c client.Client, dir string, timeout time.Duration) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRD files in %s: %w", dir, errors.Join(err, errors.New("empty")))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		crd := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &crd.Object); err != nil {
			return fmt.Errorf("parse %s: %w", f, err)
		}
		if crd.GroupVersionKind() != kroCRDGVK {
			return fmt.Errorf("%s is a %s, not a CRD", f, crd.GroupVersionKind())
		}
		if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", crd.GetName(), err)
		}
		if err := compWaitFor(ctx, timeout, "CRD "+crd.GetName()+" Established", func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
				return fmt.Errorf("get CRD %s: %w", crd.GetName(), err)
			}
			if !compConditionTrue(crd, "Established") {
				return errors.New("not Established yet")
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// kroProcess is a running kro controller.
type kroProcess struct {
	cmd *exec.Cmd
	// dir holds the kubeconfig and the log.
	dir, log string
	// metricsURL serves kro's Prometheus metrics.
	metricsURL string
	// exited is closed when the process exits, err then set.
	exited chan struct{}
	err    error
}

// startKro runs kro against the harness's API server, with leader election
// off, local metrics and health ports, and workers dynamic-controller
// workers, and waits until it is ready.
func startKro(ctx context.Context, e *env, bin string, workers int) (*kroProcess, error) {
	dir, err := os.MkdirTemp("", "stratus-bench-kro-")
	if err != nil {
		return nil, fmt.Errorf("create kro's folder: %w", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, e.h.Env.ControlPlane.KubeConfig, 0o600); err != nil {
		return nil, fmt.Errorf("write kro's kubeconfig: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	p := &kroProcess{dir: dir, log: filepath.Join(dir, "kro.log"), exited: make(chan struct{})}
	logFile, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("create kro's log: %w", err)
	}
	metricsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	probeAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	p.metricsURL = "http://" + metricsAddr + "/metrics"
	p.cmd = exec.Command(bin,
		"--metrics-bind-address="+metricsAddr,
		"--health-probe-bind-address="+probeAddr,
		"--leader-elect=false",
		"--dynamic-controller-concurrent-reconciles="+strconv.Itoa(workers),
		"--client-qps="+strconv.Itoa(kroQPS),
		"--client-burst="+strconv.Itoa(kroBurst),
		"--zap-log-level=info",
	)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	e.logf("composites: kro: started %s (pid %d, log %s)", bin, p.cmd.Process.Pid, p.log)
	start := time.Now()
	ready := "http://" + probeAddr + "/readyz"
	if err := compWaitFor(ctx, kroStartTimeout, "kro to be ready", func() error {
		select {
		case <-p.exited:
			return fmt.Errorf("kro exited: %w", p.err)
		default:
		}
		resp, err := http.Get(ready)
		if err != nil {
			return fmt.Errorf("get %s: %w", ready, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", ready, resp.Status)
		}
		return nil
	}); err != nil {
		err = errors.Join(err, p.stop())
		return nil, fmt.Errorf("%w\nkro's last log lines:\n%s", err, p.logTail(30))
	}
	e.logf("composites: kro: ready in %s", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// stop stops kro: SIGTERM, then SIGKILL after 15 seconds. It removes kro's
// folder unless kro failed.
func (p *kroProcess) stop() error {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("kro did not stop within 15s of SIGTERM; killed (log %s)", p.log)
		}
	}
	var exit *exec.ExitError
	if p.err != nil && !(errors.As(p.err, &exit) && exit.ExitCode() == 0) {
		if errors.As(p.err, &exit) && !exit.Exited() {
			// Ended by our signal.
			return os.RemoveAll(p.dir)
		}
		return fmt.Errorf("kro exited with %w (log %s)", p.err, p.log)
	}
	return os.RemoveAll(p.dir)
}

// sample reads kro's RSS from /proc and its Go heap from its metrics.
func (p *kroProcess) sample() (compMemory, error) {
	rss, err := compProcRSS(p.cmd.Process.Pid)
	if err != nil {
		return compMemory{}, err
	}
	heap, err := kroScrapeGauge(p.metricsURL, "go_memstats_heap_alloc_bytes")
	return compMemory{rss: rss, heap: heap}, err
}

// logTail returns the last n lines of kro's log.
func (p *kroProcess) logTail(n int) string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.log, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// kroScrapeGauge reads an unlabelled gauge from a Prometheus text endpoint.
func kroScrapeGauge(url, name string) (uint64, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("read %s: %w", name, err)
			}
			return uint64(f), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", url, err)
	}
	return 0, fmt.Errorf("%s has no %s", url, name)
}
