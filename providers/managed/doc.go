// Package managed is the one reconciler that serves every managed-resource
// kind (Bucket, Database, ...) and every provider driver. For each object it
// resolves the provider configuration, connects through the driver, observes
// the cloud resource, and then creates, updates or deletes it, keeping
// finalizers, annotations, conditions, drift and connection Secrets.
//
// Crash safety: before the cloud Create call the reconciler persists the
// external name and a create-pending annotation (and any generated
// credentials), so a manager killed at any line can resume without leaking
// or duplicating the cloud resource: on restart Observe finds the resource
// under the same deterministic name.
//
// What drivers are told: every request says why it is made
// (driver.PurposeSync, or PurposeDelete for an object being deleted) and
// whether the resource is Known: recorded in status.externalResource under
// this name and through this configuration. Create's result says what it
// observed, sparing an Observe, and Delete's whether the resource is gone,
// sparing the Observe that waits for it. An external name the driver's
// Registration.CloudName refuses is reported as InvalidSpec before any
// intent is recorded, and an object being deleted under such a name is let
// go without a cloud call.
//
// Metrics, in controller-runtime's registry: stratus_managed_resources{kind,
// provider, state} counts the objects by the state their last reconcile left
// them in (kept up to date by the reconcilers, so a scrape lists nothing),
// and stratus_drift_detected_total{kind, provider} counts the DriftDetected
// Events. The reconcile latency is controller-runtime's own
// controller_runtime_reconcile_time_seconds{controller}.
package managed
