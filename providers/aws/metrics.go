package aws

import (
	"context"
	"net/http"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/apimetrics"
)

// callMetricsID is the ID of the middleware that counts calls.
const callMetricsID = "StratusCallMetrics"

// retryMiddlewareID is the ID of the SDK's retry middleware in the Finalize
// step, which runs the steps after it once per attempt.
const retryMiddlewareID = "Retry"

// notFoundCodes are the error codes of a resource (or a setting of one) that
// does not exist. Any 404 counts as not found too.
var notFoundCodes = map[string]bool{
	codeNoSuchBucket:             true,
	codeNotFound:                 true,
	"NoSuchKey":                  true,
	codeNoLifecycle:              true,
	codeNoTagSet:                 true,
	codeNoPublicAccessBlock:      true,
	codeNoEncryption:             true,
	codeDBInstanceNotFound:       true,
	"DBInstanceNotFoundFault":    true,
	"DBSnapshotNotFound":         true,
	"DBSnapshotNotFoundFault":    true,
	"DBSubnetGroupNotFoundFault": true,
}

// addCallMetrics adds to an SDK client's middleware stack the middleware
// that counts calls in stratus_cloud_api_calls_total, with the client's
// service ID (S3, RDS) and the operation name (HeadBucket,
// DescribeDBInstances). It is one of the APIOptions of every client the
// drivers build.
//
// What counts as one call: each attempt. The middleware sits in the Finalize
// step right after the SDK's retry middleware, so it runs once per attempt
// and counts each with its own result: a call that is throttled once and
// then succeeds counts one throttled and one success. (A stack without the
// retry middleware gets it at the end of the Finalize step, where it also
// sees each request sent.)
func addCallMetrics(stack *middleware.Stack) error {
	mw := middleware.FinalizeMiddlewareFunc(callMetricsID, func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
		middleware.FinalizeOutput, middleware.Metadata, error,
	) {
		out, md, err := next.HandleFinalize(ctx, in)
		apimetrics.Record(stratusv1alpha1.ProviderAWS, awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), callResult(err))
		return out, md, err
	})
	if _, ok := stack.Finalize.Get(retryMiddlewareID); ok {
		return stack.Finalize.Insert(mw, retryMiddlewareID, middleware.After)
	}
	return stack.Finalize.Add(mw, middleware.After)
}

// callResult classifies the error of one attempt of an AWS call, nil for
// success: throttling as isThrottling says, a not-found code or status 404
// as not found, anything else, an answer that never came included, as an
// error.
func callResult(err error) apimetrics.Result {
	switch {
	case err == nil:
		return apimetrics.Success
	case isThrottling(err):
		return apimetrics.Throttled
	case notFoundCodes[errorCode(err)] || httpStatus(err) == http.StatusNotFound:
		return apimetrics.NotFound
	}
	return apimetrics.Error
}
