// Package aws holds the drivers for Amazon Web Services and for servers that
// speak the same APIs, such as S3-compatible object stores.
//
// NewBucketDriver returns the S3 driver for the portable Bucket kind. It
// connects with a ProviderConfig of provider AWS: its region (default
// us-east-1), its credentials (the keys aws_access_key_id,
// aws_secret_access_key and optionally aws_session_token of a Secret, or the
// SDK's default chain of environment, web identity (IRSA), shared
// configuration and instance roles when the source is Ambient) and, when set,
// its endpoint, which is then used with path-style addressing so that any
// S3-compatible server works.
//
// The driver keeps the contract of package driver:
//   - Observe reads the bucket and each of its settings (versioning,
//     default encryption, public access block, lifecycle rules, tags) and
//     reports the fields that differ from the spec. A setting the endpoint
//     does not implement (501 NotImplemented) is listed in
//     Observation.Unsupported and left out of the comparison. The owner
//     mark among the tags (driver.Owner.Tags) is Observation.Owner, never
//     a label, and a mark that is not the request's owner's is drift in
//     driver.OwnershipField. For a deletion (driver.PurposeDelete) Observe
//     reads a HEAD and the tags only. A bucket the request says is Known is
//     read without a HEAD first: the first read's NoSuchBucket says it is
//     gone. The driver keeps no memory of its own and never reads the
//     object's status.
//   - Create writes the tags, owner mark included, right after creating the
//     bucket and before any other setting, and reports as observed the
//     bucket its writes made; a bucket that already exists
//     (BucketAlreadyOwnedByYou) is left unchanged, and unobserved, for the
//     reconciler to observe. Update writes the tags, owner mark included, then every
//     other setting. Tags are replaced, never deleted. Settings the
//     endpoint does not implement are skipped; both calls are idempotent.
//   - Delete refuses, with a Blocked error, to delete a bucket that still holds
//     objects unless spec.forceDestroy is set, in which case it deletes every
//     object version and delete marker first. S3 deletes a bucket at once: a
//     Delete that succeeds reports it gone.
//
// Every cloud error goes through one classification: throttling is
// driver.Throttled, refused credentials are driver.BadCredentials, and
// errors only a spec change can fix are driver.Terminal.
package aws
