package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/policy/library"
)

// Every library guardrail translates to a Gatekeeper template whose Rego
// admits the benchmark's compliant Bucket with the benchmark's parameters,
// as the guardrail does, and the Bucket rules deny the probe Bucket.
// Gatekeeper's input is {review: {object}, parameters}.
func TestTranslateRego(t *testing.T) {
	ctx := context.Background()
	compliant := bucketInput(t, compliantBucket("bench-00000"))
	probe := compliantBucket("bench-probe")
	probe.Labels = map[string]string{"env": "production"}
	probe.Spec.Region, probe.Spec.PublicAccess, probe.Spec.Encryption, probe.Spec.Versioning = "ap-south-1", "Allowed", nil, "Disabled"
	nonCompliant := bucketInput(t, probe)
	denyProbe := map[string]bool{"allowed-regions": true, "bucket-encryption": true, "bucket-versioning-production": true, "buckets-not-public": true, "required-labels": true}
	for i, e := range library.All() {
		t.Run(e.Name, func(t *testing.T) {
			src, err := translateRego(e)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(src, "input.object") {
				t.Error("the translation still reads input.object")
			}
			if _, err := constraintTemplate(e); err != nil {
				t.Fatal(err)
			}
			var params map[string]any
			if p, ok := newConstraint(i, e).Object["spec"].(map[string]any)["parameters"]; ok {
				params = p.(map[string]any)
			}
			count := func(object any) int {
				t.Helper()
				pkg := "data." + strings.ToLower(templateKind(e.Name)) + ".violation"
				rs, err := rego.New(rego.Query(pkg), rego.Module("t.rego", src), rego.SetRegoVersion(ast.RegoV1),
					rego.Input(map[string]any{"review": map[string]any{"object": object}, "parameters": params})).Eval(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != 1 || len(rs[0].Expressions) != 1 {
					t.Fatalf("unexpected result %v", rs)
				}
				vs := rs[0].Expressions[0].Value.([]any)
				for _, v := range vs {
					if _, ok := v.(map[string]any)["msg"].(string); !ok {
						t.Errorf("violation %v has no msg", v)
					}
				}
				return len(vs)
			}
			if n := count(compliant); n != 0 {
				t.Errorf("%d violations for the compliant Bucket, want 0", n)
			}
			if n := count(nonCompliant); (n > 0) != denyProbe[e.Name] {
				t.Errorf("%d violations for the probe Bucket, want some: %t", n, denyProbe[e.Name])
			}
		})
	}
}

// bucketInput returns b as the API server sends it to a webhook.
func bucketInput(t *testing.T, b *storagev1alpha1.Bucket) any {
	t.Helper()
	b.SetGroupVersionKind(storagev1alpha1.GroupVersion.WithKind("Bucket"))
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The gatekeeper scenario runs end to end at a tiny size when Gatekeeper
// is already built; the test never builds it.
func TestGatekeeperSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, _, err := gatekeeperTool(ctx, false, t.Logf); errors.Is(err, errGatekeeperNotBuilt) {
		t.Skipf("skipped: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	var out, progress bytes.Buffer
	err := run(ctx, []string{"-scenario=gatekeeper", "-gatekeeper-build=false", "-gatekeeper-policies=1", "-requests=20", "-rate=100", "-warmup=5"}, &out, &progress)
	t.Logf("progress:\n%s\nresults:\n%s", progress.String(), out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"| 0 |", "| 1 |"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("no row %q in the gatekeeper table", row)
		}
	}
}
