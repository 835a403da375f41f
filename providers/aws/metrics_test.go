package aws

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stratus-operator/stratus/providers/apimetrics"
)

func TestCallResult(t *testing.T) {
	cases := map[string]struct {
		reason string
		err    error
		want   apimetrics.Result
	}{
		"Success":                  {reason: "No error is a success.", err: nil, want: apimetrics.Success},
		"SlowDown":                 {reason: "S3's 503 SlowDown is throttling.", err: apiError("SlowDown", 503), want: apimetrics.Throttled},
		"Throttling":               {reason: "Throttling is throttling.", err: apiError("Throttling", 400), want: apimetrics.Throttled},
		"ThrottlingException":      {reason: "ThrottlingException is throttling.", err: apiError("ThrottlingException", 400), want: apimetrics.Throttled},
		"RequestLimitExceeded":     {reason: "RequestLimitExceeded is throttling.", err: apiError("RequestLimitExceeded", 503), want: apimetrics.Throttled},
		"TooManyRequestsException": {reason: "TooManyRequestsException is throttling.", err: apiError("TooManyRequestsException", 400), want: apimetrics.Throttled},
		"HeadSlowDown":             {reason: "A HEAD's 503 has no body: its code is ServiceUnavailable, and it is throttling.", err: apiError("ServiceUnavailable", 503), want: apimetrics.Throttled},
		"HTTP429":                  {reason: "Any 429 is throttling.", err: apiError("Whatever", 429), want: apimetrics.Throttled},
		"NoSuchBucket":             {reason: "NoSuchBucket is not found.", err: apiError("NoSuchBucket", 404), want: apimetrics.NotFound},
		"HeadNotFound":             {reason: "A HEAD's 404 has no body: its code is NotFound.", err: apiError("NotFound", 404), want: apimetrics.NotFound},
		"NoSuchLifecycle":          {reason: "A missing setting of a bucket is not found too.", err: apiError("NoSuchLifecycleConfiguration", 404), want: apimetrics.NotFound},
		"AnyHTTP404":               {reason: "Any 404 is not found.", err: apiError("Whatever", 404), want: apimetrics.NotFound},
		"DBInstanceNotFoundFault": {reason: "RDS's not-found fault is not found, by its code.", err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 404}},
			Err:      &rdstypes.DBInstanceNotFoundFault{Message: aws.String("DBInstance db-1 not found.")},
		}}, want: apimetrics.NotFound},
		"DBInstanceNotFoundCode": {reason: "The fault's name as a code is not found too, whatever the status.", err: apiError("DBInstanceNotFoundFault", 400), want: apimetrics.NotFound},
		"AccessDenied":           {reason: "A refusal is an error.", err: apiError("AccessDenied", 403), want: apimetrics.Error},
		"InternalError":          {reason: "A server error is an error.", err: apiError("InternalError", 500), want: apimetrics.Error},
		"NoAnswer": {reason: "A request that got no answer is an error.",
			err: &smithyhttp.RequestSendError{Err: errors.New("dial tcp: connection refused")}, want: apimetrics.Error},
		"Canceled": {reason: "A canceled call is an error.", err: context.Canceled, want: apimetrics.Error},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := callResult(tc.err); got != tc.want {
				t.Errorf("%s\ncallResult(%v) = %s, want %s", tc.reason, tc.err, got, tc.want)
			}
		})
	}
}

// s3Calls reads stratus_cloud_api_calls_total of an S3 operation by result.
func s3Calls(operation string) map[apimetrics.Result]float64 {
	got := map[apimetrics.Result]float64{}
	for _, r := range []apimetrics.Result{apimetrics.Success, apimetrics.NotFound, apimetrics.Throttled, apimetrics.Error} {
		if v := testutil.ToFloat64(apimetrics.CallsTotal.WithLabelValues("AWS", "S3", operation, string(r))); v != 0 {
			got[r] = v
		}
	}
	return got
}

// TestCallMetricsMiddleware runs the real S3 client, as the driver builds
// it, against canned S3 answers and checks what the middleware counts. It
// reads the package-wide counter, so it must not run in parallel with tests
// that call the same operations; it does not.
func TestCallMetricsMiddleware(t *testing.T) {
	headBucket := func(ctx context.Context, c *s3.Client) error {
		_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("metrics-bucket")})
		return err
	}
	getLocation := func(ctx context.Context, c *s3.Client) error {
		_, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("metrics-bucket")})
		return err
	}
	cases := map[string]struct {
		reason      string
		routes      map[string]fakeResponse
		maxAttempts int
		call        func(context.Context, *s3.Client) error
		operation   string
		want        map[apimetrics.Result]float64
		wantSent    int64
	}{
		"Success": {
			reason:    "A call answered 200 is one success.",
			routes:    map[string]fakeResponse{"HEAD": {status: 200}},
			call:      headBucket,
			operation: "HeadBucket",
			want:      map[apimetrics.Result]float64{apimetrics.Success: 1},
			wantSent:  1,
		},
		"SlowDownEachAttempt": {
			reason:      "503 SlowDown is throttled, and each of the SDK's attempts counts.",
			routes:      map[string]fakeResponse{"GET location": {status: 503, code: "SlowDown"}},
			maxAttempts: 2,
			call:        getLocation,
			operation:   "GetBucketLocation",
			want:        map[apimetrics.Result]float64{apimetrics.Throttled: 2},
			wantSent:    2,
		},
		"NoSuchBucket": {
			reason:    "404 NoSuchBucket is not found, and not retried.",
			routes:    map[string]fakeResponse{"GET location": {status: 404, code: "NoSuchBucket"}},
			call:      getLocation,
			operation: "GetBucketLocation",
			want:      map[apimetrics.Result]float64{apimetrics.NotFound: 1},
			wantSent:  1,
		},
		"HeadNotFound": {
			reason:    "A HEAD answered 404, without a body, is not found.",
			routes:    map[string]fakeResponse{"HEAD": {status: 404}},
			call:      headBucket,
			operation: "HeadBucket",
			want:      map[apimetrics.Result]float64{apimetrics.NotFound: 1},
			wantSent:  1,
		},
		"AccessDenied": {
			reason:    "403 AccessDenied is an error.",
			routes:    map[string]fakeResponse{"GET location": {status: 403, code: "AccessDenied"}},
			call:      getLocation,
			operation: "GetBucketLocation",
			want:      map[apimetrics.Result]float64{apimetrics.Error: 1},
			wantSent:  1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			endpoint, sent := fakeS3(t, tc.routes)
			opts := []Option{WithHTTPClient(&http.Client{})}
			if tc.maxAttempts > 0 {
				opts = append(opts, WithMaxAttempts(tc.maxAttempts))
			}
			c := connect(t, endpoint, "AKIDFAKE", "fake-secret", opts...).(*bucketClient)

			before := s3Calls(tc.operation)
			_ = tc.call(t.Context(), c.s3) // the error is what is counted
			after := s3Calls(tc.operation)
			got := map[apimetrics.Result]float64{}
			for r, v := range after {
				if d := v - before[r]; d != 0 {
					got[r] = d
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ncounted calls of %s: -want, +got:\n%s", tc.reason, tc.operation, diff)
			}
			if n := sent.Load(); n != tc.wantSent {
				t.Errorf("%s\nthe server got %d requests, want %d", tc.reason, n, tc.wantSent)
			}
		})
	}
}
