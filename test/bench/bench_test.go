package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The admission scenario runs end to end at a tiny size: the table has the
// baseline and the one-guardrail rows, and every request was admitted.
func TestAdmissionSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	start := time.Now()
	err := run(ctx, []string{"-scenario=admission", "-guardrails=1", "-requests=20", "-rate=100", "-warmup=5", "-handler-runs=20"}, &out, &progress)
	t.Logf("ran in %s; progress:\n%s\nresults:\n%s", time.Since(start).Round(time.Millisecond), progress.String(), out.String())
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| guardrails | requests |") {
			rows = map[string][]string{} // the main table starts here
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 8 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if _, seen := rows[cells[0]]; !seen {
			rows[cells[0]] = cells
		}
	}
	for _, label := range []string{"0 (baseline)", "1"} {
		cells, ok := rows[label]
		if !ok {
			t.Errorf("no row %q in the admission table", label)
			continue
		}
		if cells[1] != "20" || cells[7] != "0" {
			t.Errorf("row %q: %s requests, %s failed; want 20, 0 failed", label, cells[1], cells[7])
		}
	}
	if !strings.Contains(out.String(), "machine: ") {
		t.Error("the results do not describe the machine")
	}
}

// parseFlags accepts a comma list of scenarios or all, and rejects unknown
// ones.
func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-scenario=admission,admission", "-guardrails=10,1"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.scenarios) != 1 || cfg.scenarios[0].name != "admission" {
		t.Errorf("scenarios %v, want [admission]", cfg.scenarios)
	}
	if got := counts(cfg.admission.Guardrails); len(got) != 3 || got[0] != 0 || got[1] != 10 || got[2] != 1 {
		t.Errorf("counts %v, want [0 10 1]", got)
	}
	if cfg, err = parseFlags([]string{"-scenario=all"}, &bytes.Buffer{}); err != nil || len(cfg.scenarios) != len(scenarios()) {
		t.Errorf("all: %v, %v", cfg.scenarios, err)
	}
	for _, args := range [][]string{{"-scenario=nope"}, {"-guardrails=1,x"}, {"-rate=0"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
