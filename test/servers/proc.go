package servers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// defaultStartTimeout bounds a server's start-up when the caller sets none.
const defaultStartTimeout = 60 * time.Second

// process is a running child server whose output goes to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	logFrom int64         // size of the log before this child's output
	done    chan struct{} // closed when the child has exited
	waitErr error         // valid once done is closed
}

// startProcess starts cmd with its output appended to logPath.
func startProcess(name string, cmd *exec.Cmd, logPath string, runAs *osUser) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
	}
	var logFrom int64
	if info, err := logFile.Stat(); err == nil {
		logFrom = info.Size()
	}
	fmt.Fprintf(logFile, "=== %s: %s\n", time.Now().Format(time.RFC3339), strings.Join(cmd.Args, " "))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(runAs)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: logFile, logFrom: logFrom, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the child has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the child to exit with sig, and kills it and its process group
// when it has not exited after grace.
func (p *process) stop(sig os.Signal, grace time.Duration) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: signal: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	killGroup(p.cmd.Process)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("stop %s: pid %d still running after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// waitReady polls ready until it succeeds, the child exits, or ctx or the
// timeout ends. Its errors carry the tail of the child's log.
func (p *process) waitReady(ctx context.Context, timeout time.Duration, ready func(context.Context) error) error {
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A check in flight ends as soon as the child exits.
	checkCtx, cancelCheck := context.WithCancel(ctx)
	defer cancelCheck()
	go func() {
		select {
		case <-p.done:
			cancelCheck()
		case <-checkCtx.Done():
		}
	}()
	var lastErr error
	for {
		if p.exited() {
			return fmt.Errorf("%s exited during start-up (%v); log %s ends with:\n%s",
				p.name, p.waitErr, p.logPath, logTail(p.logPath))
		}
		if lastErr = ready(checkCtx); lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready (last check: %v): %w; log %s ends with:\n%s",
				p.name, lastErr, ctx.Err(), p.logPath, logTail(p.logPath))
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail returns the last lines of a log file, for error messages.
func logTail(path string) string {
	const maxBytes = 4096
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > maxBytes {
		if _, err := f.Seek(-maxBytes, io.SeekEnd); err != nil {
			return fmt.Sprintf("(cannot read log: %v)", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// outputContains reports whether this child's output mentions any of the
// given strings.
func (p *process) outputContains(needles ...string) bool {
	b, err := os.ReadFile(p.logPath)
	if err != nil || int64(len(b)) < p.logFrom {
		return false
	}
	b = b[p.logFrom:]
	for _, n := range needles {
		if bytes.Contains(b, []byte(n)) {
			return true
		}
	}
	return false
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomString returns n random bytes, hex-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}

// childEnv returns the environment for a child: the parent's, without the
// variables for which drop returns true, plus extra.
func childEnv(drop func(name string) bool, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !drop(name) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// osUser is an OS account a child runs as.
type osUser struct {
	name string
	uid  uint32
	gid  uint32
	gids []uint32 // supplementary groups
}

// stopAndClean stops an emulator process with SIGTERM (SIGKILL after 5 s)
// and removes its data directory when the start created it.
func stopAndClean(proc *process, tempDir bool, dataDir string) []error {
	var errs []error
	if proc != nil {
		if err := proc.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if tempDir {
		if err := os.RemoveAll(dataDir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dataDir, err))
		}
	}
	return errs
}
