package managed

import (
	"os"
	"syscall"
)

// crashPointEnv names the environment variable that makes the manager kill
// itself with SIGKILL at a named point of a reconcile. Tests use it to prove
// that a manager killed between a cloud call and the status write neither
// leaks nor duplicates the cloud resource. It is read once, at start-up.
const crashPointEnv = "STRATUS_CRASH_POINT"

// Crash points.
const (
	crashAfterCreate = "after-create"
)

var crashPoint = os.Getenv(crashPointEnv)

// maybeCrash kills the process, as a kill -9 would, when point is the crash
// point the environment names.
func maybeCrash(point string) {
	if crashPoint == point {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
