// Package gcp holds the Google Cloud drivers: Cloud Storage for Bucket and
// Cloud SQL for Database. Credentials come from a service-account key in a
// Secret (key credentials.json) or from Application Default Credentials
// (workload identity on GKE).
package gcp
