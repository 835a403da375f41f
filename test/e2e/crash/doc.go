// Package crash proves that a manager killed between a cloud create and the
// status write neither leaks nor duplicates the cloud resource: it runs the
// real stratus binary as a subprocess that kills itself with SIGKILL right
// after the create call returns, then restarts it.
package crash
