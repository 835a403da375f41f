package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/compositions/catalog"
	"github.com/stratus-operator/stratus/policy/admission"
	"github.com/stratus-operator/stratus/policy/guardrails"
	"github.com/stratus-operator/stratus/policy/library"
	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/localenv"
)

// admissionConfig sizes the admission scenario.
type admissionConfig struct {
	// Guardrails are the guardrail counts to measure after the baseline.
	Guardrails []int
	// Rate is the target rate, in requests per second.
	Rate float64
	// Requests is the number of measured requests per guardrail count.
	Requests int
	// Warmup is the number of requests sent first, and not measured, per
	// guardrail count.
	Warmup int
	// Concurrency is the number of goroutines sending requests.
	Concurrency int
	// HandlerRuns is the number of in-process handler calls timed per
	// guardrail count, and per library guardrail.
	HandlerRuns int
}

const (
	// benchNamespace holds the Buckets of the requests. It is left in place:
	// the test control plane runs no namespace controller to finish a
	// deletion.
	benchNamespace = "bench-admission"
	// benchRegion is the region of the Buckets, allowed by allowed-regions.
	benchRegion = "us-east-1"
	// admissionHistogram is the manager's histogram of the guardrail
	// webhook's evaluation time (policy/admission/metrics.go).
	admissionHistogram = "stratus_guardrail_admission_duration_seconds"
	// handlerWarmup is how many in-process calls precede the timed ones.
	handlerWarmup = 10
)

// admissionRow is the measurement at one guardrail count.
type admissionRow struct {
	guardrails int
	// sent is the number of measured requests, failed how many failed.
	sent, failed int
	firstErr     error
	// rate is the achieved rate of the measured requests, per second.
	rate float64
	// api are the sorted client latencies of the successful requests.
	api []time.Duration
	// eval are the sorted times of the in-process handler calls.
	eval []time.Duration
	// served is what the manager's histogram observed during the measured
	// requests.
	served histogram
}

// moduleRow is the in-process handler time with one library guardrail.
type moduleRow struct {
	name string
	eval []time.Duration
}

// admissionReport is the result of the admission scenario.
type admissionReport struct {
	cfg     admissionConfig
	rows    []admissionRow
	modules []moduleRow
}

// runAdmission is the admission scenario: it measures, writes the report
// and fails if any request failed.
func runAdmission(ctx context.Context, e *env) error {
	rep, err := measureAdmission(ctx, e.h, e.cfg.admission, e.logf)
	if len(rep.rows) > 0 {
		rep.write(e.out, e.machine, e.command)
	}
	if err != nil {
		return err
	}
	for _, r := range rep.rows {
		if r.failed > 0 {
			return fmt.Errorf("%d of %d requests with %d guardrails failed, the first with: %w", r.failed, r.sent, r.guardrails, r.firstErr)
		}
	}
	return nil
}

// measureAdmission measures the baseline and every guardrail count of cfg,
// then each library guardrail alone. It returns what it measured even on
// error, and deletes the Guardrails it created.
func measureAdmission(ctx context.Context, h *harness.Harness, cfg admissionConfig, logf func(string, ...any)) (rep *admissionReport, err error) {
	rep = &admissionReport{cfg: cfg}
	c, err := loadClient(h)
	if err != nil {
		return rep, err
	}
	if err := h.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return rep, fmt.Errorf("create namespace %s: %w", benchNamespace, err)
	}
	handler, stopHandler, err := inProcessHandler(ctx, h)
	if err != nil {
		return rep, err
	}
	defer stopHandler()
	set := &guardrailSet{client: h.Client, store: h.Guardrails}
	defer func() {
		// Leave no Guardrail behind for the next scenario.
		if cerr := set.resize(context.WithoutCancel(ctx), 0); cerr != nil {
			err = errors.Join(err, fmt.Errorf("delete the benchmark guardrails: %w", cerr))
		}
	}()
	sample, err := handlerRequest(ctx, c)
	if err != nil {
		return rep, err
	}
	for _, n := range counts(cfg.Guardrails) {
		start := time.Now()
		if err := set.resize(ctx, n); err != nil {
			return rep, err
		}
		logf("admission: %d guardrails loaded in %s", n, time.Since(start).Round(time.Millisecond))
		row, err := measureCount(ctx, c, handler, sample, cfg, n)
		if err != nil {
			return rep, fmt.Errorf("%d guardrails: %w", n, err)
		}
		logf("admission: %d guardrails: API p50 %s p99 %s, eval p50 %s, %d failed", n, ms(percentile(row.api, 0.5)), ms(percentile(row.api, 0.99)), ms(percentile(row.eval, 0.5)), row.failed)
		rep.rows = append(rep.rows, row)
	}
	if rep.modules, err = measureModules(ctx, handler, sample, cfg.HandlerRuns); err != nil {
		return rep, err
	}
	return rep, nil
}

// counts returns the guardrail counts to measure: the baseline 0 first,
// then the others in the order given, each once.
func counts(list []int) []int {
	out := []int{0}
	for _, n := range list {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// measureCount measures with the guardrails now loaded: warm-up, then the
// measured requests between two reads of the manager's histogram, then the
// in-process handler.
func measureCount(ctx context.Context, c client.Client, handler *admission.Handler, sample cradmission.Request, cfg admissionConfig, n int) (admissionRow, error) {
	prefix := fmt.Sprintf("bench-g%d", n)
	if cfg.Warmup > 0 {
		warm, err := sendLoad(ctx, c, prefix+"-warmup", cfg.Warmup, cfg.Rate, cfg.Concurrency)
		if err != nil {
			return admissionRow{}, fmt.Errorf("warm-up: %w", err)
		}
		if warm.failed > 0 {
			return admissionRow{}, fmt.Errorf("warm-up: %d of %d requests failed, the first with: %w", warm.failed, cfg.Warmup, warm.firstErr)
		}
	}
	before, err := gatherHistogram(metrics.Registry, admissionHistogram)
	if err != nil {
		return admissionRow{}, err
	}
	res, err := sendLoad(ctx, c, prefix, cfg.Requests, cfg.Rate, cfg.Concurrency)
	if err != nil {
		return admissionRow{}, err
	}
	after, err := gatherHistogram(metrics.Registry, admissionHistogram)
	if err != nil {
		return admissionRow{}, err
	}
	row := admissionRow{
		guardrails: n,
		sent:       cfg.Requests,
		failed:     res.failed,
		firstErr:   res.firstErr,
		rate:       float64(cfg.Requests) / res.elapsed.Seconds(),
		api:        sorted(res.latencies),
		served:     after.since(before),
	}
	// After the second read: these calls are observed by the histogram too.
	if row.eval, err = timeHandler(ctx, handler, sample, cfg.HandlerRuns); err != nil {
		return row, err
	}
	return row, nil
}

// loadResult is what one run of requests measured.
type loadResult struct {
	// latencies of the successful requests.
	latencies []time.Duration
	failed    int
	firstErr  error
	// elapsed is from the first request sent to the last answered.
	elapsed time.Duration
}

// sendLoad sends n server-side dry-run creates of compliant Buckets, the
// i-th at i/rate seconds, from concurrency goroutines. A request is timed
// from when a goroutine sends it: when every goroutine is busy the next
// request waits, which shows as an achieved rate below the target.
func sendLoad(ctx context.Context, c client.Client, prefix string, n int, rate float64, concurrency int) (loadResult, error) {
	latencies := make([]time.Duration, n)
	errs := make([]error, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range jobs {
				b := compliantBucket(fmt.Sprintf("%s-%05d", prefix, i))
				start := time.Now()
				errs[i] = c.Create(ctx, b, client.DryRunAll)
				latencies[i] = time.Since(start)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
dispatch:
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				break dispatch
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()
	res := loadResult{elapsed: time.Since(start)}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("send requests: %w", err)
	}
	for i, err := range errs {
		if err != nil {
			if res.failed++; res.firstErr == nil {
				res.firstErr = err
			}
			continue
		}
		res.latencies = append(res.latencies, latencies[i])
	}
	return res, nil
}

// loadClient returns a client without client-side rate limiting, so that
// the API server receives the target rate.
func loadClient(h *harness.Harness) (client.Client, error) {
	cfg := rest.CopyConfig(h.Env.ControlPlane.Config)
	cfg.RateLimiter = nil
	cfg.QPS = -1 // no limiter (client-go)
	c, err := client.New(cfg, client.Options{Scheme: h.Scheme})
	if err != nil {
		return nil, fmt.Errorf("create the load client: %w", err)
	}
	return c, nil
}

// compliantBucket returns a production Bucket that every library
// guardrail, with the parameters of newGuardrail, admits. It is labelled
// env=production so that the production guardrails check it in full
// rather than skip it.
func compliantBucket(name string) *storagev1alpha1.Bucket {
	return &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: benchNamespace,
			Name:      name,
			Labels:    map[string]string{"owner": "bench", "cost-center": "cc-0000", "env": "production"},
		},
		Spec: storagev1alpha1.BucketSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
				ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: localenv.AWSProviderConfig},
				DeletionPolicy:    stratusv1alpha1.DeletionOrphan,
			},
			Region:       benchRegion,
			Versioning:   storagev1alpha1.VersioningEnabled,
			Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged},
			PublicAccess: storagev1alpha1.PublicAccessBlocked,
		},
	}
}

// newGuardrail returns the i-th benchmark Guardrail: library guardrail e
// on every kind in every namespace, denying violations, with parameters
// compliantBucket meets.
func newGuardrail(i int, e library.Entry) *policyv1alpha1.Guardrail {
	g := &policyv1alpha1.Guardrail{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%03d-%s", i, e.Name)},
		Spec: policyv1alpha1.GuardrailSpec{
			Rego:              e.Module,
			Match:             policyv1alpha1.Match{Kinds: []policyv1alpha1.KindSelector{{APIGroups: []string{"*"}, Kinds: []string{"*"}}}},
			EnforcementAction: policyv1alpha1.EnforcementDeny,
		},
	}
	// Only allowed-regions has no usable default (no region is allowed).
	if e.Name == "allowed-regions" {
		g.Spec.Parameters = &runtime.RawExtension{Raw: []byte(`{"regions":["` + benchRegion + `","eu-west-1"]}`)}
	}
	return g
}

// guardrailSet is the Guardrails the scenario created, in order.
type guardrailSet struct {
	client  client.Client
	store   *guardrails.Store
	created []*policyv1alpha1.Guardrail
}

// resize creates or deletes Guardrails until there are n, cycling through
// the library, then waits until the store holds exactly them.
func (s *guardrailSet) resize(ctx context.Context, n int) error {
	for len(s.created) > n {
		g := s.created[len(s.created)-1]
		if err := s.client.Delete(ctx, g); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete guardrail %s: %w", g.Name, err)
		}
		s.created = s.created[:len(s.created)-1]
	}
	lib := library.All()
	for i := len(s.created); i < n; i++ {
		g := newGuardrail(i, lib[i%len(lib)])
		if err := s.client.Create(ctx, g); err != nil {
			return fmt.Errorf("create guardrail %s: %w", g.Name, err)
		}
		s.created = append(s.created, g)
	}
	deadline := time.Now().Add(harness.Patience)
	for {
		missing, err := s.notLoaded()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			if missing != nil && s.client.Get(ctx, client.ObjectKeyFromObject(missing), missing) == nil {
				if c := meta.FindStatusCondition(missing.Status.Conditions, "Compiled"); c != nil {
					err = fmt.Errorf("%w (Compiled %s: %s)", err, c.Status, c.Message)
				}
			}
			return fmt.Errorf("wait for %d guardrails in the store: still not there after %s: %w", n, harness.Patience, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d guardrails in the store: %w", n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// notLoaded returns an error, and the first Guardrail not loaded if any,
// unless the store holds exactly the set, each at its generation.
func (s *guardrailSet) notLoaded() (*policyv1alpha1.Guardrail, error) {
	for _, g := range s.created {
		if e, ok := s.store.Get(g.Name); !ok || e.Generation != g.Generation {
			return g, fmt.Errorf("guardrail %s is not loaded", g.Name)
		}
	}
	if loaded := len(s.store.Snapshot().Entries); loaded != len(s.created) {
		return nil, fmt.Errorf("the store holds %d guardrails, want %d", loaded, len(s.created))
	}
	return nil, nil
}

// inProcessHandler returns a guardrail webhook handler configured as the
// manager's (policy/setup, test/harness) on the manager's store, with its
// own cache, to time evaluation without HTTP, TLS and the API server. It
// records no Events, which dry-run requests never do. stop stops its cache.
func inProcessHandler(ctx context.Context, h *harness.Harness) (_ *admission.Handler, stop func(), _ error) {
	c, err := cache.New(h.Env.ControlPlane.Config, cache.Options{Scheme: h.Scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("create a cache for the in-process handler: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Start(ctx) // returns when ctx is cancelled; a failure shows below
	}()
	stop = func() { cancel(); <-done }
	if !c.WaitForCacheSync(ctx) {
		stop()
		return nil, nil, errors.New("the in-process handler's cache did not sync")
	}
	return &admission.Handler{
		Store:            h.Guardrails,
		Composites:       catalog.New(c),
		Namespaces:       c,
		ExemptNamespaces: admission.DefaultExemptNamespaces,
		FailurePolicy:    admission.Fail,
		Timeout:          5 * time.Second,
		Log:              logr.Discard(),
	}, stop, nil
}

// handlerRequest dry-runs one compliant Bucket and returns the admission
// request the API server sends the webhook for it, defaults included, to
// call the handler with in-process.
func handlerRequest(ctx context.Context, c client.Client) (cradmission.Request, error) {
	b := compliantBucket("bench-sample")
	if err := c.Create(ctx, b, client.DryRunAll); err != nil {
		return cradmission.Request{}, fmt.Errorf("dry-run the sample Bucket: %w", err)
	}
	gvk := storagev1alpha1.GroupVersion.WithKind("Bucket")
	b.SetGroupVersionKind(gvk)
	raw, err := json.Marshal(b)
	if err != nil {
		return cradmission.Request{}, fmt.Errorf("encode the sample Bucket: %w", err)
	}
	kind := metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	resource := metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: "buckets"}
	return cradmission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:             "bench-sample",
		Kind:            kind,
		Resource:        resource,
		RequestKind:     &kind,
		RequestResource: &resource,
		Namespace:       b.Namespace,
		Name:            b.Name,
		Operation:       admissionv1.Create,
		UserInfo:        authenticationv1.UserInfo{Username: "bench", Groups: []string{"system:masters", "system:authenticated"}},
		Object:          runtime.RawExtension{Raw: raw},
		DryRun:          ptr.To(true),
	}}, nil
}

// timeHandler calls handler with req runs times in a row, after a few
// untimed calls, and returns the sorted durations. Every call must admit.
func timeHandler(ctx context.Context, handler *admission.Handler, req cradmission.Request, runs int) ([]time.Duration, error) {
	out := make([]time.Duration, runs)
	for i := -handlerWarmup; i < runs; i++ {
		start := time.Now()
		resp := handler.Handle(ctx, req)
		d := time.Since(start)
		if !resp.Allowed {
			msg := "no reason"
			if resp.Result != nil {
				msg = resp.Result.Message
			}
			return nil, fmt.Errorf("the in-process handler denied the sample Bucket: %s", msg)
		}
		if i >= 0 {
			out[i] = d
		}
	}
	return sorted(out), nil
}

// measureModules times the handler with each library guardrail alone, to
// show which guardrails cost the most. Slowest first.
func measureModules(ctx context.Context, base *admission.Handler, req cradmission.Request, runs int) ([]moduleRow, error) {
	var rows []moduleRow
	for i, e := range library.All() {
		entry, err := guardrails.Compile(newGuardrail(i, e))
		if err != nil {
			return nil, fmt.Errorf("compile library guardrail %s: %w", e.Name, err)
		}
		store := guardrails.NewStore()
		store.Put(entry)
		store.MarkReady()
		alone := *base
		alone.Store = store
		eval, err := timeHandler(ctx, &alone, req, runs)
		if err != nil {
			return nil, fmt.Errorf("library guardrail %s: %w", e.Name, err)
		}
		rows = append(rows, moduleRow{name: e.Name, eval: eval})
	}
	slices.SortStableFunc(rows, func(a, b moduleRow) int {
		return cmp.Compare(percentile(b.eval, 0.5), percentile(a.eval, 0.5))
	})
	return rows, nil
}

// write writes the report as markdown.
func (r *admissionReport) write(w io.Writer, machine, command string) {
	cfg := r.cfg
	fmt.Fprintf(w, "## Admission latency\n\n")
	fmt.Fprintf(w, "Each request is a server-side dry-run create of a compliant production Bucket "+
		"(labels owner, cost-center, env=production; region %s; versioning Enabled; encryption ProviderManaged; "+
		"publicAccess Blocked; deletionPolicy Orphan), so every guardrail judges it in full and admits it. "+
		"The guardrails are the %d library guardrails in turn, each matching every kind, with enforcementAction deny "+
		"(any violation would fail the request). Per row: %d warm-up requests, then %d measured, "+
		"at a target of %g req/s from %d goroutines.\n\n",
		benchRegion, len(library.All()), cfg.Warmup, cfg.Requests, cfg.Rate, cfg.Concurrency)
	fmt.Fprintln(w, "| guardrails | requests | rate (req/s) | API p50 | API p99 | webhook eval p50 | webhook eval p99 | failed |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.rows {
		label := fmt.Sprint(row.guardrails)
		if row.guardrails == 0 {
			label = "0 (baseline)"
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %s | %s | %s | %s | %d |\n", label, row.sent, row.rate,
			ms(percentile(row.api, 0.5)), ms(percentile(row.api, 0.99)),
			ms(percentile(row.eval, 0.5)), ms(percentile(row.eval, 0.99)), row.failed)
	}
	fmt.Fprintf(w, "\nmachine: %s\n\ncommand: `%s`\n\n", machine, command)
	fmt.Fprintf(w, "- API: latency of the dry-run create as the client sees it, end to end through kube-apiserver, which calls the webhook over HTTPS.\n")
	fmt.Fprintf(w, "- webhook eval: the guardrail webhook's Handler.Handle (decode, match, evaluate, respond) called in-process with the same request, %d times in a row after the measured requests: exact percentiles, no HTTP, TLS or concurrent load.\n", cfg.HandlerRuns)
	fmt.Fprintf(w, "- rate: measured requests answered per second, from the first sent to the last answered.\n\n")
	fmt.Fprintf(w, "The served webhook during the measured requests, from the manager's `%s` (mean exact, percentiles estimated from its buckets):\n\n", admissionHistogram)
	fmt.Fprintln(w, "| guardrails | observed | mean | p50 (est.) | p99 (est.) |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|")
	for _, row := range r.rows {
		fmt.Fprintf(w, "| %d | %d | %s | %s | %s |\n", row.guardrails, row.served.count,
			ms(row.served.mean()), ms(row.served.quantile(0.5)), ms(row.served.quantile(0.99)))
	}
	if len(r.modules) == 0 {
		return
	}
	fmt.Fprintf(w, "\nEach library guardrail alone, slowest first (Handler.Handle in-process, %d runs; compare with the baseline's webhook eval):\n\n", cfg.HandlerRuns)
	fmt.Fprintln(w, "| library guardrail | eval p50 | eval p99 |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, m := range r.modules {
		fmt.Fprintf(w, "| %s | %s | %s |\n", m.name, ms(percentile(m.eval, 0.5)), ms(percentile(m.eval, 0.99)))
	}
}
