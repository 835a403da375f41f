package guardrails

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/policy/audit"
	"github.com/stratus-operator/stratus/test/harness"
)

// A bucket created before the guardrail existed is found by the audit that
// the new guardrail triggers: listed on the Guardrail's status, announced by
// an Event on the bucket, and counted in the metrics. Fixing the bucket
// clears it at the next audit.
func TestAuditFindsPreexistingViolation(t *testing.T) {
	ns := h.Namespace(t)
	old := bucket(ns, "legacy")
	h.Create(t, old)
	h.WaitReady(t, old)

	g := guardrail(t, "audit-labels-"+ns, "required-labels", ns, policyv1alpha1.EnforcementDeny, map[string]any{"labels": []string{"owner"}})
	enforce(t, g)
	h.WaitFor(t, g, "audit lists legacy", func() error {
		if g.Status.TotalViolations != 1 || len(g.Status.Violations) != 1 {
			return fmt.Errorf("totalViolations %d, violations %+v", g.Status.TotalViolations, g.Status.Violations)
		}
		v := g.Status.Violations[0]
		if v.Kind != "Bucket" || v.Namespace != ns || v.Name != "legacy" || !strings.Contains(v.Message, "metadata.labels is missing label owner") {
			return fmt.Errorf("violation %+v", v)
		}
		return nil
	})
	note := h.WaitEvent(t, old, "Bucket", audit.ReasonViolation)
	if !strings.Contains(note, g.Name) || !strings.Contains(note, "missing label owner") {
		t.Errorf("the audit Event says %q", note)
	}
	if got := gauge(t, "stratus_guardrail_audit_violations", g.Name); got != 1 {
		t.Errorf("stratus_guardrail_audit_violations{guardrail=%q} = %v, want 1", g.Name, got)
	}

	// The deny guardrail now refuses changes that keep the bucket broken,
	// so the fix is to add the label.
	harness.Update(t, h, old, func(b *storagev1alpha1.Bucket) { b.Labels = map[string]string{"owner": "team-a"} })
	h.WaitFor(t, g, "audit clears legacy", func() error {
		if g.Status.TotalViolations != 0 || len(g.Status.Violations) != 0 {
			return fmt.Errorf("totalViolations %d, violations %+v", g.Status.TotalViolations, g.Status.Violations)
		}
		return nil
	})
	h.Delete(t, old)
}

// gauge reads a gauge of the manager's metrics registry by guardrail label.
func gauge(t *testing.T, name, guardrail string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "guardrail" && l.GetValue() == guardrail {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
