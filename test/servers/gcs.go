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

	"github.com/stratus-operator/stratus/test/fakes/googleauth"
	"github.com/stratus-operator/stratus/test/faults"
	"github.com/stratus-operator/stratus/test/gcsshim"
)

// GCSProjectID is the project of the service account StartGCS issues keys
// for, unless GCSOptions names another.
const GCSProjectID = "stratus-test"

// GCSOptions configures StartGCS. The zero value runs a throw-away server on
// free ports.
type GCSOptions struct {
	// DataDir holds the log (fake-gcs-server.log) and is kept by Stop. Empty
	// means a new temporary directory that Stop removes. Buckets and objects
	// live in memory and are lost at Stop either way.
	DataDir string
	// Port is the loopback port of Endpoint, the shim clients use; 0 picks a
	// free port.
	Port int
	// BackendPort is fake-gcs-server's own loopback port; 0 picks a free port.
	BackendPort int
	// ProjectID is the project_id of the service-account key; empty means
	// GCSProjectID.
	ProjectID string
	// Binary is the fake-gcs-server executable; empty means fake-gcs-server
	// in ToolsDir.
	Binary string
	// StartTimeout bounds the wait for the server to answer; 0 means 60s.
	StartTimeout time.Duration
}

// GCSServer is a running fake-gcs-server with the gcsshim in front of it and
// a fake OAuth token endpoint beside it. Clients should use
// option.WithEndpoint(Endpoint+"/storage/v1/") and the service-account key
// ServiceAccountJSON returns; requests without a token from that endpoint
// are refused.
type GCSServer struct {
	// Endpoint is the URL of the shim, such as http://127.0.0.1:41234: what
	// clients should use.
	Endpoint string
	// BackendEndpoint is the URL of fake-gcs-server itself, without the shim:
	// no authentication, and location, labels, iamConfiguration, lifecycle
	// and encryption ignored. URLs in its answers (selfLink, mediaLink, the
	// Location of a resumable upload) name it.
	BackendEndpoint string
	// ProjectID is the project of the service account.
	ProjectID string
	// DataDir is the directory holding the log.
	DataDir string
	// LogFile is fake-gcs-server's output.
	LogFile string
	// Auth is the token endpoint the service-account key points at.
	Auth *googleauth.Server
	// Shim is the handler serving Endpoint.
	Shim *gcsshim.Shim
	// Faults injects error answers in front of the shim, before its
	// authentication.
	Faults *faults.Injector

	proc     *process
	front    *front
	tempDir  bool
	stopOnce sync.Once
	stopErr  error
}

// ServiceAccountJSON returns a service-account key file for ProjectID whose
// token_uri is the fake token endpoint, as a credentials Secret's
// credentials.json holds it.
func (s *GCSServer) ServiceAccountJSON() []byte {
	return s.Auth.ServiceAccountJSON(s.ProjectID)
}

// StartGCS starts fake-gcs-server (in-memory backend) on loopback, waits
// until it answers, and serves the gcsshim in front of it, with a fake OAuth
// token endpoint that issues the tokens the shim requires. ctx bounds the
// start-up only. Call Stop when done.
func StartGCS(ctx context.Context, opts GCSOptions) (*GCSServer, error) {
	binary := opts.Binary
	if binary == "" {
		var err error
		if binary, err = Tool("fake-gcs-server"); err != nil {
			return nil, fmt.Errorf("start fake-gcs-server: %w", err)
		}
	}

	s := &GCSServer{ProjectID: opts.ProjectID, DataDir: opts.DataDir}
	if s.ProjectID == "" {
		s.ProjectID = GCSProjectID
	}
	if s.DataDir == "" {
		dir, err := os.MkdirTemp("", "stratus-gcs-")
		if err != nil {
			return nil, fmt.Errorf("start fake-gcs-server: create data dir: %w", err)
		}
		s.DataDir, s.tempDir = dir, true
	} else {
		abs, err := filepath.Abs(s.DataDir)
		if err != nil {
			return nil, fmt.Errorf("start fake-gcs-server: data dir: %w", err)
		}
		s.DataDir = abs
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.Stop()
		}
	}()
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("start fake-gcs-server: %w", err)
	}
	s.LogFile = filepath.Join(s.DataDir, "fake-gcs-server.log")

	auth, err := googleauth.Start("stratus@" + s.ProjectID + ".iam.gserviceaccount.com")
	if err != nil {
		return nil, fmt.Errorf("start the fake token endpoint: %w", err)
	}
	s.Auth = auth

	// With a free port picked for it, fake-gcs-server may lose a race for it
	// with another process: try again on another port.
	for attempt := 1; ; attempt++ {
		port := opts.BackendPort
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("start fake-gcs-server: %w", err)
			}
		}
		err = s.startBackend(ctx, binary, port, opts.StartTimeout)
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

func (s *GCSServer) startBackend(ctx context.Context, binary string, port int, timeout time.Duration) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(binary,
		"-scheme", "http",
		"-host", "127.0.0.1",
		"-port", strconv.Itoa(port),
		"-backend", "memory",
		// Requests name the server by this host (the shim forwards with the
		// backend's host): without it, XML API paths such as
		// /bucket/object, which the Go client reads objects with, are taken
		// for virtual-hosted requests to a bucket named 127.0.0.1.
		"-public-host", addr)
	cmd.Dir = s.DataDir
	// fake-gcs-server reads some settings from FAKE_GCS_* variables too:
	// keep the caller's environment from changing the server.
	cmd.Env = childEnv(func(name string) bool { return strings.HasPrefix(name, "FAKE_GCS_") })

	proc, err := startProcess("fake-gcs-server", cmd, s.LogFile, nil)
	if err != nil {
		return err
	}
	s.proc = proc
	s.BackendEndpoint = "http://" + addr

	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	err = proc.waitReady(ctx, timeout, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.BackendEndpoint+"/_internal/healthcheck", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthcheck: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		_ = proc.stop(syscall.SIGKILL, 0)
		s.proc = nil
		if proc.outputContains("address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("start fake-gcs-server on %s: %w", addr, err)
	}
	return nil
}

func (s *GCSServer) startShim(port int) error {
	backend, err := url.Parse(s.BackendEndpoint)
	if err != nil {
		return fmt.Errorf("start gcs shim: %w", err)
	}
	shim, err := gcsshim.New(backend, s.Auth)
	if err != nil {
		return fmt.Errorf("start gcs shim: %w", err)
	}
	f, err := serveFront(shim, port)
	if err != nil {
		return fmt.Errorf("start gcs shim: %w", err)
	}
	s.Shim, s.front, s.Faults, s.Endpoint = shim, f, f.faults, f.endpoint
	return nil
}

// Stop stops the shim, fake-gcs-server and the token endpoint, and removes
// the data directory when StartGCS created it. It is safe to call more than
// once.
func (s *GCSServer) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		s.front.stop()
		if s.Shim != nil {
			s.Shim.Close()
		}
		if s.Auth != nil {
			s.Auth.Close()
		}
		errs = append(errs, stopAndClean(s.proc, s.tempDir, s.DataDir)...)
		if err := errors.Join(errs...); err != nil {
			s.stopErr = fmt.Errorf("stop gcs server: %w", err)
		}
	})
	return s.stopErr
}
