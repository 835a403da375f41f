//go:build !linux

package servers

import (
	"errors"
	"os"
	"syscall"
)

// sysProcAttr returns no special attributes: the parent-death signal and
// credential changes used on Linux are not portable.
func sysProcAttr(runAs *osUser) *syscall.SysProcAttr { return nil }

// killGroup kills the child.
func killGroup(p *os.Process) { _ = p.Kill() }

// lookupUser is only needed when running as root, which is supported on Linux only.
func lookupUser(name string) (*osUser, error) {
	return nil, errors.New("running servers as root is supported on Linux only; run as an ordinary user")
}

// checkTraversable is a no-op outside Linux.
func checkTraversable(dir string, u *osUser) error { return nil }
