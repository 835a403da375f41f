package admission

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/stratus-operator/stratus/policy/guardrails"
)

// Decisions, the values of the decision label.
const (
	decisionAllow  = "allow"
	decisionWarn   = "warn"
	decisionDeny   = "deny"
	decisionError  = "error"
	decisionExempt = "exempt"
)

var (
	admissionDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "stratus_guardrail_admission_duration_seconds",
		Help:    "Time the guardrail webhook took to judge a request, by decision.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"decision"})
	admissionViolations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stratus_guardrail_admission_violations_total",
		Help: "Violations found at admission, by guardrail and enforcement action.",
	}, []string{"guardrail", "enforcement_action"})
	admissionFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "stratus_guardrail_admission_failures_total",
		Help: "Requests a guardrail could not judge at admission (its Rego failed or exceeded a limit, the deadline passed, or its match could not be decided), by guardrail and enforcement action.",
	}, []string{"guardrail", "enforcement_action"})
)

func init() {
	metrics.Registry.MustRegister(admissionDuration, admissionViolations, admissionFailures)
}

// observeDecision counts one request and its latency; the histogram's
// count by decision is the number of decisions.
func observeDecision(decision string, d time.Duration) {
	admissionDuration.WithLabelValues(decision).Observe(d.Seconds())
}

func countViolation(f guardrails.Finding) {
	admissionViolations.WithLabelValues(f.Guardrail, string(f.Action)).Inc()
}

func countFailure(f guardrails.Failure) {
	admissionFailures.WithLabelValues(f.Guardrail, string(f.Action)).Inc()
}
