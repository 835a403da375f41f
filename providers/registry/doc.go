// Package registry wires every managed-resource kind to its drivers: Bucket
// to S3 (AWS) and Cloud Storage (GCP), Database to RDS (AWS), Cloud SQL
// (GCP) and PostgreSQL. It owns what is kind-specific but not
// cloud-specific, such as the deterministic external name of each kind, and
// the RBAC the managed-resource reconcilers need.
package registry
