package servers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/stratus-operator/stratus/test/faults"
)

// gcsClient returns a Cloud Storage client for endpoint; with a key it
// authenticates with it, without one it sends no credentials.
func gcsClient(ctx context.Context, t *testing.T, endpoint string, key []byte) *storage.Client {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(endpoint + "/storage/v1/"), storage.WithDisabledClientMetrics()}
	if key != nil {
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	c, err := storage.NewClient(ctx, opts...)
	if err != nil {
		t.Fatalf("storage.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func writeAndRead(ctx context.Context, t *testing.T, c *storage.Client, bucket, key, body string) {
	t.Helper()
	w := c.Bucket(bucket).Object(key).NewWriter(ctx)
	if _, err := io.WriteString(w, body); err != nil {
		t.Fatalf("write %s/%s: %v", bucket, key, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("write %s/%s: %v", bucket, key, err)
	}
	r, err := c.Bucket(bucket).Object(key).NewReader(ctx)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	if string(got) != body {
		t.Fatalf("read %s/%s = %q; want %q", bucket, key, got, body)
	}
}

func TestStartGCS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	srv, err := StartGCS(ctx, GCSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fake-gcs-server and shim ready in %v: endpoint %s, backend %s", time.Since(start), srv.Endpoint, srv.BackendEndpoint)
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(srv.DataDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temporary data dir %s still there after Stop: %v", srv.DataDir, err)
		}
		if resp, err := http.Get(srv.BackendEndpoint + "/_internal/healthcheck"); err == nil {
			resp.Body.Close()
			t.Errorf("fake-gcs-server still answers after Stop")
		}
	}()
	if srv.ProjectID != GCSProjectID || srv.Endpoint == "" || srv.BackendEndpoint == "" || srv.Endpoint == srv.BackendEndpoint {
		t.Fatalf("server fields: project %q, endpoint %q, backend %q", srv.ProjectID, srv.Endpoint, srv.BackendEndpoint)
	}

	var key struct {
		Type      string `json:"type"`
		ProjectID string `json:"project_id"`
		TokenURI  string `json:"token_uri"`
	}
	if err := json.Unmarshal(srv.ServiceAccountJSON(), &key); err != nil {
		t.Fatalf("ServiceAccountJSON: %v", err)
	}
	if key.Type != "service_account" || key.ProjectID != GCSProjectID || key.TokenURI != srv.Auth.TokenURI() {
		t.Errorf("ServiceAccountJSON: type %q, project %q, token_uri %q; want a service_account key for %q with token_uri %q",
			key.Type, key.ProjectID, key.TokenURI, GCSProjectID, srv.Auth.TokenURI())
	}

	t.Run("through the shim with the service account", func(t *testing.T) {
		c := gcsClient(ctx, t, srv.Endpoint, srv.ServiceAccountJSON())
		if err := c.Bucket("servers-shim").Create(ctx, srv.ProjectID, &storage.BucketAttrs{Location: "europe-west1"}); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		attrs, err := c.Bucket("servers-shim").Attrs(ctx)
		if err != nil {
			t.Fatalf("bucket attrs: %v", err)
		}
		if attrs.Location != "EUROPE-WEST1" {
			t.Errorf("location through the shim = %q; want EUROPE-WEST1", attrs.Location)
		}
		writeAndRead(ctx, t, c, "servers-shim", "dir/hello.txt", "hello through the shim")
		if srv.Auth.Issued() == 0 {
			t.Error("the token endpoint issued no token")
		}
	})

	t.Run("direct to fake-gcs-server without credentials", func(t *testing.T) {
		c := gcsClient(ctx, t, srv.BackendEndpoint, nil)
		if err := c.Bucket("servers-direct").Create(ctx, srv.ProjectID, nil); err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		writeAndRead(ctx, t, c, "servers-direct", "hello.txt", "hello, emulator")
	})

	t.Run("faults are injected in front of the shim", func(t *testing.T) {
		c := gcsClient(ctx, t, srv.Endpoint, srv.ServiceAccountJSON())
		srv.Faults.FailNext(1, faults.GoogleRateLimited)
		// The client library retries the 429 and the next attempt succeeds.
		if _, err := c.Bucket("servers-shim").Attrs(ctx); err != nil {
			t.Fatalf("bucket attrs after one injected 429: %v", err)
		}
		if got := srv.Faults.Injected(); got != 1 {
			t.Errorf("%d injected answers; want 1", got)
		}
	})

	t.Run("the shim refuses a request without a token", func(t *testing.T) {
		c := gcsClient(ctx, t, srv.Endpoint, nil)
		_, err := c.Bucket("servers-shim").Attrs(ctx)
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("bucket attrs without a token: %v; want a 401 error", err)
		}
	})
}

func TestStartGCSKeepsDataDir(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := StartGCS(ctx, GCSOptions{DataDir: dir, ProjectID: "other-project"})
	if err != nil {
		t.Fatal(err)
	}
	if srv.ProjectID != "other-project" {
		t.Errorf("ProjectID = %q; want the one given", srv.ProjectID)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(srv.LogFile)
	if err != nil || !strings.Contains(string(log), "fake-gcs-server") {
		t.Errorf("log %s after Stop: %v, %q", srv.LogFile, err, log)
	}
}

func TestStartGCSMissingBinary(t *testing.T) {
	t.Setenv(ToolsDirEnv, t.TempDir())
	_, err := StartGCS(context.Background(), GCSOptions{})
	if err == nil || !strings.Contains(err.Error(), "install.sh") || !strings.Contains(err.Error(), "fake-gcs-server") {
		t.Fatalf("StartGCS without fake-gcs-server: %v; want an error naming fake-gcs-server and install.sh", err)
	}
}

func TestStartGCSPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	cases := map[string]GCSOptions{
		"fake-gcs-server": {BackendPort: busy},
		"shim":            {Port: busy},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			srv, err := StartGCS(ctx, opts)
			if err == nil {
				_ = srv.Stop()
			}
			if err == nil || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("StartGCS on a busy port: %v; want an error with %q", err, "address already in use")
			}
		})
	}
}
