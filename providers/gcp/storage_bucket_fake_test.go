package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/test/fakes/googleauth"
)

// fakeResponse is a canned Cloud Storage JSON API answer.
type fakeResponse struct {
	status int
	body   string // a success body; errors get an error document
}

// fakeGCS serves canned answers keyed by method and resource, such as
// "GET bucket", "POST buckets", "GET objects" or "DELETE bucket"; anything
// else is answered 500. It counts the requests it gets. These are answers
// the emulator cannot be made to give: throttling, names taken by another
// project, Cloud Storage's 409 for a bucket that is not empty.
func fakeGCS(t *testing.T, routes map[string]fakeResponse) (string, *atomic.Int64) {
	t.Helper()
	calls := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		resource := "other"
		switch path := strings.TrimPrefix(r.URL.Path, "/storage/v1"); {
		case path == "/b":
			resource = "buckets"
		case strings.HasSuffix(path, "/o"):
			resource = "objects"
		case strings.HasPrefix(path, "/b/") && !strings.Contains(path[3:], "/"):
			resource = "bucket"
		}
		resp, ok := routes[r.Method+" "+resource]
		if !ok {
			resp = fakeResponse{status: http.StatusInternalServerError}
		}
		body := resp.body
		if resp.status >= 400 {
			body = fmt.Sprintf(`{"error":{"code":%d,"message":"canned %d","errors":[{"domain":"global","reason":"canned","message":"canned %d"}]}}`,
				resp.status, resp.status, resp.status)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

func TestBucketFakeAnswers(t *testing.T) {
	auth, err := googleauth.Start("stratus@fake-project.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(auth.Close)
	key := auth.ServiceAccountJSON("fake-project")

	bucketJSON := func(location string) string {
		return `{"kind":"storage#bucket","name":"fake-bucket","location":"` + location + `",` +
			`"iamConfiguration":{"uniformBucketLevelAccess":{"enabled":true},"publicAccessPrevention":"enforced"}}`
	}
	type class struct{ Err, Terminal, Throttled, BadCredentials, Blocked bool }
	cases := map[string]struct {
		reason string
		routes map[string]fakeResponse
		call   func(ctx context.Context, c driver.Client[*storagev1alpha1.Bucket], req bucketRequest) error
		want   class
		// wantText is in the error.
		wantText string
		// wantCalls is how many requests the driver sends, 0 for any.
		wantCalls int64
	}{
		"ObserveThrottled429": {
			reason: "429 on a read is throttling.",
			routes: map[string]fakeResponse{"GET bucket": {status: 429}},
			call:   observeCall,
			want:   class{Err: true, Throttled: true},
		},
		"ObserveThrottled503": {
			reason: "503 on a read is throttling.",
			routes: map[string]fakeResponse{"GET bucket": {status: 503}},
			call:   observeCall,
			want:   class{Err: true, Throttled: true},
		},
		"RetriesAreBounded": {
			reason:    "The client library tries a throttled read at most DefaultMaxAttempts times.",
			routes:    map[string]fakeResponse{"GET bucket": {status: 429}},
			call:      observeCall,
			want:      class{Err: true, Throttled: true},
			wantCalls: DefaultMaxAttempts,
		},
		"ObserveUnauthorized": {
			reason: "401 is bad credentials.",
			routes: map[string]fakeResponse{"GET bucket": {status: 401}},
			call:   observeCall,
			want:   class{Err: true, BadCredentials: true},
		},
		"ObserveOtherLocation": {
			reason:   "A bucket in another location cannot be moved: terminal.",
			routes:   map[string]fakeResponse{"GET bucket": {status: 200, body: bucketJSON("ASIA")}},
			call:     observeCall,
			want:     class{Err: true, Terminal: true},
			wantText: `bucket "fake-bucket" is in location "ASIA", not "EU"`,
		},
		"CreateInvalid": {
			reason: "400 on create is terminal.",
			routes: map[string]fakeResponse{"POST buckets": {status: 400}},
			call:   createCall,
			want:   class{Err: true, Terminal: true},
		},
		"CreateThrottled": {
			reason: "429 on create is throttling.",
			routes: map[string]fakeResponse{"POST buckets": {status: 429}},
			call:   createCall,
			want:   class{Err: true, Throttled: true},
		},
		"CreateNameTaken": {
			reason:   "409 on create, then 403 on reading the bucket: another project has the name.",
			routes:   map[string]fakeResponse{"POST buckets": {status: 409}, "GET bucket": {status: 403}},
			call:     createCall,
			want:     class{Err: true, Terminal: true},
			wantText: "taken by another project",
		},
		"CreateAlreadyOurs": {
			reason: "409 on create, then a readable bucket in the right location: ours, success.",
			routes: map[string]fakeResponse{"POST buckets": {status: 409}, "GET bucket": {status: 200, body: bucketJSON("EU")}},
			call:   createCall,
		},
		"CreateOursElsewhere": {
			reason:   "409 on create, then our bucket in another location: terminal.",
			routes:   map[string]fakeResponse{"POST buckets": {status: 409}, "GET bucket": {status: 200, body: bucketJSON("US")}},
			call:     createCall,
			want:     class{Err: true, Terminal: true},
			wantText: "cannot be changed",
		},
		"CreateNameBeingDeleted": {
			reason: "409 on create, then 404 on reading: retried, not terminal.",
			routes: map[string]fakeResponse{"POST buckets": {status: 409}, "GET bucket": {status: 404}},
			call:   createCall,
			want:   class{Err: true},
		},
		"DeleteNotEmptyConflict": {
			reason:   "Cloud Storage's 409 for a bucket that got an object after the check blocks the deletion.",
			routes:   map[string]fakeResponse{"GET objects": {status: 200, body: `{"kind":"storage#objects"}`}, "DELETE bucket": {status: 409}},
			call:     deleteCall,
			want:     class{Err: true, Blocked: true},
			wantText: "spec.forceDestroy",
		},
		"DeleteThrottled": {
			reason: "503 on delete is throttling.",
			routes: map[string]fakeResponse{"GET objects": {status: 200, body: `{"kind":"storage#objects"}`}, "DELETE bucket": {status: 503}},
			call:   deleteCall,
			want:   class{Err: true, Throttled: true},
		},
		"DeleteGone": {
			reason: "404 on delete is success.",
			routes: map[string]fakeResponse{"GET objects": {status: 200, body: `{"kind":"storage#objects"}`}, "DELETE bucket": {status: 404}},
			call:   deleteCall,
		},
		"UpdateMissing": {
			reason:   "Update of a bucket that does not exist is retried: the next Observe creates it.",
			routes:   map[string]fakeResponse{"GET bucket": {status: 404}},
			call:     updateCall,
			want:     class{Err: true},
			wantText: "does not exist",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			endpoint, calls := fakeGCS(t, tc.routes)
			opts := []Option{WithMaxAttempts(1)}
			if tc.wantCalls != 0 {
				opts = nil
			}
			c := connectWith(t, config(endpoint, key), opts...)
			b := newBucket("fake-bucket", storagev1alpha1.BucketSpec{})
			req := bucketRequest{Object: b, ExternalName: "fake-bucket", Region: "eu"}
			err := tc.call(t.Context(), c, req)
			got := class{err != nil, driver.IsTerminal(err), driver.IsThrottled(err), driver.IsBadCredentials(err), driver.IsBlocked(err)}
			if got != tc.want {
				t.Errorf("%s\nerror %v is %+v; want %+v", tc.reason, err, got, tc.want)
			}
			if tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)) {
				t.Errorf("%s\nerror %v; want it to say %q", tc.reason, err, tc.wantText)
			}
			if tc.wantCalls != 0 && calls.Load() != tc.wantCalls {
				t.Errorf("%s\n%d requests; want %d", tc.reason, calls.Load(), tc.wantCalls)
			}
		})
	}
}

func observeCall(ctx context.Context, c driver.Client[*storagev1alpha1.Bucket], req bucketRequest) error {
	_, err := c.Observe(ctx, req)
	return err
}

func createCall(ctx context.Context, c driver.Client[*storagev1alpha1.Bucket], req bucketRequest) error {
	_, err := c.Create(ctx, req)
	return err
}

func updateCall(ctx context.Context, c driver.Client[*storagev1alpha1.Bucket], req bucketRequest) error {
	_, err := c.Update(ctx, req)
	return err
}

func deleteCall(ctx context.Context, c driver.Client[*storagev1alpha1.Bucket], req bucketRequest) error {
	_, err := c.Delete(ctx, req)
	return err
}

func TestBucketConnect(t *testing.T) {
	auth, err := googleauth.Start("stratus@connect-project.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(auth.Close)
	good := auth.ServiceAccountJSON("connect-project")
	withKey := func(privateKey string) []byte {
		var k map[string]string
		if err := json.Unmarshal(good, &k); err != nil {
			t.Fatal(err)
		}
		k["private_key"] = privateKey
		b, _ := json.Marshal(k)
		return b
	}
	const truncated = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n"

	type class struct{ Err, Terminal, BadCredentials bool }
	cases := map[string]struct {
		reason string
		cfg    driver.Config
		want   class
		// secret must not be in the error.
		secret string
	}{
		"Good": {
			reason: "A service-account key connects without a network call.",
			cfg:    config("http://127.0.0.1:1", good),
		},
		"OtherProvider": {
			reason: "A configuration for another provider is terminal.",
			cfg: func() driver.Config {
				c := config("", good)
				c.Spec.Provider = stratusv1alpha1.ProviderAWS
				return c
			}(),
			want: class{Err: true, Terminal: true},
		},
		"NoKey": {
			reason: "A Secret without credentials.json is bad credentials.",
			cfg:    config("", nil),
			want:   class{Err: true, BadCredentials: true},
		},
		"NotAServiceAccount": {
			reason: "A credentials.json that is not a service-account key is bad credentials.",
			cfg:    config("", []byte(`{"type":"authorized_user","refresh_token":"secret-refresh-token"}`)),
			want:   class{Err: true, BadCredentials: true},
			secret: "secret-refresh-token",
		},
		"TruncatedPrivateKey": {
			reason: "A private key that does not parse is bad credentials, found at Connect, and not quoted.",
			cfg:    config("", withKey(truncated)),
			want:   class{Err: true, BadCredentials: true},
			secret: "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu",
		},
		"NoPrivateKey": {
			reason: "A key without private_key is bad credentials.",
			cfg:    config("", withKey("")),
			want:   class{Err: true, BadCredentials: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := NewBucketDriver().Connect(t.Context(), tc.cfg)
			if closer, ok := c.(io.Closer); ok {
				t.Cleanup(func() { _ = closer.Close() })
			}
			got := class{err != nil, driver.IsTerminal(err), driver.IsBadCredentials(err)}
			if got != tc.want {
				t.Errorf("%s\nConnect(...) = %v, which is %+v; want %+v", tc.reason, err, got, tc.want)
			}
			if tc.secret != "" && err != nil && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("%s\nConnect(...) = %q holds the secret", tc.reason, err)
			}
		})
	}
}
