// Command bench measures the Stratus operator on the local environment of
// the tests (a real kube-apiserver and etcd, the manager in-process with
// its webhooks) and prints the results as markdown.
//
// Each measurement is a scenario, chosen with -scenario (a comma list, or
// all). Run `go run ./test/bench -h` for the scenarios and their flags, and
// `make bench` for the full size recorded in test/bench/RESULTS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// scenario is one measurement the command can run.
type scenario struct {
	// name selects the scenario with -scenario.
	name string
	// doc says in one line what the scenario measures.
	doc string
	// run measures and writes its markdown section to e.out.
	run func(ctx context.Context, e *env) error
}

// scenarios returns every scenario, in the order `-scenario=all` runs them.
// A new scenario is one more entry here, plus its flags in parseFlags.
func scenarios() []scenario {
	return []scenario{
		{name: "admission", doc: "latency of admission requests through the API server and the guardrail webhook", run: runAdmission},
		{name: "scale", doc: "N Buckets: time to Ready, first reconcile under load, steady-state cloud calls, memory, churn (issue 8)", run: runScale},
		{name: "composites", doc: "N composites of three Buckets each to Ready, Stratus against kro", run: runComposites},
		{name: "gatekeeper", doc: "admission latency with the Stratus guardrail webhook against OPA Gatekeeper (builds Gatekeeper once)", run: runGatekeeper},
	}
}

// config is the parsed command line.
type config struct {
	// scenarios to run, in order.
	scenarios []scenario
	// admission sizes the admission scenario.
	admission admissionConfig
	// scale sizes the scale scenario.
	scale scaleConfig
	// composites sizes the composites scenario.
	composites compositesConfig
	// gatekeeper sizes the gatekeeper scenario.
	gatekeeper gatekeeperConfig
}

// env is what a scenario runs against. Scenarios share one harness: each
// must leave the cluster as it found it.
type env struct {
	h   *harness.Harness
	cfg config
	// out receives the results (markdown).
	out io.Writer
	// logf reports progress, on stderr.
	logf func(format string, args ...any)
	// machine describes this machine, for the results.
	machine string
	// command is the command line, for the results.
	command string
}

// run parses args, starts the harness, runs the chosen scenarios and stops
// the harness.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	e := &env{
		cfg:     cfg,
		out:     stdout,
		logf:    func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) },
		machine: machine(),
		command: strings.Join(append([]string{"go run ./test/bench"}, args...), " "),
	}
	start := time.Now()
	e.logf("starting the local environment and the manager")
	if e.h, err = harness.Start(ctx, registry.DefaultDrivers()); err != nil {
		return fmt.Errorf("start the harness: %w", err)
	}
	defer func() {
		if stopErr := e.h.Stop(); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop the harness: %w", stopErr))
		}
	}()
	e.logf("harness ready in %s", time.Since(start).Round(time.Millisecond))
	for _, s := range cfg.scenarios {
		e.logf("scenario %s: %s", s.name, s.doc)
		if err := s.run(ctx, e); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	return nil
}

// parseFlags reads the command line. Errors and -h are written to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, s := range scenarios() {
		names = append(names, s.name)
	}
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./test/bench [flags]\n\nscenarios:")
		for _, s := range scenarios() {
			fmt.Fprintf(fs.Output(), "  %-12s %s\n", s.name, s.doc)
		}
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
	scenarioFlag := fs.String("scenario", "all", "scenarios to run: a comma list of "+strings.Join(names, ", ")+", or all")
	guardrailsFlag := fs.String("guardrails", "1,10,50", "admission: comma list of guardrail counts; a 0-guardrail baseline is always measured first")
	var cfg config
	a := &cfg.admission
	fs.Float64Var(&a.Rate, "rate", 50, "admission: requests per second")
	fs.IntVar(&a.Requests, "requests", 500, "admission: measured requests per guardrail count")
	fs.IntVar(&a.Warmup, "warmup", 50, "admission: warm-up requests per guardrail count, not measured")
	fs.IntVar(&a.Concurrency, "concurrency", 16, "admission: goroutines sending requests (the most requests in flight)")
	fs.IntVar(&a.HandlerRuns, "handler-runs", 1000, "admission: in-process calls of the webhook handler per guardrail count")
	cfg.composites.bindFlags(fs)
	cfg.scale.bindFlags(fs)
	cfg.gatekeeper.bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.scenarios, err = selectScenarios(*scenarioFlag); err != nil {
		return config{}, err
	}
	if a.Guardrails, err = parseCounts(*guardrailsFlag); err != nil {
		return config{}, fmt.Errorf("-guardrails: %w", err)
	}
	switch {
	case a.Rate <= 0:
		return config{}, fmt.Errorf("-rate must be positive, got %v", a.Rate)
	case a.Requests <= 0:
		return config{}, fmt.Errorf("-requests must be positive, got %d", a.Requests)
	case a.Warmup < 0:
		return config{}, fmt.Errorf("-warmup must not be negative, got %d", a.Warmup)
	case a.Concurrency <= 0:
		return config{}, fmt.Errorf("-concurrency must be positive, got %d", a.Concurrency)
	case a.HandlerRuns <= 0:
		return config{}, fmt.Errorf("-handler-runs must be positive, got %d", a.HandlerRuns)
	}
	if err := cfg.composites.validate(); err != nil {
		return config{}, err
	}
	if err := cfg.scale.validate(); err != nil {
		return config{}, err
	}
	if err := cfg.gatekeeper.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// selectScenarios resolves a comma list of scenario names, or all.
func selectScenarios(list string) ([]scenario, error) {
	all := scenarios()
	var out []scenario
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "all" {
			return all, nil
		}
		i := slices.IndexFunc(all, func(s scenario) bool { return s.name == name })
		if i < 0 {
			var known []string
			for _, s := range all {
				known = append(known, s.name)
			}
			return nil, fmt.Errorf("-scenario: unknown scenario %q (known: %s, all)", name, strings.Join(known, ", "))
		}
		if !slices.ContainsFunc(out, func(s scenario) bool { return s.name == name }) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// parseCounts reads a comma list of non-negative integers.
func parseCounts(list string) ([]int, error) {
	var out []int
	for _, field := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", field, err)
		}
		if n < 0 {
			return nil, fmt.Errorf("%d is negative", n)
		}
		out = append(out, n)
	}
	return out, nil
}
