// Package rds is a test-only stand-in for the Amazon RDS API, faithful
// enough on the wire that the AWS SDK's real RDS client talks to it through
// BaseEndpoint and the drivers' real code paths run.
//
// What it speaks:
//
//   - The AWS Query protocol: POST (or GET) with form-encoded
//     Action=...&Version=2014-10-31; answers are XML documents in the
//     namespace http://rds.amazonaws.com/doc/2014-10-31/, shaped
//     <XResponse><XResult>...</XResult><ResponseMetadata><RequestId>, and
//     errors are <ErrorResponse><Error><Type>Sender</Type><Code>
//     <Message></Error><RequestId> with the service's HTTP status (404 for
//     DBInstanceNotFound, 403 for refused credentials, 400 for the rest).
//   - Signature Version 4, verified for real: the request is signed again
//     with the secret of the access key its credential scope names and the
//     signatures are compared. An unknown key is 403 InvalidClientTokenId, a
//     wrong signature 403 SignatureDoesNotMatch, a missing one 403
//     MissingAuthenticationToken. The scope's region is the region the
//     request acts in: instances are regional.
//   - CreateDBInstance, DescribeDBInstances, ModifyDBInstance,
//     DeleteDBInstance, AddTagsToResource and ListTagsForResource, with the
//     service's validation and error codes (DBInstanceAlreadyExists,
//     DBInstanceNotFound, InvalidDBInstanceState, InvalidParameterValue,
//     InvalidParameterCombination, StorageQuotaExceeded, DBSnapshotAlreadyExists,
//     MissingParameter).
//
// Instances change state asynchronously, as on RDS: creating, then
// backing-up (when backups are on), then available; modifying while changes
// applied immediately are under way (they show in PendingModifiedValues until
// then), and deleting until they are gone. A state lasts
// DefaultTransitionDelay of the fake's clock unless configured otherwise
// (WithTransitionDelay, WithDescribesPerTransition); tests move the clock with
// Advance or finish every transition with Settle.
//
// For tests there are hooks that RDS does not have: ThrottleNext makes the
// next calls answer 400 Throttling "Rate exceeded", Calls counts the calls by
// action, Instance and Snapshots show the state, and RunMaintenanceWindow
// applies modifications queued without ApplyImmediately.
//
// The master password is never echoed: answers show a pending password
// change as "****", and the fake keeps only a hash of it
// (MasterPasswordIs).
package rds
