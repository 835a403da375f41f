// Package apimetrics counts the calls the provider drivers make to cloud
// APIs, in the Prometheus counter stratus_cloud_api_calls_total{provider,
// service, operation, result}, registered in controller-runtime's registry
// so that the manager's /metrics endpoint serves it.
//
// Each driver counts at the one place all its calls pass through: the AWS
// drivers in an SDK middleware, the Google Cloud drivers in the HTTP
// transport of their API clients (Transport), the PostgreSQL driver in a
// query tracer. Label values stay few: the provider is a ProviderConfig's
// provider, the service and operation are fixed names of the API (never a
// resource name), and the result is one of the Result constants.
package apimetrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// Result is the outcome of one call: the value of the result label.
type Result string

// The results of a call.
const (
	// Success is a call the API answered without an error.
	Success Result = "success"
	// NotFound is a call for a resource that does not exist (HTTP 404 or the
	// API's not-found error).
	NotFound Result = "not_found"
	// Throttled is a call the API refused because of its rate limits.
	Throttled Result = "throttled"
	// Error is any other failed call, a call that got no answer included.
	Error Result = "error"
)

// CallsTotal is stratus_cloud_api_calls_total. Drivers count with Record or
// Transport; it is exported so that tests can read it.
var CallsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "stratus_cloud_api_calls_total",
	Help: "Calls the drivers made to cloud APIs, each attempt of a retried call counted, by provider, service, operation and result (success, not_found, throttled, error).",
}, []string{"provider", "service", "operation", "result"})

func init() {
	metrics.Registry.MustRegister(CallsTotal)
}

// Record counts one call to operation of service of provider.
func Record(provider stratusv1alpha1.Provider, service, operation string, result Result) {
	CallsTotal.WithLabelValues(string(provider), service, operation, string(result)).Inc()
}

// ResultOfStatus maps the HTTP status code of an answer to a result: 404 is
// NotFound, 429 is Throttled, any other 4xx or 5xx is Error, and anything
// below 400 is Success.
func ResultOfStatus(status int) Result {
	switch {
	case status == http.StatusNotFound:
		return NotFound
	case status == http.StatusTooManyRequests:
		return Throttled
	case status >= http.StatusBadRequest:
		return Error
	}
	return Success
}

// Transport returns a RoundTripper that sends each request through next
// (http.DefaultTransport when nil) and counts it as one call of service of
// provider, named by operation, with the result of its status code, or Error
// when no answer came. Every request counts: a client library that retries
// sends, and so counts, each attempt.
func Transport(next http.RoundTripper, provider stratusv1alpha1.Provider, service string, operation func(*http.Request) string) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{next: next, provider: provider, service: service, operation: operation}
}

type transport struct {
	next      http.RoundTripper
	provider  stratusv1alpha1.Provider
	service   string
	operation func(*http.Request) string
}

// RoundTrip sends req and counts it.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	op := t.operation(req) // before sending: the request is not to be read after
	resp, err := t.next.RoundTrip(req)
	result := Error
	if err == nil {
		result = ResultOfStatus(resp.StatusCode)
	}
	Record(t.provider, t.service, op, result)
	return resp, err
}
