// Package gcsshim is a TEST-ONLY stand-in: an HTTP reverse proxy that sits in
// front of fake-gcs-server (a local Cloud Storage emulator) and makes it
// behave, for the bucket fields a Cloud Storage driver manages, like the real
// Cloud Storage JSON API.
//
// fake-gcs-server v1.56.1 accepts, and silently ignores, a bucket's location
// (every bucket is in US-CENTRAL1), labels, iamConfiguration (uniform
// bucket-level access and public access prevention), lifecycle rules and
// default KMS key. The shim implements these fields, in the real wire format,
// on the bucket resource:
//
//   - insert (POST /storage/v1/b?project=...), get (GET /storage/v1/b/{bucket}),
//     list (GET /storage/v1/b), patch (PATCH /storage/v1/b/{bucket}, or POST
//     with X-HTTP-Method-Override: PATCH) and update (PUT /storage/v1/b/{bucket})
//     store and return location (upper-case, with the matching locationType),
//     labels, iamConfiguration (uniformBucketLevelAccess and its alias
//     bucketPolicyOnly, publicAccessPrevention "enforced" or "inherited"),
//     lifecycle (rule[].action and rule[].condition) and
//     encryption.defaultKmsKeyName, merged into the emulator's JSON answer.
//   - Patch has Cloud Storage's semantics: a field present replaces the
//     stored one, objects merge (labels key by key, iamConfiguration member by
//     member), a label whose value is null is deleted, and a field set to null
//     (encryption: null, lifecycle: null, ...) is removed. Location cannot be
//     changed and is ignored by patch and update.
//   - Values Cloud Storage would refuse are refused with 400 "invalid": label
//     keys and values outside its format, an unknown public access prevention,
//     a KMS key that is not a Cloud KMS key name, a location that is not a
//     location's name, an insert without its project parameter. Lifecycle
//     fields the shim does not know are refused too, never dropped.
//   - A successful bucket delete, forwarded through the shim, clears the
//     bucket's state. A bucket created behind the shim's back (directly at the
//     emulator) reports the emulator's location and Cloud Storage's defaults.
//
// It also works around an emulator bug that would otherwise show through the
// fields above: fake-gcs-server's patch resets versioning and
// defaultEventBasedHold whenever the patch does not mention them, so the
// shim adds their current values to a patch that leaves them out.
//
// Every request must carry a bearer token that the fake OAuth token endpoint
// (package test/fakes/googleauth) issued; any other request is refused with
// 401 UNAUTHENTICATED, as Cloud Storage refuses it. Every other request
// (objects, uploads, downloads, ACLs, batch) is forwarded unchanged.
//
// The shim exists only so that tests and the local development environment
// can exercise, end to end, the code paths of a Cloud Storage driver that
// manage these fields. It is not a Cloud Storage implementation, it enforces
// nothing (public access prevention prevents nothing, a lifecycle rule never
// deletes an object, no object is encrypted with the KMS key) and it must
// never be used in front of real storage.
package gcsshim
