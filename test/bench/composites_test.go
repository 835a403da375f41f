package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The composites scenario runs the Stratus side end to end at a tiny size,
// and skips the kro side, saying why, when the kro binary is missing: the
// test never builds kro.
func TestCompositesSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	missing := filepath.Join(t.TempDir(), "kro")
	start := time.Now()
	err := run(ctx, []string{"-scenario=composites", "-composites=5", "-kro-bin=" + missing, "-composites-timeout=2m"}, &out, &progress)
	t.Logf("ran in %s; progress:\n%s\nresults:\n%s", time.Since(start).Round(time.Millisecond), progress.String(), out.String())
	if err != nil {
		t.Fatal(err)
	}
	var stratus []string
	for _, line := range strings.Split(out.String(), "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) == 7 && strings.TrimSpace(cells[0]) == "Stratus" {
			stratus = cells
			break
		}
	}
	if stratus == nil {
		t.Fatal("no Stratus row in the composites table")
	}
	if n, children := strings.TrimSpace(stratus[1]), strings.TrimSpace(stratus[2]); n != "5" || children != "15" {
		t.Errorf("Stratus row: %s composites, %s children; want 5, 15", n, children)
	}
	if !strings.Contains(out.String(), "kro: not measured: no kro binary at "+missing) {
		t.Error("the results do not say that the kro side was skipped for want of its binary")
	}
}

// The composites flags are checked.
func TestCompositesFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-scenario=composites", "-composites=7", "-kro=false"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.composites; c.N != 7 || c.Kro || c.KroWorkers != 10 {
		t.Errorf("composites config %+v, want N 7, kro off, 10 workers", c)
	}
	for _, args := range [][]string{{"-composites=0"}, {"-kro-workers=0"}, {"-composites-timeout=0s"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
