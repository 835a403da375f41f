package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/stratus-operator/stratus/policy/library"
	policysetup "github.com/stratus-operator/stratus/policy/setup"
	"github.com/stratus-operator/stratus/test/harness"
)

// gatekeeperConfig sizes the gatekeeper scenario. Its load (rate,
// requests, warm-up, concurrency) is the admission scenario's.
type gatekeeperConfig struct {
	// Policies are the policy counts (Guardrails on one side, Gatekeeper
	// constraints on the other) measured after the 0-policy row.
	Policies []int
	// Build builds Gatekeeper when it is not built yet (a few minutes);
	// without it the scenario fails with errGatekeeperNotBuilt.
	Build bool
}

// bindFlags registers the scenario's flags.
func (c *gatekeeperConfig) bindFlags(fs *flag.FlagSet) {
	c.Policies = []int{1, 10, 50}
	fs.Func("gatekeeper-policies", "gatekeeper: comma list of policy counts (Guardrails, and as many Gatekeeper constraints); a 0-policy row is always measured first (default 1,10,50)", func(list string) error {
		counts, err := parseCounts(list)
		if err != nil {
			return err
		}
		c.Policies = counts
		return nil
	})
	fs.BoolVar(&c.Build, "gatekeeper-build", true, "gatekeeper: build Gatekeeper with "+gatekeeperBuildScript+" when it is not built yet (a few minutes, once); when false, fail instead")
}

// validate checks the flags.
func (c *gatekeeperConfig) validate() error {
	if len(c.Policies) == 0 {
		return errors.New("-gatekeeper-policies: no count")
	}
	return nil
}

// gatekeeperWebhookConfiguration is the ValidatingWebhookConfiguration
// that puts Gatekeeper in the path of Bucket requests.
const gatekeeperWebhookConfiguration = "gatekeeper-bench"

// sideResult is one webhook's measurement at one policy count.
type sideResult struct {
	// sent is the number of measured requests, failed how many failed.
	sent, failed int
	firstErr     error
	// rate is the achieved rate, per second.
	rate float64
	// api are the sorted client latencies of the successful requests.
	api []time.Duration
	// served is what the webhook's own histogram observed meanwhile.
	served histogram
}

// gatekeeperRow compares the two webhooks at one policy count.
type gatekeeperRow struct {
	policies            int
	stratus, gatekeeper sideResult
	// strayStratus is how many requests the Stratus webhook served during
	// the Gatekeeper measurement: 0 when it was out of the path.
	strayStratus uint64
	// gatekeeperRSS is Gatekeeper's RSS after its measurement, benchRSS
	// this process' RSS (manager, harness and load client) after Stratus'.
	gatekeeperRSS, benchRSS int64
}

// gatekeeperReport is the result of the gatekeeper scenario.
type gatekeeperReport struct {
	cfg admissionConfig
	// version is Gatekeeper's, binary the size of its binary, built how
	// long build.sh took this run (0 when it was cached).
	version string
	binary  int64
	built   time.Duration
	// none is the API latency with neither webhook in the path.
	none sideResult
	rows []gatekeeperRow
	// gatekeeperPeak is Gatekeeper's peak RSS (VmHWM), benchStart this
	// process' RSS before the scenario.
	gatekeeperPeak, benchStart int64
}

// runGatekeeper is the gatekeeper scenario: it measures, writes the report
// and fails if any request failed.
func runGatekeeper(ctx context.Context, e *env) error {
	rep, err := measureGatekeeper(ctx, e.h, e.cfg.admission, e.cfg.gatekeeper, e.logf)
	if len(rep.rows) > 0 {
		rep.write(e.out, e.machine, e.command)
	}
	if err != nil {
		return err
	}
	for _, r := range rep.rows {
		for _, s := range []struct {
			name string
			res  sideResult
		}{{"Stratus", r.stratus}, {"Gatekeeper", r.gatekeeper}} {
			if s.res.failed > 0 {
				return fmt.Errorf("%s: %d of %d requests with %d policies failed, the first with: %w", s.name, s.res.failed, s.res.sent, r.policies, s.res.firstErr)
			}
		}
		if r.strayStratus > 0 {
			return fmt.Errorf("the Stratus webhook served %d requests while only Gatekeeper was in the path (%d policies)", r.strayStratus, r.policies)
		}
	}
	return nil
}

// measureGatekeeper runs Gatekeeper next to the harness' manager and
// measures, for each policy count, the admission latency with only the
// Stratus webhook in the path, then with only Gatekeeper's. It returns
// what it measured even on error, and removes what it installed (but the
// namespaces, which the test control plane cannot delete).
func measureGatekeeper(ctx context.Context, h *harness.Harness, load admissionConfig, cfg gatekeeperConfig, logf func(string, ...any)) (rep *gatekeeperReport, err error) {
	rep = &gatekeeperReport{cfg: load}
	rep.benchStart, _, _ = processRSS("self")
	toolDir, took, err := gatekeeperTool(ctx, cfg.Build, logf)
	if err != nil {
		return rep, err
	}
	rep.version = strings.TrimPrefix(filepath.Base(toolDir), "gatekeeper-")
	if info, err := os.Stat(filepath.Join(toolDir, "gatekeeper")); err == nil {
		rep.binary = info.Size()
	}
	if took > 10*time.Second { // a cache hit takes well under a second
		rep.built = took
	}
	c, err := loadClient(h)
	if err != nil {
		return rep, err
	}
	if err := apiextensionsv1.AddToScheme(h.Scheme); err != nil {
		return rep, fmt.Errorf("add apiextensions to the scheme: %w", err)
	}
	for _, ns := range []string{benchNamespace, gatekeeperNamespace} {
		if err := h.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			return rep, fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	// Cleanup runs in the reverse order: Stratus back in the path,
	// Gatekeeper out of it, no policy left, Gatekeeper stopped, its CRDs
	// removed.
	cleanup := context.WithoutCancel(ctx)
	crdOpts := envtest.CRDInstallOptions{Paths: []string{filepath.Join(toolDir, "crds")}, ErrorIfPathMissing: true}
	if _, err := envtest.InstallCRDs(h.Env.ControlPlane.Config, crdOpts); err != nil {
		return rep, fmt.Errorf("install gatekeeper's CRDs: %w", err)
	}
	defer func() {
		if cerr := envtest.UninstallCRDs(h.Env.ControlPlane.Config, crdOpts); cerr != nil {
			err = errors.Join(err, fmt.Errorf("uninstall gatekeeper's CRDs: %w", cerr))
		}
	}()
	start := time.Now()
	gk, err := startGatekeeper(ctx, h, toolDir)
	if err != nil {
		return rep, err
	}
	defer func() {
		if _, peak, rerr := gk.rss(); rerr == nil {
			rep.gatekeeperPeak = peak
		}
		if cerr := gk.stop(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	logf("gatekeeper: %s ready in %s (webhook on 127.0.0.1:%d, log in %s)", rep.version, time.Since(start).Round(time.Millisecond), gk.port, gk.dir)
	templates, err := installTemplates(ctx, h.Client)
	defer func() {
		if cerr := deleteAll(cleanup, h.Client, templates); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err != nil {
		return rep, fmt.Errorf("%w; gatekeeper's log ends with:\n%s", err, gk.logTail(400))
	}
	logf("gatekeeper: %d constraint templates installed", len(templates))
	constraints := &constraintSet{client: h.Client}
	guardrails := &guardrailSet{client: h.Client, store: h.Guardrails}
	defer func() {
		if cerr := errors.Join(constraints.resize(cleanup, 0), guardrails.resize(cleanup, 0)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("delete the benchmark policies: %w", cerr))
		}
	}()
	sw := &webhookSwitch{client: h.Client, load: c, gk: gk, stratusOn: true}
	defer func() {
		if cerr := errors.Join(sw.gatekeeper(cleanup, false), sw.stratus(cleanup, true)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("restore the webhook configurations: %w", cerr))
		}
	}()

	// Reference: the API server alone.
	if err := sw.only(ctx, ""); err != nil {
		return rep, err
	}
	if rep.none, err = measureSide(ctx, c, "bench-none", load, nil); err != nil {
		return rep, fmt.Errorf("no webhook: %w", err)
	}
	logf("gatekeeper: no webhook: API p50 %s p99 %s", ms(percentile(rep.none.api, 0.5)), ms(percentile(rep.none.api, 0.99)))
	for _, n := range counts(cfg.Policies) {
		row := gatekeeperRow{policies: n}
		// Gatekeeper alone, judging n constraints; no Guardrail loaded.
		start := time.Now()
		if err := errors.Join(guardrails.resize(ctx, 0), constraints.resize(ctx, n)); err != nil {
			return rep, err
		}
		logf("gatekeeper: %d constraints enforced in %s", n, time.Since(start).Round(time.Millisecond))
		if err := sw.only(ctx, "gatekeeper"); err != nil {
			return rep, err
		}
		if n > 0 {
			if err := probeDenied(ctx, c); err != nil {
				return rep, fmt.Errorf("%d constraints: %w", n, err)
			}
		}
		before, err := stratusServed()
		if err != nil {
			return rep, err
		}
		if row.gatekeeper, err = measureSide(ctx, c, fmt.Sprintf("bench-gk%d", n), load, func() (histogram, error) { return gk.served(ctx) }); err != nil {
			return rep, fmt.Errorf("gatekeeper, %d constraints: %w", n, errors.Join(err, gk.exited()))
		}
		after, err := stratusServed()
		if err != nil {
			return rep, err
		}
		row.strayStratus = after.count - before.count
		if row.gatekeeperRSS, _, err = gk.rss(); err != nil {
			return rep, err
		}
		// Stratus alone, judging n Guardrails; the constraints stay loaded
		// in Gatekeeper, which nothing calls.
		start = time.Now()
		if err := guardrails.resize(ctx, n); err != nil {
			return rep, err
		}
		logf("gatekeeper: %d guardrails loaded in %s", n, time.Since(start).Round(time.Millisecond))
		if err := sw.only(ctx, "stratus"); err != nil {
			return rep, err
		}
		if row.stratus, err = measureSide(ctx, c, fmt.Sprintf("bench-st%d", n), load, stratusServed); err != nil {
			return rep, fmt.Errorf("stratus, %d guardrails: %w", n, err)
		}
		row.benchRSS, _, _ = processRSS("self")
		logf("gatekeeper: %d policies: Stratus API p50 %s p99 %s, Gatekeeper API p50 %s p99 %s, Gatekeeper RSS %s",
			n, ms(percentile(row.stratus.api, 0.5)), ms(percentile(row.stratus.api, 0.99)),
			ms(percentile(row.gatekeeper.api, 0.5)), ms(percentile(row.gatekeeper.api, 0.99)), mib(row.gatekeeperRSS))
		rep.rows = append(rep.rows, row)
	}
	return rep, nil
}

// stratusServed reads the manager's histogram of the guardrail webhook.
func stratusServed() (histogram, error) {
	return gatherHistogram(metrics.Registry, admissionHistogram)
}

// measureSide sends the warm-up requests, then the measured ones between
// two reads of served (none when nil).
func measureSide(ctx context.Context, c client.Client, prefix string, cfg admissionConfig, served func() (histogram, error)) (sideResult, error) {
	if cfg.Warmup > 0 {
		warm, err := sendLoad(ctx, c, prefix+"-warmup", cfg.Warmup, cfg.Rate, cfg.Concurrency)
		if err != nil {
			return sideResult{}, fmt.Errorf("warm-up: %w", err)
		}
		if warm.failed > 0 {
			return sideResult{}, fmt.Errorf("warm-up: %d of %d requests failed, the first with: %w", warm.failed, cfg.Warmup, warm.firstErr)
		}
	}
	var before, after histogram
	var err error
	if served != nil {
		if before, err = served(); err != nil {
			return sideResult{}, err
		}
	}
	res, err := sendLoad(ctx, c, prefix, cfg.Requests, cfg.Rate, cfg.Concurrency)
	if err != nil {
		return sideResult{}, err
	}
	if served != nil {
		if after, err = served(); err != nil {
			return sideResult{}, err
		}
	}
	return sideResult{
		sent:     cfg.Requests,
		failed:   res.failed,
		firstErr: res.firstErr,
		rate:     float64(cfg.Requests) / res.elapsed.Seconds(),
		api:      sorted(res.latencies),
		served:   after.since(before),
	}, nil
}

// probeDenied dry-runs a Bucket that breaks every Bucket rule and checks
// that Gatekeeper denies it, naming a benchmark constraint: the webhook
// is in the path and enforces.
func probeDenied(ctx context.Context, c client.Client) error {
	b := compliantBucket("bench-probe")
	b.Labels = map[string]string{"env": "production"}
	b.Spec.Region = "ap-south-1"
	b.Spec.PublicAccess = "Allowed"
	b.Spec.Encryption = nil
	b.Spec.Versioning = "Disabled"
	err := c.Create(ctx, b, client.DryRunAll)
	switch {
	case err == nil:
		return errors.New("gatekeeper admitted a non-compliant Bucket")
	case !strings.Contains(err.Error(), "[bench-"):
		return fmt.Errorf("the non-compliant Bucket was refused, but not by a benchmark constraint: %w", err)
	}
	return nil
}

// webhookSwitch puts the Stratus guardrail webhook and Gatekeeper in or
// out of the path of Bucket requests, and waits until the API server
// follows: it sends dry-run creates until the webhook's own request count
// moves, or not.
type webhookSwitch struct {
	client client.Client
	load   client.Client
	gk     *gatekeeperProcess
	// stratusOn and gatekeeperOn say where each webhook is.
	stratusOn, gatekeeperOn bool
	// probes numbers the probe requests.
	probes atomic.Int64
}

// only leaves exactly the named webhook ("stratus", "gatekeeper") in the
// path, or none ("").
func (s *webhookSwitch) only(ctx context.Context, name string) error {
	// Remove first, so that the two are never in the path together.
	if name != "stratus" {
		if err := s.stratus(ctx, false); err != nil {
			return err
		}
	}
	if name != "gatekeeper" {
		if err := s.gatekeeper(ctx, false); err != nil {
			return err
		}
	}
	if name == "stratus" {
		return s.stratus(ctx, true)
	}
	if name == "gatekeeper" {
		return s.gatekeeper(ctx, true)
	}
	return nil
}

// stratus puts the Stratus guardrail webhook in the path of requests in
// benchNamespace, or out of it, with its namespaceSelector (the rest of
// the manager's webhook configuration, which it keeps in sync, is left
// alone).
func (s *webhookSwitch) stratus(ctx context.Context, on bool) error {
	if s.stratusOn == on {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := s.client.Get(ctx, client.ObjectKey{Name: policysetup.DefaultWebhookConfiguration}, vwc); err != nil {
			return err
		}
		for i := range vwc.Webhooks {
			w := &vwc.Webhooks[i]
			if w.Name != policysetup.GuardrailWebhook {
				continue
			}
			w.NamespaceSelector = &metav1.LabelSelector{}
			if !on {
				w.NamespaceSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{
					Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{benchNamespace},
				}}
			}
			return s.client.Update(ctx, vwc)
		}
		return fmt.Errorf("no webhook %s in %s", policysetup.GuardrailWebhook, policysetup.DefaultWebhookConfiguration)
	})
	if err != nil {
		return fmt.Errorf("set the Stratus webhook in the path to %t: %w", on, err)
	}
	s.stratusOn = on
	return s.await(ctx, "the Stratus webhook", on, stratusServed)
}

// gatekeeper creates or deletes the ValidatingWebhookConfiguration that
// sends Bucket creates and updates to Gatekeeper.
func (s *webhookSwitch) gatekeeper(ctx context.Context, on bool) error {
	if s.gatekeeperOn == on {
		return nil
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: gatekeeperWebhookConfiguration},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validation.gatekeeper.sh",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				URL:      ptr.To(fmt.Sprintf("https://127.0.0.1:%d/v1/admit", s.gk.port)),
				CABundle: s.gk.caPEM,
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{"storage.stratus.dev"},
					APIVersions: []string{"*"},
					Resources:   []string{"buckets"},
				},
			}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](5), // the Stratus webhook's
		}},
	}
	var err error
	if on {
		err = s.client.Create(ctx, vwc)
	} else if err = s.client.Delete(ctx, vwc); apierrors.IsNotFound(err) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("set gatekeeper in the path to %t: %w", on, err)
	}
	s.gatekeeperOn = on
	return s.await(ctx, "gatekeeper", on, func() (histogram, error) { return s.gk.served(ctx) })
}

// await sends dry-run creates of compliant Buckets until one is served by
// the webhook whose histogram served reads (on) or one is not (off).
func (s *webhookSwitch) await(ctx context.Context, what string, on bool, served func() (histogram, error)) error {
	err := poll(ctx, harness.Patience, func() error {
		before, err := served()
		if err != nil {
			return err
		}
		b := compliantBucket(fmt.Sprintf("bench-switch-%05d", s.probes.Add(1)))
		if err := s.load.Create(ctx, b, client.DryRunAll); err != nil {
			return fmt.Errorf("probe request: %w", err)
		}
		after, err := served()
		if err != nil {
			return err
		}
		if called := after.count > before.count; called != on {
			return fmt.Errorf("called %t, want %t", called, on)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for %s in the path to be %t: %w", what, on, err)
	}
	return nil
}

// mib formats a size in MiB.
func mib(bytes int64) string {
	return fmt.Sprintf("%.0f MiB", float64(bytes)/(1<<20))
}

// ratio formats b/a.
func ratio(a, b time.Duration) string {
	if a <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", float64(b)/float64(a))
}

// write writes the report as markdown.
func (r *gatekeeperReport) write(w io.Writer, machine, command string) {
	cfg := r.cfg
	fmt.Fprintf(w, "## Admission latency: Stratus guardrails vs OPA Gatekeeper\n\n")
	fmt.Fprintf(w, "The admission scenario's requests (server-side dry-run creates of the same compliant production Bucket), "+
		"judged by the Stratus guardrail webhook (the manager, in-process) or by OPA Gatekeeper %s (a local process, "+
		"the webhook, status and generate operations, no audit), never both: for each side the other is out of the path "+
		"(the Stratus webhook by a namespaceSelector excluding %s, Gatekeeper by deleting its ValidatingWebhookConfiguration), "+
		"and the switch is confirmed by the webhooks' own request counters. "+
		"With N policies, Stratus has the first N benchmark Guardrails of the admission scenario (the %d library guardrails in turn), "+
		"Gatekeeper the first N constraints of the same library guardrails, translated to ConstraintTemplates "+
		"(the same Rego rules, over input.review.object), each on every kind, enforcementAction deny, the same parameters. "+
		"Per row and side: %d warm-up requests, then %d measured, at a target of %g req/s from %d goroutines.\n\n",
		r.version, benchNamespace, len(templateNames()), cfg.Warmup, cfg.Requests, cfg.Rate, cfg.Concurrency)
	fmt.Fprintln(w, "| policies | Stratus API p50 | Stratus API p99 | Gatekeeper API p50 | Gatekeeper API p99 | ratio p50 | ratio p99 |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.rows {
		sp50, sp99 := percentile(row.stratus.api, 0.5), percentile(row.stratus.api, 0.99)
		gp50, gp99 := percentile(row.gatekeeper.api, 0.5), percentile(row.gatekeeper.api, 0.99)
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", row.policies, ms(sp50), ms(sp99), ms(gp50), ms(gp99), ratio(sp50, gp50), ratio(sp99, gp99))
	}
	fmt.Fprintf(w, "\nratio: Gatekeeper / Stratus. With no webhook in the path at all, the same requests took p50 %s, p99 %s.\n\n",
		ms(percentile(r.none.api, 0.5)), ms(percentile(r.none.api, 0.99)))
	fmt.Fprintln(w, "| policies | Stratus served mean | Gatekeeper served mean | Stratus rate (req/s) | Gatekeeper rate (req/s) | failed (S/G) | Gatekeeper RSS | bench process RSS |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.rows {
		fmt.Fprintf(w, "| %d | %s | %s | %.1f | %.1f | %d/%d | %s | %s |\n", row.policies,
			ms(row.stratus.served.mean()), ms(row.gatekeeper.served.mean()), row.stratus.rate, row.gatekeeper.rate,
			row.stratus.failed, row.gatekeeper.failed, mib(row.gatekeeperRSS), mib(row.benchRSS))
	}
	fmt.Fprintf(w, "\nmachine: %s\n\ncommand: `%s`\n\n", machine, command)
	built := "cached"
	if r.built > 0 {
		built = "built by this run in " + r.built.Round(time.Second).String()
	}
	fmt.Fprintf(w, "- Gatekeeper %s: built from the Go module proxy by test/bench/tools/gatekeeper/build.sh (%s); binary %s.\n", r.version, built, mib(r.binary))
	fmt.Fprintf(w, "- served mean: each webhook's own histogram over the measured requests (Stratus `%s`, Gatekeeper `%s`).\n", admissionHistogram, gatekeeperRequestDuration)
	fmt.Fprintf(w, "- Gatekeeper RSS: its process after its measurement (peak %s). bench process RSS: this process after the Stratus measurement, "+
		"which holds the manager but also the harness and the load client (%s before the scenario); the manager alone is not measurable in-process.\n\n",
		mib(r.gatekeeperPeak), mib(r.benchStart))
}

// templateNames returns the names of the translated templates.
func templateNames() []string {
	var out []string
	for _, e := range library.All() {
		out = append(out, strings.ToLower(templateKind(e.Name)))
	}
	return out
}
