package audit

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	violationsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "stratus_guardrail_audit_violations",
		Help: "Existing resources that break a guardrail, as of the last audit.",
	}, []string{"guardrail", "enforcement_action"})
	auditDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "stratus_guardrail_audit_duration_seconds",
		Help:    "Time one audit of every guarded resource took.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	failuresGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "stratus_guardrail_audit_failures",
		Help: "Existing resources a guardrail could not judge in the last audit (its Rego failed or exceeded a limit).",
	}, []string{"guardrail"})
	lastAudit = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "stratus_guardrail_audit_last_run_timestamp_seconds",
		Help: "When the last audit finished, in Unix seconds.",
	})
)

func init() {
	metrics.Registry.MustRegister(violationsGauge, failuresGauge, auditDuration, lastAudit)
}
