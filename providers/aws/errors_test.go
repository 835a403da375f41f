package aws

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stratus-operator/stratus/providers/driver"
)

// apiError builds an error the way the SDK returns one: an operation error
// wrapping an HTTP response error wrapping the API error.
func apiError(code string, status int) error {
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: "GetBucketVersioning",
		Err: &awshttp.ResponseError{
			RequestID: "REQ",
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
				Err:      &smithy.GenericAPIError{Code: code, Message: "message of " + code},
			},
		},
	}
}

// kind names the classification of an error.
func kind(err error) string {
	switch {
	case driver.IsThrottled(err):
		return "Throttled"
	case driver.IsBadCredentials(err):
		return "BadCredentials"
	case driver.IsTerminal(err):
		return "Terminal"
	case driver.IsBlocked(err):
		return "Blocked"
	}
	return "Retry"
}

func TestClassify(t *testing.T) {
	cases := map[string]struct {
		reason string
		err    error
		want   string
	}{
		"SlowDown":                    {reason: "S3's 503 SlowDown asks to slow down.", err: apiError("SlowDown", 503), want: "Throttled"},
		"Throttling":                  {reason: "Throttling asks to slow down.", err: apiError("Throttling", 400), want: "Throttled"},
		"ThrottlingException":         {reason: "ThrottlingException asks to slow down.", err: apiError("ThrottlingException", 400), want: "Throttled"},
		"RequestLimitExceeded":        {reason: "RequestLimitExceeded asks to slow down.", err: apiError("RequestLimitExceeded", 503), want: "Throttled"},
		"TooManyRequests":             {reason: "TooManyRequests asks to slow down.", err: apiError("TooManyRequests", 429), want: "Throttled"},
		"RequestThrottled":            {reason: "RequestThrottled asks to slow down.", err: apiError("RequestThrottled", 400), want: "Throttled"},
		"HTTP429":                     {reason: "Any 429 asks to slow down.", err: apiError("Whatever", 429), want: "Throttled"},
		"InvalidAccessKeyId":          {reason: "An unknown access key is bad credentials.", err: apiError("InvalidAccessKeyId", 403), want: "BadCredentials"},
		"SignatureDoesNotMatch":       {reason: "A wrong secret key is bad credentials.", err: apiError("SignatureDoesNotMatch", 403), want: "BadCredentials"},
		"ExpiredToken":                {reason: "An expired session token is bad credentials.", err: apiError("ExpiredToken", 400), want: "BadCredentials"},
		"InvalidToken":                {reason: "A malformed session token is bad credentials.", err: apiError("InvalidToken", 400), want: "BadCredentials"},
		"UnrecognizedClientException": {reason: "An unknown client is bad credentials.", err: apiError("UnrecognizedClientException", 400), want: "BadCredentials"},
		"XAdminUserNotFound":          {reason: "versitygw's unknown access key is bad credentials.", err: apiError("XAdminUserNotFound", 404), want: "BadCredentials"},
		"InvalidBucketName":           {reason: "An invalid bucket name needs a spec change.", err: apiError("InvalidBucketName", 400), want: "Terminal"},
		"InvalidLocationConstraint":   {reason: "An invalid region needs a spec change.", err: apiError("InvalidLocationConstraint", 400), want: "Terminal"},
		"IllegalLocationConstraint":   {reason: "An illegal region needs a spec change.", err: apiError("IllegalLocationConstraintException", 400), want: "Terminal"},
		"InvalidArgument":             {reason: "An invalid argument needs a spec change.", err: apiError("InvalidArgument", 400), want: "Terminal"},
		"AccessDenied":                {reason: "A denial may be fixed by a policy change at any time: retry.", err: apiError("AccessDenied", 403), want: "Retry"},
		"InternalError":               {reason: "A server error is retried.", err: apiError("InternalError", 500), want: "Retry"},
		"ServiceUnavailable":          {reason: "S3's 503 ServiceUnavailable, also what a bodiless HEAD SlowDown becomes, asks to slow down.", err: apiError("ServiceUnavailable", 503), want: "Throttled"},
		"InternalError503":            {reason: "Another 503 is retried, not throttled.", err: apiError("InternalError", 503), want: "Retry"},
		"NotAnAPIError":               {reason: "A network error is retried.", err: errors.New("connection refused"), want: "Retry"},
		"Wrapped": {
			reason: "The classification sees through wrapping.",
			err:    fmt.Errorf("put versioning of bucket %q: %w", "b", apiError("SlowDown", 503)),
			want:   "Throttled",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := classify(tc.err)
			if k := kind(got); k != tc.want {
				t.Errorf("%s\nclassify(%v) is %s; want %s", tc.reason, tc.err, k, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("%s\nclassify(%v) = %v, which does not wrap the error", tc.reason, tc.err, got)
			}
		})
	}
	if classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestWrapf(t *testing.T) {
	err := wrapf(apiError("SignatureDoesNotMatch", 403), "put tags of bucket %q", "b")
	if !driver.IsBadCredentials(err) {
		t.Errorf("wrapf(...) = %v; want it classified as bad credentials", err)
	}
	if want := `put tags of bucket "b": operation error S3: GetBucketVersioning`; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("wrapf(...) = %q; want it to start with %q", err, want)
	}
	if got := errorCode(err); got != "SignatureDoesNotMatch" {
		t.Errorf("errorCode(wrapf(...)) = %q; want SignatureDoesNotMatch", got)
	}
}

func TestNotImplementedAndCodes(t *testing.T) {
	cases := map[string]struct {
		reason  string
		err     error
		want    bool
		codes   []string
		wantHas bool
	}{
		"501":         {reason: "A 501 is not implemented.", err: apiError("NotImplemented", 501), want: true},
		"CodeOnly":    {reason: "The NotImplemented code is enough.", err: apiError("NotImplemented", 400), want: true},
		"StatusOnly":  {reason: "A 501 without a code is enough.", err: apiError("", 501), want: true},
		"NotFound":    {reason: "A missing configuration is implemented.", err: apiError("NoSuchTagSet", 404), codes: []string{"NoSuchTagSet"}, wantHas: true},
		"OtherCode":   {reason: "hasCode only matches the given codes.", err: apiError("NoSuchBucket", 404), codes: []string{"NoSuchTagSet"}},
		"NoCodeGiven": {reason: "hasCode with no codes matches nothing.", err: apiError("NoSuchBucket", 404)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := isNotImplemented(tc.err); got != tc.want {
				t.Errorf("%s\nisNotImplemented(%v) = %v; want %v", tc.reason, tc.err, got, tc.want)
			}
			if got := hasCode(tc.err, tc.codes...); got != tc.wantHas {
				t.Errorf("%s\nhasCode(%v, %v) = %v; want %v", tc.reason, tc.err, tc.codes, got, tc.wantHas)
			}
		})
	}
}
