package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stratus-operator/stratus/test/faults"
	"github.com/stratus-operator/stratus/test/s3shim"
)

// S3Region is the region of the S3 server StartS3 runs.
const S3Region = "us-east-1"

// S3Options configures StartS3. The zero value runs a throw-away server on
// free ports with generated credentials.
type S3Options struct {
	// DataDir holds the buckets (buckets/), object versions (versions/), the
	// log (versitygw.log) and generated credentials (root-credentials), and is
	// kept by Stop. Empty means a new temporary directory that Stop removes.
	DataDir string
	// Port is the loopback port of Endpoint, the shim clients use; 0 picks a
	// free port.
	Port int
	// BackendPort is versitygw's own loopback port; 0 picks a free port.
	BackendPort int
	// AccessKey is the root access key. Empty (with SecretKey empty too)
	// means the one saved in DataDir by an earlier start, else a random one.
	AccessKey string
	// SecretKey is the root secret key, set or left empty with AccessKey.
	SecretKey string
	// Binary is the versitygw executable; empty means versitygw in ToolsDir.
	Binary string
	// StartTimeout bounds the wait for the server to answer; 0 means 60s.
	StartTimeout time.Duration
}

// S3Server is a running versitygw with the s3shim in front of it. Clients
// should use Endpoint with path-style addressing (UsePathStyle in
// aws-sdk-go-v2), the root credentials and Region.
type S3Server struct {
	// Endpoint is the URL of the shim, such as http://127.0.0.1:41234: what
	// clients should use.
	Endpoint string
	// BackendEndpoint is the URL of versitygw itself, without the shim.
	BackendEndpoint string
	// AccessKey is the root access key.
	AccessKey string
	// SecretKey is the root secret key.
	SecretKey string
	// Region is the signing region, S3Region.
	Region string
	// DataDir is the directory holding the server's data and log.
	DataDir string
	// LogFile is versitygw's output.
	LogFile string
	// Shim is the handler serving Endpoint.
	Shim *s3shim.Shim
	// Faults injects error answers in front of the shim.
	Faults *faults.Injector

	proc     *process
	front    *front
	tempDir  bool
	stopOnce sync.Once
	stopErr  error
}

// StartS3 starts versitygw (posix backend) on loopback, waits until it
// answers, and serves the s3shim in front of it. ctx bounds the start-up
// only. Call Stop when done.
func StartS3(ctx context.Context, opts S3Options) (*S3Server, error) {
	binary := opts.Binary
	if binary == "" {
		var err error
		if binary, err = Tool("versitygw"); err != nil {
			return nil, fmt.Errorf("start versitygw: %w", err)
		}
	}

	s := &S3Server{Region: S3Region, DataDir: opts.DataDir}
	if s.DataDir == "" {
		dir, err := os.MkdirTemp("", "stratus-s3-")
		if err != nil {
			return nil, fmt.Errorf("start versitygw: create data dir: %w", err)
		}
		s.DataDir, s.tempDir = dir, true
	} else {
		abs, err := filepath.Abs(s.DataDir)
		if err != nil {
			return nil, fmt.Errorf("start versitygw: data dir: %w", err)
		}
		s.DataDir = abs
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop()
		}
	}()

	rootDir := filepath.Join(s.DataDir, "buckets")
	versionsDir := filepath.Join(s.DataDir, "versions")
	for _, d := range []string{rootDir, versionsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("start versitygw: %w", err)
		}
	}
	var err error
	if s.AccessKey, s.SecretKey, err = s3Credentials(opts, s.tempDir, s.DataDir); err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	s.LogFile = filepath.Join(s.DataDir, "versitygw.log")

	// With a free port picked for it, versitygw may lose a race for it with
	// another process: try again on another port.
	for attempt := 1; ; attempt++ {
		port := opts.BackendPort
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("start versitygw: %w", err)
			}
		}
		err = s.startBackend(ctx, binary, port, rootDir, versionsDir, opts.StartTimeout)
		if err == nil {
			break
		}
		if opts.BackendPort != 0 || attempt == 3 || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}

	if err := s.startShim(opts.Port); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// errPortInUse marks a child that could not bind its port.
var errPortInUse = errors.New("port in use")

func (s *S3Server) startBackend(ctx context.Context, binary string, port int, rootDir, versionsDir string, timeout time.Duration) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(binary,
		"--port", addr,
		"--region", S3Region,
		"posix", "--versioning-dir", versionsDir, rootDir)
	cmd.Dir = s.DataDir
	// versitygw reads every flag from a VGW_* variable too: keep the
	// caller's environment from changing the server.
	cmd.Env = childEnv(func(name string) bool {
		return strings.HasPrefix(name, "VGW_") || strings.HasPrefix(name, "ROOT_")
	}, "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)

	proc, err := startProcess("versitygw", cmd, s.LogFile, nil)
	if err != nil {
		return err
	}
	s.proc = proc
	s.BackendEndpoint = "http://" + addr

	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	err = proc.waitReady(ctx, timeout, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.BackendEndpoint+"/", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close() // any answer, such as 403 to this anonymous request, means it is serving
		return nil
	})
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 0)
		s.proc = nil
		if proc.outputContains("address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("start versitygw on %s: %w", addr, err)
	}
	return nil
}

func (s *S3Server) startShim(port int) error {
	backend, err := url.Parse(s.BackendEndpoint)
	if err != nil {
		return fmt.Errorf("start s3 shim: %w", err)
	}
	shim, err := s3shim.New(backend, s.AccessKey, s.SecretKey, s.Region)
	if err != nil {
		return fmt.Errorf("start s3 shim: %w", err)
	}
	f, err := serveFront(shim, port)
	if err != nil {
		return fmt.Errorf("start s3 shim: %w", err)
	}
	s.Shim, s.front, s.Faults, s.Endpoint = shim, f, f.faults, f.endpoint
	return nil
}

// Stop stops the shim and versitygw, and removes the data directory when
// StartS3 created it. It is safe to call more than once.
func (s *S3Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		s.front.stop()
		if s.Shim != nil {
			s.Shim.Close()
		}
		errs = append(errs, stopAndClean(s.proc, s.tempDir, s.DataDir)...)
		if err := errors.Join(errs...); err != nil {
			s.stopErr = fmt.Errorf("stop s3 server: %w", err)
		}
	})
	return s.stopErr
}

// s3Credentials returns the root credentials: the given ones, else those an
// earlier start saved in a kept data dir, else new ones (saved in a kept
// data dir).
func s3Credentials(opts S3Options, tempDir bool, dataDir string) (string, string, error) {
	if opts.AccessKey != "" || opts.SecretKey != "" {
		if opts.AccessKey == "" || opts.SecretKey == "" {
			return "", "", errors.New("set both AccessKey and SecretKey, or neither")
		}
		return opts.AccessKey, opts.SecretKey, nil
	}
	path := filepath.Join(dataDir, "root-credentials")
	if !tempDir {
		if b, err := os.ReadFile(path); err == nil {
			if lines := strings.Fields(string(b)); len(lines) == 2 {
				return lines[0], lines[1], nil
			}
			return "", "", fmt.Errorf("%s: want an access key and a secret key", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", "", fmt.Errorf("read credentials: %w", err)
		}
	}
	access := "STRATUS" + strings.ToUpper(randomString(7)) // 21 characters, like an AWS key ID
	secret := randomString(20)
	if !tempDir {
		if err := os.WriteFile(path, []byte(access+"\n"+secret+"\n"), 0o600); err != nil {
			return "", "", fmt.Errorf("save credentials: %w", err)
		}
	}
	return access, secret, nil
}
