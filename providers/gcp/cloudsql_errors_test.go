package gcp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"cloud.google.com/go/auth"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"

	"github.com/stratus-operator/stratus/providers/driver"
)

func TestCloudSQLClassify(t *testing.T) {
	apiErr := func(code int, reason, message string) error {
		e := &googleapi.Error{Code: code, Message: message}
		if reason != "" {
			e.Errors = []googleapi.ErrorItem{{Reason: reason, Message: message}}
		}
		return e
	}
	tokenErr := func(status int) error {
		// As the HTTP client returns it: the token fetch fails inside the
		// transport.
		return &url.Error{Op: "Get", URL: "https://sqladmin.googleapis.com/v1/projects/p/instances/i", Err: &auth.Error{
			Response: &http.Response{StatusCode: status}, Body: []byte(`{"error":"invalid_grant"}`),
		}}
	}
	type kind struct{ Terminal, Throttled, BadCredentials bool }
	tests := []struct {
		reason string
		err    error
		want   kind
	}{
		{"429 rateLimitExceeded is throttling.", apiErr(429, "rateLimitExceeded", "Quota exceeded"), kind{Throttled: true}},
		{"503 is throttling.", apiErr(503, "backendError", "unavailable"), kind{Throttled: true}},
		{"403 userRateLimitExceeded is throttling.", apiErr(403, "userRateLimitExceeded", "slow down"), kind{Throttled: true}},
		{"403 notAuthorized is retried: permissions can be granted at any time.", apiErr(403, "notAuthorized", "The client is not authorized to make this request."), kind{}},
		{"401 is bad credentials.", apiErr(401, "", "Request had invalid authentication credentials."), kind{BadCredentials: true}},
		{"A token endpoint refusing the key is bad credentials.", tokenErr(400), kind{BadCredentials: true}},
		{"A token endpoint failing is retried.", tokenErr(500), kind{}},
		{"400 invalid is terminal.", apiErr(400, "invalid", "Invalid request: Invalid Tier (db-x) for (ENTERPRISE) Edition."), kind{Terminal: true}},
		{"The 400 of an instance that is not running yet is retried.", apiErr(400, "invalid", "Invalid request: Invalid request since instance is not running."), kind{}},
		{"409 operationInProgress is retried.", apiErr(409, "operationInProgress", "Operation failed because another operation was already in progress."), kind{}},
		{"A network error is retried.", &url.Error{Op: "Get", URL: "http://x", Err: errors.New("connection refused")}, kind{}},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			err := sqlWrapf(tt.err, "get Cloud SQL instance %q", "i")
			got := kind{driver.IsTerminal(err), driver.IsThrottled(err), driver.IsBadCredentials(err)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s\nsqlWrapf(%v): -want, +got:\n%s", tt.reason, tt.err, diff)
			}
			if want := fmt.Sprintf("get Cloud SQL instance %q: %v", "i", tt.err); err.Error() != want {
				t.Errorf("%s\nmessage %q, want %q", tt.reason, err.Error(), want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%s\nthe cause is not wrapped", tt.reason)
			}
		})
	}
}
