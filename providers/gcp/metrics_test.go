package gcp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/apimetrics"
	"github.com/stratus-operator/stratus/test/fakes/googleauth"
)

func TestAPIOperation(t *testing.T) {
	cases := []struct {
		method, path string
		want         string
	}{
		// Cloud Storage JSON API.
		{"GET", "/storage/v1/b/my-bucket", "buckets.get"},
		{"POST", "/storage/v1/b", "buckets.insert"},
		{"PATCH", "/storage/v1/b/my-bucket", "buckets.patch"},
		{"PUT", "/storage/v1/b/my-bucket", "buckets.update"},
		{"DELETE", "/storage/v1/b/my-bucket", "buckets.delete"},
		{"GET", "/storage/v1/b", "buckets.list"},
		{"GET", "/storage/v1/b/my-bucket/o", "objects.list"},
		{"GET", "/storage/v1/b/my-bucket/o/dir%2Ffile.txt", "objects.get"},
		{"DELETE", "/storage/v1/b/my-bucket/o/dir%2Ffile.txt", "objects.delete"},
		{"POST", "/upload/storage/v1/b/my-bucket/o", "objects.insert"},
		{"GET", "/storage/v1/b/my-bucket/iam", "buckets.getIamPolicy"},
		{"PUT", "/storage/v1/b/my-bucket/iam", "buckets.setIamPolicy"},
		{"GET", "/storage/v1/b/my-bucket/iam/testPermissions", "buckets.testIamPermissions"},
		{"POST", "/storage/v1/b/my-bucket/lockRetentionPolicy", "buckets.lockRetentionPolicy"},
		{"POST", "/storage/v1/b/src/o/a/rewriteTo/b/dst/o/b", "objects.rewriteTo"},
		{"GET", "/a/proxy/prefix/storage/v1/b/my-bucket", "buckets.get"},
		// Cloud SQL Admin API.
		{"GET", "/v1/projects/p/instances/db-1", "instances.get"},
		{"POST", "/v1/projects/p/instances", "instances.insert"},
		{"PATCH", "/v1/projects/p/instances/db-1", "instances.patch"},
		{"DELETE", "/v1/projects/p/instances/db-1", "instances.delete"},
		{"GET", "/v1/projects/p/instances", "instances.list"},
		{"POST", "/v1/projects/p/instances/db-1/restart", "instances.restart"},
		{"GET", "/v1/projects/p/operations/op-1", "operations.get"},
		{"GET", "/v1/projects/p/instances/db-1/databases/app", "databases.get"},
		{"POST", "/v1/projects/p/instances/db-1/databases", "databases.insert"},
		{"GET", "/v1/projects/p/instances/db-1/users", "users.list"},
		{"POST", "/v1/projects/p/instances/db-1/users", "users.insert"},
		{"PUT", "/v1/projects/p/instances/db-1/users", "users.update"},
		{"GET", "/v1/flags", "flags.list"},
		{"GET", "/sql/v1beta4/projects/p/instances/db-1", "instances.get"},
		// Unknown paths give the method.
		{"POST", "/token", "POST"},
		{"GET", "/my-bucket/my-object", "GET"},
		{"GET", "/", "GET"},
		{"GET", "/storage/v1", "GET"},
		{"GET", "/v1/unknownThings/x", "GET"},
		{"GET", "/storage/v1/b/my-bucket/Not-A-Method", "GET"},
		{"POST", "/storage/v1/b/my-bucket", "POST"},
		{"HEAD", "/storage/v1/b/my-bucket", "HEAD"},
	}
	for _, tc := range cases {
		if got := apiOperation(tc.method, tc.path); got != tc.want {
			t.Errorf("apiOperation(%q, %q) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

// gcpCalls reads stratus_cloud_api_calls_total of an operation by result.
func gcpCalls(service, operation string) map[apimetrics.Result]float64 {
	got := map[apimetrics.Result]float64{}
	for _, r := range []apimetrics.Result{apimetrics.Success, apimetrics.NotFound, apimetrics.Throttled, apimetrics.Error} {
		got[r] = testutil.ToFloat64(apimetrics.CallsTotal.WithLabelValues("GCP", service, operation, string(r)))
	}
	return got
}

// counted returns what changed between two readings of gcpCalls.
func counted(before, after map[apimetrics.Result]float64) map[apimetrics.Result]float64 {
	d := map[apimetrics.Result]float64{}
	for r, v := range after {
		if v != before[r] {
			d[r] = v - before[r]
		}
	}
	return d
}

// TestCallsAreCounted runs the drivers' real API clients against fakes and
// checks what their transports count. It reads the package-wide counter, so
// it must not run in parallel with tests that call the same operations; it
// does not.
func TestCallsAreCounted(t *testing.T) {
	auth, err := googleauth.Start("stratus@metrics-project.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(auth.Close)
	key := auth.ServiceAccountJSON("metrics-project")
	req := bucketRequest{Object: newBucket("metrics-bucket", storagev1alpha1.BucketSpec{}), ExternalName: "metrics-bucket", Region: "eu"}

	t.Run("StorageRetriesCountEach", func(t *testing.T) {
		endpoint, sent := fakeGCS(t, map[string]fakeResponse{"GET bucket": {status: 429}})
		c := connectWith(t, config(endpoint, key))
		before := gcpCalls(serviceStorage, "buckets.get")
		_, _ = c.Observe(t.Context(), req)
		want := map[apimetrics.Result]float64{apimetrics.Throttled: DefaultMaxAttempts}
		if diff := cmp.Diff(want, counted(before, gcpCalls(serviceStorage, "buckets.get"))); diff != "" {
			t.Errorf("a bucket read throttled at each attempt: -want, +got:\n%s", diff)
		}
		if sent.Load() != DefaultMaxAttempts {
			t.Errorf("the server got %d requests, want %d", sent.Load(), DefaultMaxAttempts)
		}
	})
	t.Run("StorageNotFound", func(t *testing.T) {
		endpoint, _ := fakeGCS(t, map[string]fakeResponse{"GET bucket": {status: 404}})
		c := connectWith(t, config(endpoint, key))
		before := gcpCalls(serviceStorage, "buckets.get")
		if _, err := c.Observe(t.Context(), req); err != nil {
			t.Fatalf("Observe(...): %v", err)
		}
		want := map[apimetrics.Result]float64{apimetrics.NotFound: 1}
		if diff := cmp.Diff(want, counted(before, gcpCalls(serviceStorage, "buckets.get"))); diff != "" {
			t.Errorf("a read of a missing bucket: -want, +got:\n%s", diff)
		}
	})
	t.Run("StorageEmulatorHost", func(t *testing.T) {
		// As storage.NewClient does, STORAGE_EMULATOR_HOST sends the calls,
		// unauthenticated, to the emulator.
		endpoint, sent := fakeGCS(t, map[string]fakeResponse{"GET bucket": {status: 404}})
		t.Setenv(storageEmulatorHostEnv, strings.TrimPrefix(endpoint, "http://"))
		cfg := config("", nil)
		cfg.Spec.Credentials = stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient}
		c := connectWith(t, cfg)
		before := gcpCalls(serviceStorage, "buckets.get")
		if _, err := c.Observe(t.Context(), req); err != nil {
			t.Fatalf("Observe(...): %v", err)
		}
		want := map[apimetrics.Result]float64{apimetrics.NotFound: 1}
		if diff := cmp.Diff(want, counted(before, gcpCalls(serviceStorage, "buckets.get"))); diff != "" {
			t.Errorf("a read through the emulator: -want, +got:\n%s", diff)
		}
		if sent.Load() != 1 {
			t.Errorf("the emulator got %d requests, want 1", sent.Load())
		}
	})
	t.Run("CloudSQLNotFound", func(t *testing.T) {
		s := sqlStartFake(t)
		c := sqlTestConnect(t, s)
		before := gcpCalls(serviceSQLAdmin, "instances.get")
		obs, err := c.Observe(t.Context(), sqlTestRequest(sqlTestDatabase("metrics"), ""))
		if err != nil || obs.Exists {
			t.Fatalf("Observe(...) = %+v, %v; want a missing instance", obs, err)
		}
		want := map[apimetrics.Result]float64{apimetrics.NotFound: 1}
		if diff := cmp.Diff(want, counted(before, gcpCalls(serviceSQLAdmin, "instances.get"))); diff != "" {
			t.Errorf("a read of a missing instance: -want, +got:\n%s", diff)
		}
	})
}

// TestCountedClientKeepsAuthentication checks that the client built to count
// calls still authenticates them.
func TestCountedClientKeepsAuthentication(t *testing.T) {
	auth, err := googleauth.Start("stratus@metrics-project.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(auth.Close)
	authorization := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case authorization <- r.Header.Get("Authorization"):
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":404,"message":"Not Found"}}`))
	}))
	t.Cleanup(srv.Close)
	c := connectWith(t, config(srv.URL, auth.ServiceAccountJSON("metrics-project")), WithMaxAttempts(1))
	req := bucketRequest{Object: newBucket("metrics-bucket", storagev1alpha1.BucketSpec{}), ExternalName: "metrics-bucket", Region: "eu"}
	if _, err := c.Observe(t.Context(), req); err != nil {
		t.Fatalf("Observe(...): %v", err)
	}
	select {
	case got := <-authorization:
		if !strings.HasPrefix(got, "Bearer ") {
			t.Errorf("Authorization = %q, want a bearer token", got)
		}
	default:
		t.Error("Observe sent no request")
	}
}
