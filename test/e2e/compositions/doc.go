// Package compositions tests composites end to end: CompositeDefinitions
// served by the running manager, and their instances composed of real
// Buckets and Databases against the local S3 server and PostgreSQL.
package compositions
