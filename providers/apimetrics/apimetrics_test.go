package apimetrics

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

func TestResultOfStatus(t *testing.T) {
	cases := []struct {
		status int
		want   Result
	}{
		{http.StatusOK, Success},
		{http.StatusNoContent, Success},
		{http.StatusNotModified, Success},
		{http.StatusBadRequest, Error},
		{http.StatusUnauthorized, Error},
		{http.StatusForbidden, Error},
		{http.StatusNotFound, NotFound},
		{http.StatusConflict, Error},
		{http.StatusTooManyRequests, Throttled},
		{http.StatusInternalServerError, Error},
		{http.StatusServiceUnavailable, Error},
	}
	for _, tc := range cases {
		if got := ResultOfStatus(tc.status); got != tc.want {
			t.Errorf("ResultOfStatus(%d) = %s, want %s", tc.status, got, tc.want)
		}
	}
}

// roundTripFunc is a RoundTripper of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransport(t *testing.T) {
	const provider = stratusv1alpha1.Provider("Test")
	answers := map[string]func() (*http.Response, error){
		"/ok":       func() (*http.Response, error) { return &http.Response{StatusCode: http.StatusOK}, nil },
		"/missing":  func() (*http.Response, error) { return &http.Response{StatusCode: http.StatusNotFound}, nil },
		"/slowdown": func() (*http.Response, error) { return &http.Response{StatusCode: http.StatusTooManyRequests}, nil },
		"/down":     func() (*http.Response, error) { return nil, errors.New("connection refused") },
	}
	rt := Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) { return answers[r.URL.Path]() }),
		provider, "svc", func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/") })
	for _, path := range []string{"/ok", "/ok", "/missing", "/slowdown", "/down"} {
		req, err := http.NewRequest(http.MethodGet, "http://example.invalid"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := rt.RoundTrip(req); err == nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
	}
	want := map[[2]string]float64{
		{"ok", "success"}:         2,
		{"missing", "not_found"}:  1,
		{"slowdown", "throttled"}: 1,
		{"down", "error"}:         1,
		{"ok", "error"}:           0,
		{"down", "success"}:       0,
	}
	for k, n := range want {
		if got := testutil.ToFloat64(CallsTotal.WithLabelValues(string(provider), "svc", k[0], k[1])); got != n {
			t.Errorf("calls{operation=%q, result=%q} = %v, want %v", k[0], k[1], got, n)
		}
	}
}

func TestRegistered(t *testing.T) {
	Record(stratusv1alpha1.ProviderAWS, "S3", "HeadBucket", Success)
	n, err := testutil.GatherAndCount(metrics.Registry, "stratus_cloud_api_calls_total")
	if err != nil {
		t.Fatalf("gather controller-runtime's registry: %v", err)
	}
	if n == 0 {
		t.Error("stratus_cloud_api_calls_total is not in controller-runtime's registry")
	}
}
