package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	compositionsv1alpha1 "github.com/stratus-operator/stratus/apis/compositions/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/test/localenv"
)

// compositesConfig sizes the composites scenario.
type compositesConfig struct {
	// N is the number of composites created at once on each side.
	N int
	// Kro runs the kro side too, when its binary exists.
	Kro bool
	// KroBinary is the kro controller binary; empty for where
	// test/bench/tools/kro/build.sh caches it.
	KroBinary string
	// KroWorkers is kro's dynamic-controller-concurrent-reconciles. The
	// default, 10, matches the workers Stratus runs per composite kind (kro's
	// own default is 1).
	KroWorkers int
	// RateQPS and RateBurst are set as spec.rateLimit on the local-aws
	// ClusterProviderConfig for the scenario, so that the Bucket
	// controller, which serves both sides, does not cap them (its default,
	// 10 operations per second, would be about 5 Buckets per second).
	RateQPS, RateBurst int
	// Timeout bounds each side's wait for every composite to be Ready, and
	// each cleanup.
	Timeout time.Duration
}

// bindFlags defines the scenario's flags on fs.
func (c *compositesConfig) bindFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.N, "composites", 100, "composites: instances created at once on each side (quick 100, full 1000)")
	fs.BoolVar(&c.Kro, "kro", true, "composites: also measure kro, when its binary exists (test/bench/tools/kro/build.sh)")
	fs.StringVar(&c.KroBinary, "kro-bin", "", "composites: the kro binary; empty for build.sh's cache, $(go env GOCACHE)/../stratus-tools/kro-"+kroVersion+"/kro")
	fs.IntVar(&c.KroWorkers, "kro-workers", 10, "composites: kro's dynamic-controller workers (Stratus runs 10 per composite kind; kro's default is 1)")
	fs.IntVar(&c.RateQPS, "composites-rate-limit-qps", 500, "composites: spec.rateLimit.qps set on the local-aws ClusterProviderConfig for the scenario (product default 10)")
	fs.IntVar(&c.RateBurst, "composites-rate-limit-burst", 1000, "composites: spec.rateLimit.burst set on the local-aws ClusterProviderConfig for the scenario (product default 20)")
	fs.DurationVar(&c.Timeout, "composites-timeout", 15*time.Minute, "composites: the longest wait for each side to be Ready, and for each cleanup")
}

// validate checks the flags.
func (c *compositesConfig) validate() error {
	switch {
	case c.N <= 0:
		return fmt.Errorf("-composites must be positive, got %d", c.N)
	case c.KroWorkers <= 0:
		return fmt.Errorf("-kro-workers must be positive, got %d", c.KroWorkers)
	case c.RateQPS < 1 || c.RateQPS > 10000 || c.RateBurst < 1 || c.RateBurst > 10000:
		return fmt.Errorf("-composites-rate-limit-qps and -composites-rate-limit-burst must be within 1..10000, got %d and %d", c.RateQPS, c.RateBurst)
	case c.Timeout <= 0:
		return fmt.Errorf("-composites-timeout must be positive, got %s", c.Timeout)
	}
	return nil
}

const (
	// childrenPerComposite is the number of Buckets each composite renders.
	childrenPerComposite = 3
	// compositesPoll is how often the scenario lists instances and Buckets.
	compositesPoll = 250 * time.Millisecond
	// createWorkers is the number of goroutines creating the instances.
	createWorkers = 32
)

// stratusCompositeDefinition is the Stratus side: a BenchSite renders three
// Buckets (content, logs, assets) on the local AWS. Readiness is the
// default one: a Bucket is ready when its Ready condition is True.
const stratusCompositeDefinition = `
apiVersion: compositions.stratus.dev/v1alpha1
kind: CompositeDefinition
metadata:
  name: benchsites.bench.stratus.dev
spec:
  group: bench.stratus.dev
  names:
    kind: BenchSite
    plural: benchsites
  scope: Namespaced
  versions:
    - {name: v1alpha1, served: true, storage: true}
  schema:
    spec:
      type: object
      required: [team]
      properties:
        team:
          type: string
        retentionDays:
          type: integer
          default: 30
          minimum: 1
    status:
      type: object
      properties:
        contentBucket: {type: string}
        logsBucket: {type: string}
        assetsBucket: {type: string}
  resources:
    - name: content
      template:
        apiVersion: storage.stratus.dev/v1alpha1
        kind: Bucket
        spec:
          providerConfigRef:
            kind: ClusterProviderConfig
            name: local-aws
          publicAccess: Allowed
          versioning: Disabled
          labels:
            team: ${spec.team}
            purpose: content
    - name: logs
      template:
        apiVersion: storage.stratus.dev/v1alpha1
        kind: Bucket
        spec:
          providerConfigRef:
            kind: ClusterProviderConfig
            name: local-aws
          publicAccess: Blocked
          versioning: Enabled
          lifecycle:
            - name: expire-logs
              expirationDays: ${spec.retentionDays}
          labels:
            team: ${spec.team}
            purpose: logs
    - name: assets
      template:
        apiVersion: storage.stratus.dev/v1alpha1
        kind: Bucket
        spec:
          providerConfigRef:
            kind: ClusterProviderConfig
            name: local-aws
          publicAccess: Blocked
          versioning: Disabled
          labels:
            team: ${spec.team}
            purpose: assets
  status:
    contentBucket: resources.content.status.atProvider.name
    logsBucket: resources.logs.status.atProvider.name
    assetsBucket: resources.assets.status.atProvider.name
`

// compositeSystem is one side of the comparison: the thing that turns a
// composite into its three Buckets.
type compositeSystem struct {
	// name labels the side's rows.
	name string
	// namespace holds the side's instances and Buckets, so that the S3
	// bucket names of the two sides differ.
	namespace string
	// gvk is the kind of the instances.
	gvk schema.GroupVersionKind
	// ready reports whether an instance says it is ready.
	ready func(u *unstructured.Unstructured) bool
	// sample reads the memory of the side's controller, for the peak.
	sample func() (compMemory, error)
	// memoryNote says what the memory sample measures.
	memoryNote string
}

// compMemory is the memory of a controller at one moment; zero when
// unknown.
type compMemory struct {
	rss, heap uint64
}

// compositeRow is the measurement of one side.
type compositeRow struct {
	system string
	n      int
	// created is how long creating the N instances took.
	created time.Duration
	// childrenCreated is when the last of the 3N Buckets existed.
	childrenCreated time.Duration
	// allReady is when every instance and every Bucket was Ready.
	allReady time.Duration
	// readyAt are the sorted times at which each instance was first seen
	// ready (to the poll interval).
	readyAt []time.Duration
	// peak is the side's controller's peak memory during the run.
	peak       compMemory
	memoryNote string
}

// compositesReport is the result of the composites scenario.
type compositesReport struct {
	cfg  compositesConfig
	rows []compositeRow
	// kroSkipped says why the kro side did not run; empty when it ran.
	kroSkipped string
	// kroBuild describes the kro binary that ran.
	kroBuild string
}

// runComposites is the composites scenario: the Stratus side, then the
// kro side when its binary exists, each from an empty namespace and each
// cleaned up before the next.
func runComposites(ctx context.Context, e *env) error {
	cfg := e.cfg.composites
	rep := &compositesReport{cfg: cfg}
	defer func() {
		if len(rep.rows) > 0 {
			rep.write(e.out, e.machine, e.command)
		}
	}()
	c, err := loadClient(e.h)
	if err != nil {
		return err
	}
	restore, err := setAWSRateLimit(ctx, c, &stratusv1alpha1.RateLimit{QPS: int32(cfg.RateQPS), Burst: int32(cfg.RateBurst)})
	if err != nil {
		return err
	}
	defer func() {
		if rerr := restore(context.WithoutCancel(ctx)); rerr != nil {
			e.logf("composites: %v", rerr)
		}
	}()
	row, err := measureStratusComposites(ctx, e, c, cfg)
	if err != nil {
		return fmt.Errorf("stratus: %w", err)
	}
	rep.rows = append(rep.rows, row)

	if !cfg.Kro {
		rep.kroSkipped = "the kro side was turned off with -kro=false"
		e.logf("composites: %s", rep.kroSkipped)
		return nil
	}
	bin, err := kroBinary(cfg.KroBinary)
	if err != nil {
		rep.kroSkipped = err.Error()
		e.logf("composites: skipping the kro side: %s", rep.kroSkipped)
		return nil
	}
	rep.kroBuild = bin
	row, err = measureKroComposites(ctx, e, c, cfg, bin)
	if err != nil {
		return fmt.Errorf("kro: %w", err)
	}
	rep.rows = append(rep.rows, row)
	return nil
}

// setAWSRateLimit sets spec.rateLimit of the local-aws
// ClusterProviderConfig, and returns what puts the previous one back.
func setAWSRateLimit(ctx context.Context, c client.Client, limit *stratusv1alpha1.RateLimit) (restore func(context.Context) error, err error) {
	pc := &stratusv1alpha1.ClusterProviderConfig{}
	key := client.ObjectKey{Name: localenv.AWSProviderConfig}
	if err := c.Get(ctx, key, pc); err != nil {
		return nil, fmt.Errorf("get ClusterProviderConfig %s: %w", key.Name, err)
	}
	previous := pc.Spec.RateLimit
	pc.Spec.RateLimit = limit
	if err := c.Update(ctx, pc); err != nil {
		return nil, fmt.Errorf("set the rate limit of ClusterProviderConfig %s: %w", key.Name, err)
	}
	return func(ctx context.Context) error {
		if err := c.Get(ctx, key, pc); err != nil {
			return fmt.Errorf("get ClusterProviderConfig %s: %w", key.Name, err)
		}
		pc.Spec.RateLimit = previous
		if err := c.Update(ctx, pc); err != nil {
			return fmt.Errorf("restore the rate limit of ClusterProviderConfig %s: %w", key.Name, err)
		}
		return nil
	}, nil
}

// measureStratusComposites installs the BenchSite CompositeDefinition,
// measures N BenchSites and deletes everything again.
func measureStratusComposites(ctx context.Context, e *env, c client.Client, cfg compositesConfig) (row compositeRow, err error) {
	def := &compositionsv1alpha1.CompositeDefinition{}
	if err := yaml.UnmarshalStrict([]byte(stratusCompositeDefinition), def); err != nil {
		return row, fmt.Errorf("parse the composite definition: %w", err)
	}
	if err := c.Create(ctx, def); err != nil && !apierrors.IsAlreadyExists(err) {
		return row, fmt.Errorf("create the composite definition: %w", err)
	}
	defer func() {
		if derr := compDeleteAndWait(context.WithoutCancel(ctx), c, def, cfg.Timeout); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete the composite definition: %w", derr))
		}
	}()
	gvk := schema.GroupVersionKind{Group: def.Spec.Group, Version: "v1alpha1", Kind: def.Spec.Names.Kind}
	if err := compWaitFor(ctx, cfg.Timeout, "the composite definition to be Valid and Established and its CRD served", func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(def), def); err != nil {
			return fmt.Errorf("get the composite definition: %w", err)
		}
		for _, typ := range []string{"Valid", "Established"} {
			if !meta.IsStatusConditionTrue(def.Status.Conditions, typ) {
				return fmt.Errorf("%s is %+v", typ, meta.FindStatusCondition(def.Status.Conditions, typ))
			}
		}
		return compServed(ctx, c, gvk)
	}); err != nil {
		return row, err
	}
	var ms runtime.MemStats
	sys := compositeSystem{
		name:      "Stratus",
		namespace: "bench-composites-stratus",
		gvk:       gvk,
		ready: func(u *unstructured.Unstructured) bool {
			return compConditionTrue(u, stratusv1alpha1.ConditionReady)
		},
		sample: func() (compMemory, error) {
			runtime.ReadMemStats(&ms)
			rss, err := compProcRSS(os.Getpid())
			return compMemory{rss: rss, heap: ms.HeapAlloc}, err
		},
		memoryNote: "the bench process, which runs the Stratus manager in-process (with the bench's clients and pollers): peak RSS and peak Go heap in use (HeapAlloc)",
	}
	return measureComposites(ctx, e, c, sys, cfg)
}

// measureComposites creates N instances of sys at once, waits until all of
// them and all their Buckets are Ready, then deletes them and waits until
// every Bucket is gone (from the cloud too: the Buckets' deletion policy is
// Delete), so the next side starts from the same state.
func measureComposites(ctx context.Context, e *env, c client.Client, sys compositeSystem, cfg compositesConfig) (row compositeRow, err error) {
	row = compositeRow{system: sys.name, n: cfg.N, memoryNote: sys.memoryNote}
	if err := compEnsureNamespace(ctx, c, sys.namespace); err != nil {
		return row, err
	}
	if err := compWaitEmpty(ctx, c, sys, cfg.Timeout); err != nil {
		return row, fmt.Errorf("the namespace is not empty before the run: %w", err)
	}
	defer func() {
		e.logf("composites: %s: deleting the %d instances and waiting for their Buckets to be gone", sys.name, cfg.N)
		start := time.Now()
		if cerr := cleanupComposites(context.WithoutCancel(ctx), c, sys, cfg.Timeout); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
			return
		}
		e.logf("composites: %s: clean in %s", sys.name, time.Since(start).Round(time.Millisecond))
	}()

	sampleMemory := func() {
		s, err := sys.sample()
		if err != nil {
			return // best effort: the row shows what was read
		}
		row.peak.rss = max(row.peak.rss, s.rss)
		row.peak.heap = max(row.peak.heap, s.heap)
	}
	sampleMemory()
	e.logf("composites: %s: creating %d instances", sys.name, cfg.N)
	start := time.Now()
	if err := createComposites(ctx, c, sys, cfg.N); err != nil {
		return row, err
	}
	row.created = time.Since(start)

	firstReady := map[string]time.Duration{}
	deadline := start.Add(cfg.Timeout)
	lastLog := start
	for {
		now := time.Since(start)
		instances := &unstructured.UnstructuredList{}
		instances.SetGroupVersionKind(sys.gvk.GroupVersion().WithKind(sys.gvk.Kind + "List"))
		if err := c.List(ctx, instances, client.InNamespace(sys.namespace)); err != nil {
			return row, fmt.Errorf("list the instances: %w", err)
		}
		for i := range instances.Items {
			u := &instances.Items[i]
			if _, seen := firstReady[u.GetName()]; !seen && sys.ready(u) {
				firstReady[u.GetName()] = now
			}
		}
		buckets := &storagev1alpha1.BucketList{}
		if err := c.List(ctx, buckets, client.InNamespace(sys.namespace)); err != nil {
			return row, fmt.Errorf("list the buckets: %w", err)
		}
		readyBuckets := 0
		for i := range buckets.Items {
			if meta.IsStatusConditionTrue(buckets.Items[i].Status.Conditions, stratusv1alpha1.ConditionReady) {
				readyBuckets++
			}
		}
		if row.childrenCreated == 0 && len(buckets.Items) >= cfg.N*childrenPerComposite {
			row.childrenCreated = now
		}
		sampleMemory()
		if len(firstReady) == cfg.N && readyBuckets == cfg.N*childrenPerComposite {
			row.allReady = now
			break
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			e.logf("composites: %s: %s: %d/%d instances ready, %d/%d buckets ready (%d exist)",
				sys.name, now.Round(time.Second), len(firstReady), cfg.N, readyBuckets, cfg.N*childrenPerComposite, len(buckets.Items))
		}
		if time.Now().After(deadline) {
			return row, fmt.Errorf("after %s, %d of %d instances and %d of %d buckets are ready", cfg.Timeout,
				len(firstReady), cfg.N, readyBuckets, cfg.N*childrenPerComposite)
		}
		select {
		case <-ctx.Done():
			return row, ctx.Err()
		case <-time.After(compositesPoll):
		}
	}
	for _, d := range firstReady {
		row.readyAt = append(row.readyAt, d)
	}
	slices.Sort(row.readyAt)
	e.logf("composites: %s: %d composites and %d buckets ready in %s", sys.name, cfg.N, cfg.N*childrenPerComposite, row.allReady.Round(time.Millisecond))
	return row, nil
}

// compositeName is the name of the i-th instance; its Buckets are named
// after it.
func compositeName(i int) string { return fmt.Sprintf("c%04d", i) }

// createComposites creates n instances of sys, from createWorkers
// goroutines.
func createComposites(ctx context.Context, c client.Client, sys compositeSystem, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, createWorkers)
	for w := range createWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(sys.gvk)
				u.SetNamespace(sys.namespace)
				u.SetName(compositeName(i))
				u.Object["spec"] = map[string]any{"team": "team-" + strconv.Itoa(i%10), "retentionDays": int64(30)}
				if err := c.Create(ctx, u); err != nil {
					errs[w] = fmt.Errorf("create %s %s: %w", sys.gvk.Kind, u.GetName(), err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cleanupComposites deletes every instance of sys, helps by deleting their
// Buckets too (the test control plane runs no garbage collector; both
// systems delete their children themselves, this only saves waiting for
// one-at-a-time deletion), and waits until instances and Buckets are gone.
// It deletes object by object: a collection delete of thousands outlasts
// the API server's request timeout and can leave the client waiting.
func cleanupComposites(ctx context.Context, c client.Client, sys compositeSystem, timeout time.Duration) error {
	if err := compDeleteLive(ctx, c, sys); err != nil {
		return err
	}
	return compWaitEmpty(ctx, c, sys, timeout)
}

// compDeleteLive deletes, a few at a time, every instance of sys and every
// Bucket of its namespace that is not being deleted yet.
func compDeleteLive(ctx context.Context, c client.Client, sys compositeSystem) error {
	instances, buckets, err := compList(ctx, c, sys)
	if err != nil {
		return err
	}
	var live []client.Object
	for i := range instances.Items {
		if instances.Items[i].GetDeletionTimestamp() == nil {
			live = append(live, &instances.Items[i])
		}
	}
	for i := range buckets.Items {
		if buckets.Items[i].DeletionTimestamp == nil {
			live = append(live, &buckets.Items[i])
		}
	}
	return forEachIndex(ctx, len(live), createWorkers, func(ctx context.Context, i int) error {
		if err := c.Delete(ctx, live[i]); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete %s: %w", live[i].GetName(), err)
		}
		return nil
	})
}

// compList lists the instances of sys (none when their kind is not served)
// and the Buckets of its namespace.
func compList(ctx context.Context, c client.Client, sys compositeSystem) (*unstructured.UnstructuredList, *storagev1alpha1.BucketList, error) {
	instances := &unstructured.UnstructuredList{}
	instances.SetGroupVersionKind(sys.gvk.GroupVersion().WithKind(sys.gvk.Kind + "List"))
	if err := c.List(ctx, instances, client.InNamespace(sys.namespace)); err != nil && !meta.IsNoMatchError(err) && !apierrors.IsNotFound(err) {
		return nil, nil, fmt.Errorf("list the instances: %w", err)
	}
	buckets := &storagev1alpha1.BucketList{}
	if err := c.List(ctx, buckets, client.InNamespace(sys.namespace)); err != nil {
		return nil, nil, fmt.Errorf("list the buckets: %w", err)
	}
	return instances, buckets, nil
}

// compWaitEmpty waits until the namespace of sys holds no instance and no
// Bucket.
func compWaitEmpty(ctx context.Context, c client.Client, sys compositeSystem, timeout time.Duration) error {
	return compWaitFor(ctx, timeout, "no instance and no bucket in "+sys.namespace, func() error {
		instances, buckets, err := compList(ctx, c, sys)
		if err != nil {
			return err
		}
		if n, b := len(instances.Items), len(buckets.Items); n > 0 || b > 0 {
			return fmt.Errorf("%d instances and %d buckets remain", n, b)
		}
		return nil
	})
}

// compServed fails unless the API server serves gvk and the client knows
// its mapping, so that no discovery delays the timed creates.
func compServed(ctx context.Context, c client.Client, gvk schema.GroupVersionKind) error {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list, client.Limit(1)); err != nil {
		return fmt.Errorf("list %s: %w", gvk.Kind, err)
	}
	return nil
}

// compEnsureNamespace creates namespace ns unless it exists. Namespaces are
// left in place: the test control plane runs no namespace controller to
// finish a deletion.
func compEnsureNamespace(ctx context.Context, c client.Client, ns string) error {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("v1")
	obj.SetKind("Namespace")
	obj.SetName(ns)
	if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// compDeleteAndWait deletes obj and waits until it is gone.
func compDeleteAndWait(ctx context.Context, c client.Client, obj client.Object, timeout time.Duration) error {
	if err := c.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete %s: %w", obj.GetName(), err)
	}
	return compWaitFor(ctx, timeout, obj.GetName()+" to be gone", func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", obj.GetName(), err)
		}
		return fmt.Errorf("still exists, finalizers %v", obj.GetFinalizers())
	})
}

// compWaitFor calls check every compositesPoll until it returns nil, and
// fails with its last error after timeout.
func compWaitFor(ctx context.Context, timeout time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s: %w", timeout, what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(compositesPoll):
		}
	}
}

// compConditionTrue reports whether u has a condition typ with status True.
func compConditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m["status"] == string(metav1.ConditionTrue)
		}
	}
	return false
}

// compProcRSS reads the resident set size of process pid, in bytes.
func compProcRSS(pid int) (uint64, error) {
	return compProcStatus(pid, "VmRSS")
}

// compProcStatus reads a kB field of /proc/<pid>/status, in bytes.
func compProcStatus(pid int, field string) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read the status of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read %s of process %d: %w", field, pid, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("process %d has no %s", pid, field)
}

// compMiB formats a byte count in MiB; "n/a" for zero (unknown).
func compMiB(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// compSecs formats d in seconds.
func compSecs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// write writes the report as markdown.
func (r *compositesReport) write(w io.Writer, machine, command string) {
	fmt.Fprintf(w, "## Composite throughput\n\n")
	fmt.Fprintf(w, "%d composites of %d Buckets each, created at once; time until every composite and every Bucket is Ready.\n\n", r.cfg.N, childrenPerComposite)
	fmt.Fprintln(w, "| system | N composites | children | time to all Ready | composites/s | children/s | ratio |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	base := r.rows[0].allReady
	for _, row := range r.rows {
		s := row.allReady.Seconds()
		fmt.Fprintf(w, "| %s | %d | %d | %s | %.1f | %.1f | %.2f |\n", row.system, row.n, row.n*childrenPerComposite,
			compSecs(row.allReady), float64(row.n)/s, float64(row.n*childrenPerComposite)/s, s/base.Seconds())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| system | create N | all children exist | composite ready p50 | p90 | last | peak RSS | peak Go heap |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", row.system, compSecs(row.created), compSecs(row.childrenCreated),
			compSecs(percentile(row.readyAt, 0.5)), compSecs(percentile(row.readyAt, 0.9)), compSecs(percentile(row.readyAt, 1)),
			compMiB(row.peak.rss), compMiB(row.peak.heap))
	}
	fmt.Fprintf(w, "\nmachine: %s\n\ncommand: `%s`\n\n", machine, command)
	fmt.Fprintln(w, "- ratio: time to all Ready relative to the first row (Stratus); above 1 is slower.")
	fmt.Fprintln(w, "- composite ready: when each composite was first seen ready, polled every 250 ms, from the first create.")
	for _, row := range r.rows {
		fmt.Fprintf(w, "- memory of %s: %s.\n", row.system, row.memoryNote)
	}
	if r.kroSkipped != "" {
		fmt.Fprintf(w, "- kro: not measured: %s\n", r.kroSkipped)
	} else {
		fmt.Fprintf(w, "- kro: %s, %d dynamic-controller worker(s), client QPS %d / burst %d as the in-process manager's.\n", r.kroBuild, r.cfg.KroWorkers, kroQPS, kroBurst)
	}
	fmt.Fprintf(w, "- Buckets: reconciled on both sides by the in-process Stratus manager (10 workers), with `spec.rateLimit` qps %d, burst %d on local-aws for the scenario (product default 10 and 20).\n", r.cfg.RateQPS, r.cfg.RateBurst)
	fmt.Fprintln(w)
}
