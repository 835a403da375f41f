package gcp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/auth"
	"google.golang.org/api/googleapi"

	"github.com/stratus-operator/stratus/providers/driver"
)

// Reasons of Cloud SQL errors the driver acts on.
const (
	sqlReasonOperationInProgress   = "operationInProgress"
	sqlReasonInstanceAlreadyExists = "instanceAlreadyExists"
	sqlReasonRateLimitExceeded     = "rateLimitExceeded"
	sqlReasonUserRateLimitExceeded = "userRateLimitExceeded"
)

// sqlNotRunning is in the message of the 400 that Cloud SQL answers for the
// databases and users of an instance that is not running: a passing state,
// not a bad request.
const sqlNotRunning = "instance is not running"

// sqlWrapf wraps err, which must not be nil, with what could not be done,
// and classifies it.
func sqlWrapf(err error, format string, args ...any) error {
	return sqlClassify(err, fmt.Errorf(format+": %w", append(args, err)...))
}

// sqlClassify marks wrapped, an error caused by err, for the reconciler:
// 429 and 503 (and 403 with a rate-limit reason) are throttling; 401 and a
// token endpoint refusing the key are bad credentials; 400 is terminal (a
// value the spec gave is invalid), except the 400 of an instance that is not
// running yet. Anything else, 409 operationInProgress included, is retried
// with backoff.
func sqlClassify(err, wrapped error) error {
	if gerr, ok := sqlAPIError(err); ok {
		switch {
		case gerr.Code == http.StatusTooManyRequests, gerr.Code == http.StatusServiceUnavailable,
			gerr.Code == http.StatusForbidden && sqlHasReason(gerr, sqlReasonRateLimitExceeded, sqlReasonUserRateLimitExceeded):
			return driver.Throttled(wrapped)
		case gerr.Code == http.StatusUnauthorized:
			return driver.BadCredentials(wrapped)
		case gerr.Code == http.StatusBadRequest && !strings.Contains(gerr.Message, sqlNotRunning):
			return driver.Terminal(wrapped)
		}
		return wrapped
	}
	// The token endpoint refused the service-account key: its error says
	// why (invalid_grant, ...) and never holds the key.
	var aerr *auth.Error
	if errors.As(err, &aerr) && aerr.Response != nil {
		switch sc := aerr.Response.StatusCode; {
		case sc == http.StatusTooManyRequests || sc == http.StatusServiceUnavailable:
			return driver.Throttled(wrapped)
		case sc >= 400 && sc < 500:
			return driver.BadCredentials(wrapped)
		}
	}
	return wrapped
}

// sqlAPIError returns the Google API error in err's chain.
func sqlAPIError(err error) (*googleapi.Error, bool) {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr, true
	}
	return nil, false
}

// sqlHasReason reports whether a Google API error has one of the reasons.
func sqlHasReason(gerr *googleapi.Error, reasons ...string) bool {
	for _, item := range gerr.Errors {
		for _, r := range reasons {
			if item.Reason == r {
				return true
			}
		}
	}
	return false
}

// sqlIsNotFound reports whether err is a 404.
func sqlIsNotFound(err error) bool {
	gerr, ok := sqlAPIError(err)
	return ok && gerr.Code == http.StatusNotFound
}

// sqlIsConflict reports whether err is a 409 with one of the reasons, or
// with any reason when none is given.
func sqlIsConflict(err error, reasons ...string) bool {
	gerr, ok := sqlAPIError(err)
	if !ok || gerr.Code != http.StatusConflict {
		return false
	}
	return len(reasons) == 0 || sqlHasReason(gerr, reasons...)
}
