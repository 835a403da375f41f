package servers

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// sysProcAttr puts a child in its own process group (so a terminal's Ctrl-C
// reaches only the parent, which stops children in order), kills it when the
// parent dies, and runs it as runAs when set. Go sets the parent-death signal
// after changing credentials, so the kernel does not clear it.
func sysProcAttr(runAs *osUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if runAs != nil {
		attr.Credential = &syscall.Credential{Uid: runAs.uid, Gid: runAs.gid, Groups: runAs.gids}
	}
	return attr
}

// killGroup kills a child's process group, which holds its own children.
func killGroup(p *os.Process) {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		_ = p.Kill()
	}
}

// lookupUser returns the named OS account.
func lookupUser(name string) (*osUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("look up user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("look up user %s: gid %q: %w", name, u.Gid, err)
	}
	out := &osUser{name: name, uid: uint32(uid), gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				out.gids = append(out.gids, uint32(g))
			}
		}
	}
	return out, nil
}

// checkTraversable fails when u cannot reach dir because an ancestor lacks
// search permission for it (such as /root, mode 0700).
func checkTraversable(dir string, u *osUser) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if ok {
			mode := info.Mode().Perm()
			allowed := mode&0o001 != 0 ||
				(st.Uid == u.uid && mode&0o100 != 0) ||
				((st.Gid == u.gid || slices.Contains(u.gids, st.Gid)) && mode&0o010 != 0)
			if !allowed {
				return fmt.Errorf("user %s cannot enter %s (mode %v): choose a directory it can reach, "+
					"such as one under /tmp or /var/tmp, or run `chmod o+x %s`", u.name, d, mode, d)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
