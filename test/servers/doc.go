// Package servers starts real servers on the loopback interface for tests and
// for the local development environment (`stratus dev`):
//
//   - StartS3 runs versitygw, a real S3 server with a posix backend, and puts
//     the test-only [github.com/stratus-operator/stratus/test/s3shim] in front
//     of it for the bucket subresources versitygw does not implement.
//   - StartPostgres runs a PostgreSQL cluster of its own (initdb, then
//     postgres), as the postgres OS user when running as root.
//
// Nothing here needs a *testing.T: call the Start functions from TestMain or
// from a long-running command, and Stop when done. A context passed to a Start
// function bounds the start-up only; the server keeps running until Stop.
// Children are started with a parent-death signal on Linux, so they die with
// the process that started them even when it is killed.
//
// The binaries come from ToolsDir, which `bash test/tools/install.sh` fills.
package servers
