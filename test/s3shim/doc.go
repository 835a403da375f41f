// Package s3shim is a TEST-ONLY stand-in: an HTTP reverse proxy that sits in
// front of versitygw (a real, local S3 server) and implements, in the real S3
// REST/XML wire format, the bucket subresources versitygw answers with
// 501 NotImplemented:
//
//   - ?encryption (PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption)
//   - ?publicAccessBlock (PutPublicAccessBlock, GetPublicAccessBlock, DeletePublicAccessBlock)
//   - ?lifecycle (PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration, DeleteBucketLifecycle)
//
// It exists only so that tests and the local development environment can
// exercise, end to end, the code paths of an S3 driver that manage these
// bucket settings. It is not an S3 implementation, it enforces nothing (an
// encryption configuration does not encrypt anything, a lifecycle rule never
// expires an object) and it must never be used in front of production storage.
//
// Behaviour:
//
//   - Every other request is forwarded unchanged with
//     [net/http/httputil.ReverseProxy], keeping the incoming Host header, since
//     SigV4 signatures cover it.
//   - A subresource request is first forwarded unchanged to the backend, so
//     that the backend authenticates it (signature, credentials, policy). Any
//     answer other than 501 NotImplemented (an access denial, or a real
//     implementation in a newer backend) is relayed to the client as is.
//   - On 501, the shim checks that the bucket exists with its own signed
//     HeadBucket (root credentials) and answers 404 NoSuchBucket if it does not.
//   - Configurations are kept in memory, per bucket, parsed from the PUT body
//     and re-marshalled, so a GET returns what was set. A successful DELETE of
//     the bucket itself, forwarded through the shim, clears its state.
//   - Only path-style addressing (http://host/bucket?encryption) is recognised;
//     virtual-hosted-style requests are forwarded untouched.
package s3shim
