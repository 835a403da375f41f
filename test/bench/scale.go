package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/managed"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/localenv"
)

// The measurements of the scale scenario (issue 8), in the order they run.
const (
	measureTimeToReady    = "time-to-ready"
	measureFirstReconcile = "first-reconcile-under-load"
	measureSteadyState    = "steady-state-cost"
	measureMemory         = "memory"
	measureChurn          = "churn"
)

// scaleMeasures lists every measurement of the scale scenario.
var scaleMeasures = []string{measureTimeToReady, measureFirstReconcile, measureSteadyState, measureMemory, measureChurn}

const (
	// scaleNamespace holds the Buckets the manager reconciles.
	scaleNamespace = "bench-scale"
	// limitNamespace holds the Buckets of the physical limit, which no
	// manager sees.
	limitNamespace = "bench-limit"
	// pollJitter is the manager's default poll jitter (managed.Options): a
	// poll waits between 1 and 1+pollJitter poll intervals.
	pollJitter = 0.1
	// settingsReads is the fewest S3 calls a poll that sees every drift of
	// a Bucket can make: S3 serves each setting a Bucket manages
	// (versioning, encryption, public access block, lifecycle, tags) through
	// its own GET, and no call reads two. A missing bucket answers the first
	// of them NoSuchBucket, so existence needs no call of its own.
	settingsReads = 5.0
	// driftSlack is how much a drift detection may exceed the poll interval
	// plus jitter: the detecting reconcile's own time and the watch's
	// delivery, both counted after the poll is due.
	driftSlack = 2 * time.Second
)

// scaleConfig sizes the scale scenario.
type scaleConfig struct {
	// Measures are the measurements to make, a subset of scaleMeasures.
	Measures []string
	// N is the number of Buckets.
	N int
	// Concurrency is the number of goroutines creating or deleting Buckets,
	// for the operator and the physical limit alike.
	Concurrency int
	// ClientQPS is the client's rate limit towards the API server.
	ClientQPS float64
	// RateQPS and RateBurst are the rate limit set on the local-aws
	// ClusterProviderConfig (spec.rateLimit).
	RateQPS, RateBurst int
	// MaxConcurrentReconciles is the manager's --max-concurrent-reconciles.
	MaxConcurrentReconciles int
	// Tries is the number of single Buckets created one after the other by
	// first-reconcile-under-load, with 0 and with N Buckets.
	Tries int
	// Window is how long steady-state-cost counts calls with nothing
	// changing.
	Window time.Duration
	// DriftPollInterval is the spec.pollInterval of the Bucket whose drift
	// is timed; the manager's default when equal to it.
	DriftPollInterval time.Duration
	// Settle is how long the manager is left alone before its memory is
	// read.
	Settle time.Duration
	// Timeout bounds each wait for the operator.
	Timeout time.Duration
	// ProfileDir, when set, receives CPU profiles of the manager taken
	// while the Buckets are created (time-to-ready) and during churn.
	ProfileDir string
	// ProfileTime is how long each CPU profile records.
	ProfileTime time.Duration
}

// bindFlags defines the flags of the scale scenario, with the quick size
// as default (-scale-n=1000); the full size is -scale-n=10000.
func (c *scaleConfig) bindFlags(fs *flag.FlagSet) {
	c.Measures = slices.Clone(scaleMeasures)
	fs.Func("scale-measures", "scale: comma list of measurements to make, of "+strings.Join(scaleMeasures, ", ")+" (default all)", func(list string) error {
		c.Measures = nil
		for _, m := range strings.Split(list, ",") {
			if m = strings.TrimSpace(m); m != "" && !slices.Contains(c.Measures, m) {
				c.Measures = append(c.Measures, m)
			}
		}
		return nil
	})
	fs.IntVar(&c.N, "scale-n", 1000, "scale: Buckets (quick 1000, full 10000)")
	fs.IntVar(&c.Concurrency, "scale-concurrency", 64, "scale: goroutines creating and deleting Buckets, for the operator and the physical limit")
	fs.Float64Var(&c.ClientQPS, "scale-client-qps", 2000, "scale: the load generator's client rate limit towards the API server, requests/s (burst twice that)")
	fs.IntVar(&c.RateQPS, "rate-limit-qps", 500, "scale: spec.rateLimit.qps set on the local-aws ClusterProviderConfig (product default 10)")
	fs.IntVar(&c.RateBurst, "rate-limit-burst", 1000, "scale: spec.rateLimit.burst set on the local-aws ClusterProviderConfig (product default 20)")
	fs.IntVar(&c.MaxConcurrentReconciles, "max-concurrent-reconciles", 50, "scale: the manager's --max-concurrent-reconciles (product default 10)")
	fs.IntVar(&c.Tries, "first-reconcile-tries", 20, "scale: Buckets created one at a time by first-reconcile-under-load, with 0 and with N Buckets")
	fs.DurationVar(&c.Window, "steady-window", 3*time.Minute, "scale: how long steady-state-cost counts cloud calls with nothing changing (quick 3m, full longer)")
	fs.DurationVar(&c.DriftPollInterval, "drift-poll-interval", time.Minute, "scale: spec.pollInterval of the Bucket whose drift is timed, 10s..24h; "+managed.DefaultPollInterval.String()+" keeps the default")
	fs.DurationVar(&c.Settle, "scale-settle", 10*time.Second, "scale: how long the manager is left alone before its memory is read")
	fs.DurationVar(&c.Timeout, "scale-timeout", 30*time.Minute, "scale: the longest wait for the operator in each step")
	fs.StringVar(&c.ProfileDir, "scale-profile-dir", "", "scale: folder for profiles of the manager (CPU: time-to-ready.pprof, churn.pprof; heap: heap-idle.pprof, heap.pprof); empty takes none")
	fs.DurationVar(&c.ProfileTime, "scale-profile-time", 30*time.Second, "scale: how long each CPU profile records, from the first create")
}

// has reports whether measure m was asked for.
func (c scaleConfig) has(m string) bool { return slices.Contains(c.Measures, m) }

// validate checks the sizes.
func (c scaleConfig) validate() error {
	for _, m := range c.Measures {
		if !slices.Contains(scaleMeasures, m) {
			return fmt.Errorf("-scale-measures: unknown measurement %q (known: %s)", m, strings.Join(scaleMeasures, ", "))
		}
	}
	switch {
	case c.N <= 0:
		return fmt.Errorf("-scale-n must be positive, got %d", c.N)
	case c.Concurrency <= 0:
		return fmt.Errorf("-scale-concurrency must be positive, got %d", c.Concurrency)
	case c.ClientQPS <= 0:
		return fmt.Errorf("-scale-client-qps must be positive, got %v", c.ClientQPS)
	case c.RateQPS < 1 || c.RateQPS > 10000 || c.RateBurst < 1 || c.RateBurst > 10000:
		return fmt.Errorf("-rate-limit-qps and -rate-limit-burst must be within 1..10000, got %d and %d", c.RateQPS, c.RateBurst)
	case c.MaxConcurrentReconciles <= 0:
		return fmt.Errorf("-max-concurrent-reconciles must be positive, got %d", c.MaxConcurrentReconciles)
	case c.Tries <= 0:
		return fmt.Errorf("-first-reconcile-tries must be positive, got %d", c.Tries)
	case c.Window <= 0:
		return fmt.Errorf("-steady-window must be positive, got %s", c.Window)
	case c.DriftPollInterval < 10*time.Second || c.DriftPollInterval > 24*time.Hour:
		return fmt.Errorf("-drift-poll-interval must be within 10s..24h (spec.pollInterval), got %s", c.DriftPollInterval)
	case c.Settle < 0:
		return fmt.Errorf("-scale-settle must not be negative, got %s", c.Settle)
	case c.Timeout <= 0:
		return fmt.Errorf("-scale-timeout must be positive, got %s", c.Timeout)
	}
	return nil
}

// scaleRow is one row of the scale table.
type scaleRow struct {
	scenario, n, figure, reference, ratio string
}

// opRow is the steady-state calls of one cloud operation.
type opRow struct {
	op string
	// perPoll is the calls per resource in the startup pass; window the
	// calls counted in the window.
	perPoll, window, perHour float64
}

// scaleReport is the result of the scale scenario.
type scaleReport struct {
	cfg         scaleConfig
	rows        []scaleRow
	ops         []opRow
	notes       []string
	managerArgs []string
	// leaks describes what churn left behind; empty when nothing.
	leaks []string
	// work is what the manager did per Bucket during time-to-ready.
	work []workRow
}

// workRow is one kind of work the manager did during time-to-ready, per
// Bucket.
type workRow struct {
	what    string
	perItem float64
	minimum string
}

// workPerBucket returns the manager's reconciles, cloud calls and API
// server requests between two scrapes, per Bucket.
func workPerBucket(before, after promMetrics, n int) []workRow {
	var out []workRow
	add := func(prefix, metric string, labels []string, minimum func(string) string) {
		b, a := before.by(metric, labels...), after.by(metric, labels...)
		for _, k := range slices.Sorted(maps.Keys(a)) {
			if d := a[k] - b[k]; d > 0 {
				out = append(out, workRow{what: prefix + k, perItem: d / float64(n), minimum: minimum(k)})
			}
		}
	}
	add("reconciles ", reconcileMetric, []string{"controller", "result"}, func(string) string { return "1 (of any result)" })
	add("cloud calls ", cloudCallsMetric, []string{"service", "operation", "result"}, func(k string) string {
		if k == "S3/CreateBucket/success" {
			return "1"
		}
		return "0"
	})
	add("API requests ", restRequestsMetric, []string{"method", "code"}, func(k string) string {
		switch {
		case k == "PUT/200":
			return "1 (the status update)"
		case strings.HasPrefix(k, "GET/"):
			return "– (reads)"
		}
		return "0"
	})
	return out
}

// add appends a row.
func (r *scaleReport) add(scenario string, n int, figure, reference, ratio string) {
	r.rows = append(r.rows, scaleRow{scenario: scenario, n: fmt.Sprint(n), figure: figure, reference: reference, ratio: ratio})
}

// scaleRun is the state of one run of the scale scenario: its own local
// environment and the manager running as a separate process.
type scaleRun struct {
	cfg  scaleConfig
	logf func(string, ...any)
	rep  *scaleReport

	dir        string
	bin        string
	kubeconfig string
	env        *localenv.Env
	c          client.Client
	s3         *s3.Client
	tr         *bucketTracker
	mgr        *stratusProcess
	// names are the Buckets of scaleNamespace that should exist and be
	// Ready.
	names []string
	// limitCreate and limitDelete are the physical limits, 0 if not
	// measured.
	limitCreate, limitDelete time.Duration
}

// runScale is the scale scenario: it measures, writes the report, and fails
// if churn leaked.
func runScale(ctx context.Context, e *env) error {
	rep, err := measureScale(ctx, e.cfg.scale, e.logf)
	if len(rep.rows) > 0 {
		rep.write(e.out, e.machine, e.command)
	}
	if err != nil {
		return err
	}
	if len(rep.leaks) > 0 {
		return fmt.Errorf("churn leaked: %s", strings.Join(rep.leaks, "; "))
	}
	return nil
}

// measureScale starts its own local environment (the harness's in-process
// manager would reconcile the same Buckets), runs the stratus binary against
// it and makes the measurements of cfg in order. It returns what it measured
// even on error, and stops everything it started.
func measureScale(ctx context.Context, cfg scaleConfig, logf func(string, ...any)) (rep *scaleReport, err error) {
	rep = &scaleReport{cfg: cfg}
	r := &scaleRun{cfg: cfg, logf: logf, rep: rep}
	if r.dir, err = os.MkdirTemp("", "stratus-bench-scale-"); err != nil {
		return rep, fmt.Errorf("create a temporary folder: %w", err)
	}
	defer os.RemoveAll(r.dir)
	// Build the binary while the environment starts.
	start := time.Now()
	built := make(chan error, 1)
	go func() {
		var err error
		r.bin, err = buildStratus(ctx, r.dir)
		built <- err
	}()
	logf("scale: building stratus and starting a local environment")
	r.env, err = localenv.StartWith(ctx, localenv.Options{})
	if buildErr := <-built; buildErr != nil {
		if err == nil {
			err = r.env.Stop()
		}
		return rep, errors.Join(buildErr, err)
	}
	if err != nil {
		return rep, fmt.Errorf("start the local environment: %w", err)
	}
	logf("scale: stratus built and environment started in %s", time.Since(start).Round(time.Millisecond))
	defer func() {
		if r.mgr != nil {
			err = errors.Join(err, r.mgr.stop())
		}
		if stopErr := r.env.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop the local environment: %w", stopErr))
		}
	}()
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	if err := r.setUp(trackCtx); err != nil {
		return rep, err
	}
	return rep, r.measure(ctx)
}

// setUp installs the provider configurations with the benchmark's rate
// limit, writes the kubeconfig, and starts watching scaleNamespace.
func (r *scaleRun) setUp(ctx context.Context) error {
	scheme, err := harness.Scheme()
	if err != nil {
		return err
	}
	cfg := rest.CopyConfig(r.env.ControlPlane.Config)
	cfg.QPS, cfg.Burst = float32(r.cfg.ClientQPS), int(2*r.cfg.ClientQPS)
	if r.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	if err := r.env.Install(ctx, r.c); err != nil {
		return fmt.Errorf("install the provider configurations: %w", err)
	}
	if _, err := setAWSRateLimit(ctx, r.c, &stratusv1alpha1.RateLimit{QPS: int32(r.cfg.RateQPS), Burst: int32(r.cfg.RateBurst)}); err != nil {
		return err
	}
	for _, ns := range []string{scaleNamespace, limitNamespace} {
		if err := r.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	r.kubeconfig = filepath.Join(r.dir, "kubeconfig")
	if err := os.WriteFile(r.kubeconfig, r.env.ControlPlane.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("write the kubeconfig: %w", err)
	}
	r.s3 = s3.New(s3.Options{
		Region:       r.env.S3.Region,
		BaseEndpoint: aws.String(r.env.S3.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(r.env.S3.AccessKey, r.env.S3.SecretKey, ""),
	})
	if r.tr, err = startBucketTracker(ctx, cfg, scheme, scaleNamespace); err != nil {
		return err
	}
	return nil
}

// stratusFlags are the flags of the manager under test.
func (r *scaleRun) stratusFlags() stratusFlags {
	// pprof on loopback, always: the memory measure forces a collection
	// through it.
	return stratusFlags{pollInterval: managed.DefaultPollInterval, maxConcurrentReconciles: r.cfg.MaxConcurrentReconciles, pprof: true}
}

// startManager starts the manager and notes its flags.
func (r *scaleRun) startManager(ctx context.Context) error {
	m, err := startStratus(ctx, r.bin, r.kubeconfig, r.dir, r.stratusFlags())
	if err != nil {
		return err
	}
	r.mgr, r.rep.managerArgs = m, m.args
	return nil
}

// measure makes the measurements. The physical limit goes first, before the
// manager runs, so that no manager touches its Buckets.
func (r *scaleRun) measure(ctx context.Context) error {
	cfg, rep := r.cfg, r.rep
	rep.notes = append(rep.notes, fmt.Sprintf("settings: local-aws `spec.rateLimit` qps %d, burst %d (the product default is 10 and 20); manager `--max-concurrent-reconciles=%d` (default 10); the load generator creates and deletes from %d goroutines with a client limited to %.0f requests/s (burst %.0f)", cfg.RateQPS, cfg.RateBurst, cfg.MaxConcurrentReconciles, cfg.Concurrency, cfg.ClientQPS, 2*cfg.ClientQPS))
	if cfg.has(measureTimeToReady) || cfg.has(measureChurn) {
		if err := r.physicalLimit(ctx); err != nil {
			return fmt.Errorf("physical limit: %w", err)
		}
	}
	if err := r.startManager(ctx); err != nil {
		return err
	}
	var idleRSS, idleHeap float64
	if cfg.has(measureMemory) {
		var err error
		if idleRSS, idleHeap, err = r.memory(ctx, "heap-idle"); err != nil {
			return fmt.Errorf("idle memory: %w", err)
		}
		r.logf("scale: idle manager: RSS %s, heap %s", scaleMiB(idleRSS), scaleMiB(idleHeap))
	}
	var idleTries []time.Duration
	if cfg.has(measureFirstReconcile) {
		var err error
		if idleTries, err = r.firstReconcile(ctx, "fr0"); err != nil {
			return fmt.Errorf("first reconcile with 0 Buckets: %w", err)
		}
	}
	if err := r.timeToReady(ctx); err != nil {
		return fmt.Errorf("%s: %w", measureTimeToReady, err)
	}
	if cfg.has(measureMemory) {
		rss, heap, err := r.memory(ctx, "heap")
		if err != nil {
			return fmt.Errorf("memory with %d Buckets: %w", cfg.N, err)
		}
		perK := func(v, idle float64) string {
			return fmt.Sprintf("%s per 1,000 (%s in all)", scaleMiB((v-idle)/float64(cfg.N)*1000), scaleMiB(v))
		}
		rep.add("memory: RSS", cfg.N, perK(rss, idleRSS), "idle, 0 Buckets: "+scaleMiB(idleRSS), scaleRatio(rss, idleRSS))
		rep.add("memory: Go heap in use", cfg.N, perK(heap, idleHeap), "idle, 0 Buckets: "+scaleMiB(idleHeap), scaleRatio(heap, idleHeap))
		rep.notes = append(rep.notes, fmt.Sprintf("memory: the manager's VmRSS (/proc/<pid>/status) and `%s` (its /metrics, read after a garbage collection forced through pprof's heap?gc=1, so the live heap), idle %s after start with every CRD installed and no resources, then %s after the %d Buckets were Ready; per 1,000 is (with N − idle) / N × 1,000, the ratio is with N / idle", heapMetric, cfg.Settle, cfg.Settle, cfg.N))
	}
	if cfg.has(measureFirstReconcile) {
		tries, err := r.firstReconcile(ctx, "frn")
		if err != nil {
			return fmt.Errorf("first reconcile with %d Buckets: %w", cfg.N, err)
		}
		idle, loaded := sorted(idleTries), sorted(tries)
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.5}, {"p99", 0.99}} {
			rep.add(measureFirstReconcile+" "+q.name, cfg.N, ms(percentile(loaded, q.q)), "0 Buckets: "+ms(percentile(idle, q.q)), scaleRatio(float64(percentile(loaded, q.q)), float64(percentile(idle, q.q))))
		}
		rep.notes = append(rep.notes, fmt.Sprintf("%s: one more Bucket created, timed from the create call until the watch sees it Ready; %d tries one after the other, with the N Ready Buckets and, as reference, with none (before they were created); percentiles by nearest rank", measureFirstReconcile, cfg.Tries))
	}
	if cfg.has(measureSteadyState) {
		if err := r.steadyState(ctx); err != nil {
			return fmt.Errorf("%s: %w", measureSteadyState, err)
		}
	}
	if cfg.has(measureChurn) {
		if err := r.churn(ctx); err != nil {
			return fmt.Errorf("%s: %w", measureChurn, err)
		}
	}
	return nil
}

// scaleBucket returns a Bucket of the local S3 server with the defaults.
func scaleBucket(namespace, name string) *storagev1alpha1.Bucket {
	return &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: storagev1alpha1.BucketSpec{ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
			ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.AWSProviderConfig},
		}},
	}
}

// scaleNames returns n Bucket names with prefix.
func scaleNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	return out
}

// parallel calls do for 0..n-1 from workers goroutines, and stops at the
// first error, which it returns.
func forEachIndex(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// physicalLimit times the least work the operator's creates and deletes
// need, with no manager running: per Bucket a create and one status update
// on the API server and one CreateBucket on the S3 server; then per Bucket a
// delete (no finalizer to remove) and one DeleteBucket.
func (r *scaleRun) physicalLimit(ctx context.Context) error {
	n := r.cfg.N
	names := scaleNames("l", n)
	r.logf("scale: physical limit: creating %d Buckets and S3 buckets with no manager running", n)
	start := time.Now()
	err := forEachIndex(ctx, n, r.cfg.Concurrency, func(ctx context.Context, i int) error {
		b := scaleBucket(limitNamespace, names[i])
		if err := r.c.Create(ctx, b); err != nil {
			return fmt.Errorf("create Bucket %s: %w", names[i], err)
		}
		if _, err := r.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(registry.BucketName(limitNamespace, names[i]))}); err != nil {
			return fmt.Errorf("create S3 bucket of %s: %w", names[i], err)
		}
		now := metav1.Now()
		b.Status.Conditions = []metav1.Condition{{Type: stratusv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: stratusv1alpha1.ReasonAvailable, Message: "physical limit", LastTransitionTime: now, ObservedGeneration: b.Generation}}
		if err := r.c.Status().Update(ctx, b); err != nil {
			return fmt.Errorf("update the status of Bucket %s: %w", names[i], err)
		}
		return nil
	})
	r.limitCreate = time.Since(start)
	if err != nil {
		return err
	}
	r.logf("scale: physical limit: %d creates in %s; deleting them", n, r.limitCreate.Round(time.Millisecond))
	start = time.Now()
	err = forEachIndex(ctx, n, r.cfg.Concurrency, func(ctx context.Context, i int) error {
		if err := r.c.Delete(ctx, scaleBucket(limitNamespace, names[i])); err != nil {
			return fmt.Errorf("delete Bucket %s: %w", names[i], err)
		}
		if _, err := r.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(registry.BucketName(limitNamespace, names[i]))}); err != nil {
			return fmt.Errorf("delete S3 bucket of %s: %w", names[i], err)
		}
		return nil
	})
	r.limitDelete = time.Since(start)
	if err != nil {
		return err
	}
	r.logf("scale: physical limit: %d deletes in %s", n, r.limitDelete.Round(time.Millisecond))
	return nil
}

// memory waits cfg.Settle, then reads the manager's RSS and, after a
// garbage collection, its Go heap; with a ProfileDir, the heap profile is
// saved there as name.pprof.
func (r *scaleRun) memory(ctx context.Context, name string) (rss, heap float64, err error) {
	if err := sleepCtx(ctx, r.cfg.Settle); err != nil {
		return 0, 0, err
	}
	if err := r.mgr.alive(); err != nil {
		return 0, 0, err
	}
	path := ""
	if r.cfg.ProfileDir != "" {
		if err := os.MkdirAll(r.cfg.ProfileDir, 0o755); err != nil {
			return 0, 0, fmt.Errorf("create the profile folder: %w", err)
		}
		path = filepath.Join(r.cfg.ProfileDir, name+".pprof")
	}
	if err := r.mgr.collectGarbage(ctx, path); err != nil {
		return 0, 0, err
	}
	bytes, err := r.mgr.rss()
	if err != nil {
		return 0, 0, err
	}
	m, err := r.mgr.scrape(ctx)
	if err != nil {
		return 0, 0, err
	}
	return float64(bytes), m.sum(heapMetric, nil), nil
}

// timeToReady creates the N Buckets at once and waits until all are Ready.
func (r *scaleRun) timeToReady(ctx context.Context) error {
	n := r.cfg.N
	r.names = scaleNames("b", n)
	r.logf("scale: creating %d Buckets", n)
	defer r.profile(ctx, measureTimeToReady)()
	before, err := r.mgr.scrape(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	err = forEachIndex(ctx, n, r.cfg.Concurrency, func(ctx context.Context, i int) error {
		if err := r.c.Create(ctx, scaleBucket(scaleNamespace, r.names[i])); err != nil {
			return fmt.Errorf("create Bucket %s: %w", r.names[i], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	created := time.Since(start)
	r.logf("scale: %d Buckets created in %s; waiting until Ready", n, created.Round(time.Millisecond))
	last, err := r.tr.waitReady(ctx, r.names, r.cfg.Timeout, r.logf)
	if err != nil {
		return errors.Join(err, r.mgr.alive())
	}
	took := last.Sub(start)
	r.logf("scale: %d Buckets Ready in %s", n, took.Round(time.Millisecond))
	if err := sleepCtx(ctx, 2*time.Second); err != nil { // let the last status writes be counted
		return err
	}
	after, err := r.mgr.scrape(ctx)
	if err != nil {
		return err
	}
	r.rep.work = workPerBucket(before, after, n)
	if r.cfg.has(measureTimeToReady) {
		r.rep.add(measureTimeToReady, n, scaleSecs(took), "physical limit: "+scaleSecs(r.limitCreate), scaleRatio(float64(took), float64(r.limitCreate)))
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("%s: from the first create until the watch saw the last Bucket Ready (the creates themselves took %s); physical limit: with no manager, per Bucket a create, a CreateBucket on the S3 server and a status update, from the same goroutines", measureTimeToReady, scaleSecs(created)))
	}
	return nil
}

// firstReconcile creates cfg.Tries Buckets one after the other, timing each
// until Ready, then deletes them and waits until they are gone.
func (r *scaleRun) firstReconcile(ctx context.Context, prefix string) ([]time.Duration, error) {
	names := scaleNames(prefix, r.cfg.Tries)
	var out []time.Duration
	for _, name := range names {
		start := time.Now()
		if err := r.c.Create(ctx, scaleBucket(scaleNamespace, name)); err != nil {
			return nil, fmt.Errorf("create Bucket %s: %w", name, err)
		}
		at, err := r.tr.waitReady(ctx, []string{name}, r.cfg.Timeout, r.logf)
		if err != nil {
			return nil, errors.Join(err, r.mgr.alive())
		}
		out = append(out, at.Sub(start))
	}
	r.logf("scale: first reconcile (%s): p50 %s, max %s", prefix, ms(percentile(sorted(out), 0.5)), ms(percentile(sorted(out), 1)))
	return out, r.deleteAndWait(ctx, names)
}

// deleteAndWait deletes the named Buckets of scaleNamespace and waits until
// they are gone, their S3 buckets deleted by the manager.
func (r *scaleRun) deleteAndWait(ctx context.Context, names []string) error {
	err := forEachIndex(ctx, len(names), r.cfg.Concurrency, func(ctx context.Context, i int) error {
		if err := r.c.Delete(ctx, scaleBucket(scaleNamespace, names[i])); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete Bucket %s: %w", names[i], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := r.tr.waitGone(ctx, names, r.cfg.Timeout, r.logf); err != nil {
		return errors.Join(err, r.mgr.alive())
	}
	return nil
}

// steadyState restarts the manager at the default poll interval, counts the
// cloud calls of its startup pass (one observation of every Ready Bucket,
// the work of a poll) and of a window with nothing changing, and
// extrapolates the calls per resource per hour. Then it times the detection
// of a change made directly in S3.
func (r *scaleRun) steadyState(ctx context.Context) error {
	n := r.tr.count()
	interval := managed.DefaultPollInterval
	r.logf("scale: restarting the manager to count the calls of one observation of the %d Buckets", n)
	if err := r.mgr.stop(); err != nil {
		return err
	}
	if err := r.startManager(ctx); err != nil {
		return err
	}
	pass, err := r.waitPass(ctx, n)
	if err != nil {
		return err
	}
	reconciles := pass.sum(reconcileMetric, map[string]string{"controller": "bucket"})
	r.logf("scale: startup pass: %d reconciles, %.0f cloud calls; counting calls for %s", int(reconciles), pass.sum(cloudCallsMetric, nil), r.cfg.Window)
	before, err := r.mgr.scrape(ctx)
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, r.cfg.Window); err != nil {
		return err
	}
	if err := r.mgr.alive(); err != nil {
		return err
	}
	after, err := r.mgr.scrape(ctx)
	if err != nil {
		return err
	}
	passBy := pass.by(cloudCallsMetric, "service", "operation", "result")
	beforeBy, afterBy := before.by(cloudCallsMetric, "service", "operation", "result"), after.by(cloudCallsMetric, "service", "operation", "result")
	pollsPerHour := float64(time.Hour) / (float64(interval) * (1 + pollJitter/2))
	windowHours := r.cfg.Window.Hours()
	total := 0.0
	perPollTotal, windowTotal := 0.0, 0.0
	for _, op := range slices.Sorted(maps.Keys(afterBy)) {
		row := opRow{op: op, perPoll: passBy[op] / float64(n), window: afterBy[op] - beforeBy[op]}
		row.perHour = row.perPoll*pollsPerHour + row.window/float64(n)/windowHours
		perPollTotal += row.perPoll
		windowTotal += row.window
		total += row.perHour
		r.rep.ops = append(r.rep.ops, row)
	}
	windowReconciles := after.sum(reconcileMetric, map[string]string{"controller": "bucket"}) - before.sum(reconcileMetric, map[string]string{"controller": "bucket"})
	least := settingsReads * pollsPerHour
	r.rep.add(measureSteadyState, n, fmt.Sprintf("%.1f calls/resource/hour", total), fmt.Sprintf("fewest that see every drift at this interval: %.1f", least), fmt.Sprintf("%.2f", total/least))
	r.rep.add(measureSteadyState+": calls per poll", n, fmt.Sprintf("%.2f", perPollTotal), fmt.Sprintf("%.0f (one GET per setting)", settingsReads), fmt.Sprintf("%.2f", perPollTotal/settingsReads))
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("%s: at the default poll interval (%s, jitter up to %.0f%%, so %.2f polls/hour on average), from the manager's `%s`. Buckets created together first poll together after 10–11 min, so a window shorter than that sees no poll: the manager is restarted instead, and its startup pass, one reconcile of every Ready Bucket with nothing to change (%d reconciles), is the cost of one poll (%.0f calls in all). calls/resource/hour = calls per poll × polls/hour + the calls of a %s window with nothing changing (%.0f calls, %d reconciles in it) per resource, scaled to an hour", measureSteadyState, interval, pollJitter*100, pollsPerHour, cloudCallsMetric, int(reconciles), pass.sum(cloudCallsMetric, nil), r.cfg.Window, windowTotal, int(windowReconciles)))
	return r.drift(ctx)
}

// waitPass waits until the restarted manager has reconciled n Buckets and
// its cloud calls stopped growing, and returns its metrics then.
func (r *scaleRun) waitPass(ctx context.Context, n int) (promMetrics, error) {
	deadline := time.Now().Add(r.cfg.Timeout)
	last, stable := -1.0, 0
	for {
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil, err
		}
		if err := r.mgr.alive(); err != nil {
			return nil, err
		}
		m, err := r.mgr.scrape(ctx)
		if err != nil {
			return nil, err
		}
		reconciles, calls := m.sum(reconcileMetric, map[string]string{"controller": "bucket"}), m.sum(cloudCallsMetric, nil)
		if reconciles >= float64(n) && calls == last {
			if stable++; stable >= 3 {
				return m, nil
			}
		} else {
			stable = 0
		}
		last = calls
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the restarted manager reconciled %.0f of %d Buckets within %s", reconciles, n, r.cfg.Timeout)
		}
	}
}

// drift creates a Bucket with versioning Enabled, suspends its versioning
// directly in S3, and times how long until the Bucket reports drift.
func (r *scaleRun) drift(ctx context.Context) error {
	name := "drift-target"
	interval := r.cfg.DriftPollInterval
	b := scaleBucket(scaleNamespace, name)
	b.Spec.Versioning = storagev1alpha1.VersioningEnabled
	how := "the manager's default poll interval"
	if interval != managed.DefaultPollInterval {
		b.Spec.PollInterval = &metav1.Duration{Duration: interval}
		how = fmt.Sprintf("`spec.pollInterval: %s` on this one Bucket, shorter than the default %s so that the run stays short; the manager and the other Buckets keep the default", interval, managed.DefaultPollInterval)
	}
	if err := r.c.Create(ctx, b); err != nil {
		return fmt.Errorf("create Bucket %s: %w", name, err)
	}
	if _, err := r.tr.waitReady(ctx, []string{name}, r.cfg.Timeout, r.logf); err != nil {
		return errors.Join(err, r.mgr.alive())
	}
	r.logf("scale: suspending the versioning of %s in S3; waiting for the drift (poll interval %s)", name, interval)
	start := time.Now()
	if _, err := r.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(registry.BucketName(scaleNamespace, name)),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended},
	}); err != nil {
		return fmt.Errorf("suspend the versioning of %s: %w", name, err)
	}
	bound := time.Duration(float64(interval) * (1 + pollJitter))
	at, err := r.tr.waitDrift(ctx, name, bound+time.Minute, r.logf)
	if err != nil {
		return errors.Join(err, r.mgr.alive())
	}
	took := at.Sub(start)
	r.rep.add("drift-detection", r.tr.count()-1, scaleSecs(took), "poll interval + jitter: ≤ "+scaleSecs(bound), fmt.Sprintf("%.2f", float64(took)/float64(bound)))
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("drift-detection: a Bucket with versioning Enabled, its versioning suspended with PutBucketVersioning directly in S3, timed until the watch sees `status.lastDriftTime` set (the DriftDetected Event is emitted in the same reconcile), among the N Ready Buckets; poll interval: %s; must be at most the interval plus its jitter, plus the detecting reconcile and the watch (allowed: %s)", how, driftSlack))
	if took > bound+driftSlack {
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("drift-detection: took %s, MORE than the %s bound plus %s", scaleSecs(took), scaleSecs(bound), driftSlack))
	}
	return r.deleteAndWait(ctx, []string{name})
}

// churn deletes the N Buckets and creates N new ones, each worker deleting
// one and creating one, waits until the new ones are Ready and the old ones
// gone, then checks that S3 and the API server agree.
func (r *scaleRun) churn(ctx context.Context) error {
	n := len(r.names)
	old, fresh := r.names, scaleNames("c", n)
	r.logf("scale: churn: deleting %d Buckets and creating %d", n, n)
	defer r.profile(ctx, measureChurn)()
	start := time.Now()
	err := forEachIndex(ctx, n, r.cfg.Concurrency, func(ctx context.Context, i int) error {
		if err := r.c.Delete(ctx, scaleBucket(scaleNamespace, old[i])); err != nil {
			return fmt.Errorf("delete Bucket %s: %w", old[i], err)
		}
		if err := r.c.Create(ctx, scaleBucket(scaleNamespace, fresh[i])); err != nil {
			return fmt.Errorf("create Bucket %s: %w", fresh[i], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	ready, err := r.tr.waitReady(ctx, fresh, r.cfg.Timeout, r.logf)
	if err != nil {
		return errors.Join(err, r.mgr.alive())
	}
	gone, err := r.tr.waitGone(ctx, old, r.cfg.Timeout, r.logf)
	if err != nil {
		return errors.Join(err, r.mgr.alive())
	}
	r.names = fresh
	took := ready.Sub(start)
	if gone.After(ready) {
		took = gone.Sub(start)
	}
	r.logf("scale: churn took %s; checking for leaks", took.Round(time.Millisecond))
	ref := r.limitCreate + r.limitDelete
	r.rep.add(measureChurn, n, scaleSecs(took), "physical limit, creates + deletes: "+scaleSecs(ref), scaleRatio(float64(took), float64(ref)))
	if err := r.checkLeaks(ctx, n); err != nil {
		return err
	}
	leaks := "none"
	if len(r.rep.leaks) > 0 {
		leaks = strings.Join(r.rep.leaks, "; ")
	}
	r.rep.add(measureChurn+": leaks", n, leaks, fmt.Sprintf("none; %d S3 buckets, %d Buckets, matched by name", n, n), "–")
	r.rep.notes = append(r.rep.notes, fmt.Sprintf("%s: %d goroutines each delete one of the N Ready Buckets then create a new one, until all are done; timed until the watch has seen every new Bucket Ready and every old one gone (finalizer removed after its S3 bucket was deleted). Leaks: every S3 bucket named `%s-…` (ListBuckets) must have its Bucket (`registry.BucketName`) and every Bucket its S3 bucket, N of each", measureChurn, r.cfg.Concurrency, scaleNamespace))
	return nil
}

// checkLeaks compares the S3 buckets of scaleNamespace with its Buckets,
// which must be n of each, and notes every difference in the report.
func (r *scaleRun) checkLeaks(ctx context.Context, n int) error {
	inS3 := map[string]bool{}
	pages := s3.NewListBucketsPaginator(r.s3, &s3.ListBucketsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list S3 buckets: %w", err)
		}
		for _, b := range page.Buckets {
			if name := aws.ToString(b.Name); strings.HasPrefix(name, scaleNamespace+"-") {
				inS3[name] = true
			}
		}
	}
	var list storagev1alpha1.BucketList
	if err := r.c.List(ctx, &list, client.InNamespace(scaleNamespace)); err != nil {
		return fmt.Errorf("list Buckets: %w", err)
	}
	inK8s := map[string]bool{}
	for _, b := range list.Items {
		inK8s[registry.BucketName(b.Namespace, b.Name)] = true
		if b.DeletionTimestamp != nil {
			r.rep.leaks = append(r.rep.leaks, fmt.Sprintf("Bucket %s still deleting", b.Name))
		}
	}
	var noObject, noBucket []string
	for name := range inS3 {
		if !inK8s[name] {
			noObject = append(noObject, name)
		}
	}
	for name := range inK8s {
		if !inS3[name] {
			noBucket = append(noBucket, name)
		}
	}
	if len(noObject) > 0 {
		r.rep.leaks = append(r.rep.leaks, fmt.Sprintf("%d S3 buckets without a Bucket (%s)", len(noObject), firstNames(noObject)))
	}
	if len(noBucket) > 0 {
		r.rep.leaks = append(r.rep.leaks, fmt.Sprintf("%d Buckets without an S3 bucket (%s)", len(noBucket), firstNames(noBucket)))
	}
	if len(inS3) != n || len(inK8s) != n {
		r.rep.leaks = append(r.rep.leaks, fmt.Sprintf("%d S3 buckets and %d Buckets, want %d of each", len(inS3), len(inK8s), n))
	}
	return nil
}

// firstNames lists up to three names, sorted.
func firstNames(names []string) string {
	slices.Sort(names)
	if len(names) > 3 {
		return strings.Join(names[:3], ", ") + ", …"
	}
	return strings.Join(names, ", ")
}

// sleep waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// secs formats d in seconds.
func scaleSecs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// mib formats bytes in MiB.
func scaleMiB(bytes float64) string { return fmt.Sprintf("%.1f MiB", bytes/(1<<20)) }

// ratio formats a / b, or – when b is 0.
func scaleRatio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// write writes the scale section: the table of the issue, then the
// per-operation breakdown and how each figure was measured.
func (r *scaleReport) write(w io.Writer, machine, command string) {
	fmt.Fprintf(w, "\n## Scale\n\n")
	fmt.Fprintf(w, "| scenario | N | figure | reference | ratio |\n|---|---:|---:|---:|---:|\n")
	for _, row := range r.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", row.scenario, row.n, row.figure, row.reference, row.ratio)
	}
	if len(r.ops) > 0 {
		fmt.Fprintf(w, "\nSteady-state cloud calls by operation (service/operation/result):\n\n| operation | calls per poll | calls in window | calls/resource/hour |\n|---|---:|---:|---:|\n")
		for _, o := range r.ops {
			fmt.Fprintf(w, "| %s | %.2f | %.0f | %.2f |\n", o.op, o.perPoll, o.window, o.perHour)
		}
	}
	if len(r.work) > 0 {
		fmt.Fprintf(w, "\nWhat the manager did per Bucket during time-to-ready (from its own metrics; controller/result, service/operation/result, method/code), against the least the physical limit does:\n\n| work | per Bucket | least |\n|---|---:|---:|\n")
		for _, row := range r.work {
			fmt.Fprintf(w, "| %s | %.2f | %s |\n", row.what, row.perItem, row.minimum)
		}
	}
	fmt.Fprintf(w, "\nmachine: %s\n\ncommand: `%s`\n\nmanager: the stratus binary as its own process, `stratus %s`, against its own local environment (kube-apiserver and etcd with every CRD, versitygw for S3)\n\n", machine, command, strings.Join(r.managerArgs, " "))
	for _, note := range r.notes {
		fmt.Fprintf(w, "- %s\n", note)
	}
}

// profile starts a CPU profile of the manager into ProfileDir/name.pprof,
// if asked, and returns a function that waits for it and logs the outcome.
func (r *scaleRun) profile(ctx context.Context, name string) (wait func()) {
	if r.cfg.ProfileDir == "" {
		return func() {}
	}
	path := filepath.Join(r.cfg.ProfileDir, name+".pprof")
	done := make(chan error, 1)
	go func() {
		if err := os.MkdirAll(r.cfg.ProfileDir, 0o755); err != nil {
			done <- fmt.Errorf("create the profile folder: %w", err)
			return
		}
		done <- r.mgr.cpuProfile(ctx, path, r.cfg.ProfileTime)
	}()
	return func() {
		if err := <-done; err != nil {
			r.logf("scale: %s", err)
			return
		}
		r.logf("scale: CPU profile of the manager in %s", path)
		r.rep.notes = append(r.rep.notes, fmt.Sprintf("profile: %s, the manager's CPU for %s from the first create of %s", path, r.cfg.ProfileTime, name))
	}
}
