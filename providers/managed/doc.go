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
// Metrics, in controller-runtime's registry: stratus_managed_resources{kind,
// provider, state} counts the objects by the state their last reconcile left
// them in (kept up to date by the reconcilers, so a scrape lists nothing),
// and stratus_drift_detected_total{kind, provider} counts the DriftDetected
// Events. The reconcile latency is controller-runtime's own
// controller_runtime_reconcile_time_seconds{controller}.
package managed
