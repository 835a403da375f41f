package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The scale scenario runs end to end at a tiny size, with short windows:
// every row of its table is there, and churn leaked nothing.
func TestScaleSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	start := time.Now()
	err := run(ctx, []string{"-scenario=scale", "-scale-n=20", "-scale-concurrency=8", "-first-reconcile-tries=3", "-steady-window=2s", "-drift-poll-interval=10s", "-scale-settle=1s", "-scale-timeout=60s"}, &out, &progress)
	t.Logf("ran in %s; progress:\n%s\nresults:\n%s", time.Since(start).Round(time.Millisecond), progress.String(), out.String())
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[cells[0]] = cells
	}
	for _, name := range []string{
		"time-to-ready",
		"first-reconcile-under-load p50", "first-reconcile-under-load p99",
		"steady-state-cost", "steady-state-cost: calls per poll", "drift-detection",
		"memory: RSS", "memory: Go heap in use",
		"churn", "churn: leaks",
	} {
		cells, ok := rows[name]
		if !ok {
			t.Errorf("no row %q in the scale table", name)
			continue
		}
		if name != "drift-detection" && cells[1] != "20" {
			t.Errorf("row %q: N %s, want 20", name, cells[1])
		}
	}
	if cells := rows["churn: leaks"]; cells != nil && cells[2] != "none" {
		t.Errorf("churn leaked: %s", cells[2])
	}
}

// parsePromLine reads the series of the Prometheus text format.
func TestParseSample(t *testing.T) {
	s, err := parsePromLine(`stratus_cloud_api_calls_total{operation="HeadBucket",provider="aws",result="success",service="s3"} 42`)
	if err != nil {
		t.Fatal(err)
	}
	if s.name != "stratus_cloud_api_calls_total" || s.labels["operation"] != "HeadBucket" || s.labels["service"] != "s3" || s.value != 42 {
		t.Errorf("got %+v", s)
	}
	if s, err = parsePromLine("go_memstats_heap_inuse_bytes 1.5e+07"); err != nil || s.value != 1.5e7 || len(s.labels) != 0 {
		t.Errorf("got %+v, %v", s, err)
	}
}
