// Package faults injects the failures a cloud API answers under load in
// front of a test server: the next N requests get a canned error response
// (S3's 503 SlowDown, a Google API's 429, ...) instead of reaching the
// server. Tests use it to prove that throttling is reported and retried.
package faults

import (
	"net/http"
	"sync"
)

// Response is a canned error answer.
type Response struct {
	Status      int
	ContentType string
	Body        string
}

// Injector answers the next requests with a canned response.
type Injector struct {
	mu       sync.Mutex
	pending  int
	response Response
	injected int
}

// FailNext makes the next n requests get r.
func (i *Injector) FailNext(n int, r Response) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.pending, i.response = n, r
}

// Injected returns how many requests got a canned response so far.
func (i *Injector) Injected() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.injected
}

// Wrap returns next behind the injector.
func (i *Injector) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		fail := i.pending > 0
		resp := i.response
		if fail {
			i.pending--
			i.injected++
		}
		i.mu.Unlock()
		if !fail {
			next.ServeHTTP(w, r)
			return
		}
		if resp.ContentType != "" {
			w.Header().Set("Content-Type", resp.ContentType)
		}
		w.WriteHeader(resp.Status)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(resp.Body))
		}
	})
}

// S3SlowDown is S3's answer when a caller must reduce its request rate.
var S3SlowDown = Response{
	Status:      http.StatusServiceUnavailable,
	ContentType: "application/xml",
	Body:        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId></Error>`,
}

// GoogleRateLimited is a Google API's answer when a caller exceeds its rate.
var GoogleRateLimited = Response{
	Status:      http.StatusTooManyRequests,
	ContentType: "application/json",
	Body:        `{"error":{"code":429,"message":"The rate of change requests to the resource exceeds the limit.","errors":[{"reason":"rateLimitExceeded","domain":"usageLimits"}],"status":"RESOURCE_EXHAUSTED"}}`,
}
