package aws

import (
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/stratus-operator/stratus/providers/driver"
)

// throttlingCodes are the error codes with which AWS services ask a caller to
// slow down.
var throttlingCodes = map[string]bool{
	"SlowDown":                  true,
	"Throttling":                true,
	"ThrottlingException":       true,
	"ThrottledException":        true,
	"RequestLimitExceeded":      true,
	"TooManyRequests":           true,
	"TooManyRequestsException":  true,
	"RequestThrottled":          true,
	"RequestThrottledException": true,
}

// credentialsCodes are the error codes of credentials a service refused.
var credentialsCodes = map[string]bool{
	"InvalidAccessKeyId":          true,
	"SignatureDoesNotMatch":       true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"InvalidToken":                true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"XAdminUserNotFound":          true, // versitygw's answer to an unknown access key
}

// terminalCodes are the error codes of requests that cannot succeed until
// the spec changes.
var terminalCodes = map[string]bool{
	"InvalidBucketName":                  true,
	"InvalidLocationConstraint":          true,
	"IllegalLocationConstraintException": true,
	"InvalidArgument":                    true,
}

// classify marks err, an error returned by an AWS SDK call (possibly
// wrapped), as driver.Throttled, driver.BadCredentials or driver.Terminal
// according to its code and HTTP status, and returns it unchanged otherwise.
func classify(err error) error {
	if err == nil {
		return nil
	}
	code := errorCode(err)
	switch {
	case isThrottling(err):
		return driver.Throttled(err)
	case credentialsCodes[code]:
		return driver.BadCredentials(err)
	case terminalCodes[code]:
		return driver.Terminal(err)
	}
	return err
}

// isThrottling reports whether err, an error of an AWS SDK call (possibly
// wrapped), asks the caller to slow down.
func isThrottling(err error) bool {
	code, status := errorCode(err), httpStatus(err)
	return throttlingCodes[code] || status == http.StatusTooManyRequests ||
		// S3 asks to reduce the request rate with 503 ServiceUnavailable
		// too, and a HEAD request's 503 SlowDown has no body, hence that
		// code.
		status == http.StatusServiceUnavailable && code == "ServiceUnavailable"
}

// wrapf wraps err, which must not be nil, with a message saying what could
// not be done, and classifies it.
func wrapf(err error, format string, args ...any) error {
	return classify(fmt.Errorf(format+": %w", append(args, err)...))
}

// errorCode returns the API error code of err, such as NoSuchBucket, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status code of the response that caused err,
// or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// hasCode reports whether err has one of the given API error codes.
func hasCode(err error, codes ...string) bool {
	code := errorCode(err)
	if code == "" {
		return false
	}
	for _, c := range codes {
		if code == c {
			return true
		}
	}
	return false
}

// isNotImplemented reports whether the endpoint does not implement the
// operation, as S3-compatible servers answer for features they lack.
func isNotImplemented(err error) bool {
	return httpStatus(err) == http.StatusNotImplemented || hasCode(err, "NotImplemented")
}
