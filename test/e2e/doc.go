// Package e2e holds the end-to-end tests of the managed-resource operator:
// a real kube-apiserver and etcd, a real S3 server (versitygw behind the
// test shim) and a real PostgreSQL, with the manager running in-process, and
// assertions against what the servers hold.
package e2e
