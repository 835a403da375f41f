package aws

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
)

// fakeResponse is a canned S3 answer.
type fakeResponse struct {
	status int
	code   string // the error code of an error document, if any
	header map[string]string
	body   string // a success body
}

// fakeS3 serves canned answers keyed by method and subresource, such as
// "HEAD", "GET location" or "PUT"; anything else is answered 500. It counts
// the requests it gets. These answers are ones versitygw cannot be made to
// give: throttling, buckets in other regions, names taken by other accounts.
func fakeS3(t *testing.T, routes map[string]fakeResponse) (string, *atomic.Int64) {
	t.Helper()
	calls := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		key := r.Method
		for q := range r.URL.Query() {
			if q != "x-id" {
				key += " " + q
			}
		}
		resp, ok := routes[key]
		if !ok {
			resp = fakeResponse{status: http.StatusInternalServerError, code: "InternalError"}
		}
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		body := resp.body
		if resp.code != "" && r.Method != http.MethodHead {
			body = fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>canned %s</Message><RequestId>FAKE</RequestId></Error>`, resp.code, resp.code)
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/xml")
		}
		w.WriteHeader(resp.status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

func TestBucketFakeAnswers(t *testing.T) {
	location := func(region string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + region + `</LocationConstraint>`
	}
	type want struct {
		Kind   string // classification of the error, "" for none
		Err    string // a substring of the error
		Exists bool
		Calls  int64
	}
	cases := map[string]struct {
		reason      string
		routes      map[string]fakeResponse
		call        string // Observe or Create
		maxAttempts int
		// object changes the Bucket observed; nil for one never observed.
		object func(*storagev1alpha1.Bucket)
		want   want
	}{
		"HeadThrottled": {
			reason:      "A HEAD answered 503 without a body (S3's SlowDown to HEAD) is throttling, after the SDK's attempts.",
			routes:      map[string]fakeResponse{"HEAD": {status: 503}},
			call:        "Observe",
			maxAttempts: 2,
			want:        want{Kind: "Throttled", Err: `head bucket "fake-bucket"`, Calls: 2},
		},
		"GetSlowDown": {
			reason:      "503 SlowDown is throttling; with one attempt the SDK does not retry.",
			routes:      map[string]fakeResponse{"HEAD": {status: 200}, "GET location": {status: 503, code: "SlowDown"}},
			call:        "Observe",
			maxAttempts: 1,
			want:        want{Kind: "Throttled", Err: `get location of bucket "fake-bucket"`, Calls: 2},
		},
		"RegionRedirect": {
			reason: "A bucket S3 redirects to another region cannot be moved: terminal.",
			routes: map[string]fakeResponse{"HEAD": {status: 301, header: map[string]string{"X-Amz-Bucket-Region": "eu-west-1"}}},
			call:   "Observe",
			want:   want{Kind: "Terminal", Err: `bucket "fake-bucket" is in region "eu-west-1", not "us-east-1": the region of a bucket cannot be changed`, Calls: 1},
		},
		"RegionFromLocation": {
			reason: "A bucket whose location is another region cannot be moved: terminal.",
			routes: map[string]fakeResponse{"HEAD": {status: 200}, "GET location": {status: 200, body: location("eu-west-1")}},
			call:   "Observe",
			want:   want{Kind: "Terminal", Err: `is in region "eu-west-1", not "us-east-1"`, Calls: 2},
		},
		"AccessDenied": {
			reason: "A HEAD refused with 403 is asked again with a GET; an access denial is retried, not bad credentials.",
			routes: map[string]fakeResponse{"HEAD": {status: 403}, "GET location": {status: 403, code: "AccessDenied"}},
			call:   "Observe",
			want:   want{Kind: "Retry", Err: `head bucket "fake-bucket": operation error S3: GetBucketLocation`, Calls: 2},
		},
		"RegionFromHead": {
			reason: "A HEAD that names the bucket's region (x-amz-bucket-region) spares GetBucketLocation: one HEAD and five settings reads per observation.",
			routes: settingsReads(map[string]fakeResponse{
				"HEAD": {status: 200, header: map[string]string{"X-Amz-Bucket-Region": "us-east-1"}},
			}),
			call: "Observe",
			want: want{Exists: true, Calls: 6},
		},
		"SeenBeforeSkipsHead": {
			reason: "A bucket observed before in the same region is read right away: five settings reads per poll.",
			routes: settingsReads(nil),
			call:   "Observe",
			object: seenIn("us-east-1"),
			want:   want{Exists: true, Calls: 5},
		},
		"SeenBeforeGone": {
			reason: "A bucket observed before whose first read answers NoSuchBucket is gone: one call.",
			routes: map[string]fakeResponse{"GET versioning": {status: 404, code: "NoSuchBucket"}},
			call:   "Observe",
			object: seenIn("us-east-1"),
			want:   want{Calls: 1},
		},
		"SeenBeforeNowElsewhere": {
			reason: "A bucket observed before that S3 now places in another region (recreated there) is a terminal region mismatch.",
			routes: map[string]fakeResponse{"GET versioning": {status: 301, code: "PermanentRedirect", header: map[string]string{"X-Amz-Bucket-Region": "eu-west-1"}}},
			call:   "Observe",
			object: seenIn("us-east-1"),
			want:   want{Kind: "Terminal", Err: `bucket "fake-bucket" is in region "eu-west-1", not "us-east-1"`, Calls: 1},
		},
		"SeenInOtherRegionLooksUp": {
			reason: "An observation recorded for another region is not trusted: HEAD first.",
			routes: map[string]fakeResponse{"HEAD": {status: 404}, "GET location": {status: 404, code: "NoSuchBucket"}},
			call:   "Observe",
			object: seenIn("eu-west-1"),
			want:   want{Calls: 2},
		},
		"DeletingExistenceOnly": {
			reason: "A Bucket being deleted needs only existence: one HEAD, no settings reads.",
			routes: map[string]fakeResponse{"HEAD": {status: 200, header: map[string]string{"X-Amz-Bucket-Region": "us-east-1"}}},
			call:   "Observe",
			object: func(b *storagev1alpha1.Bucket) {
				seenIn("us-east-1")(b)
				b.DeletionTimestamp = &metav1.Time{Time: time.Now()}
			},
			want: want{Exists: true, Calls: 1},
		},
		"MissingConfirmed": {
			reason: "A HEAD answered 404 is confirmed by a GET before the bucket is reported missing.",
			routes: map[string]fakeResponse{"HEAD": {status: 404}, "GET location": {status: 404, code: "NoSuchBucket"}},
			call:   "Observe",
			want:   want{Calls: 2},
		},
		"CreateFresh": {
			reason: "A bucket the call just created has nothing to remove: create, encryption and public access block, three calls.",
			routes: map[string]fakeResponse{
				"PUT":                   {status: 200},
				"PUT encryption":        {status: 200},
				"PUT publicAccessBlock": {status: 200},
			},
			call: "Create",
			want: want{Calls: 3},
		},
		"CreateRetriedAppliesAll": {
			reason: "A bucket that already existed (a create retried after a crash) gets every setting, removals included.",
			routes: map[string]fakeResponse{
				"PUT":                   {status: 409, code: "BucketAlreadyOwnedByYou"},
				"GET versioning":        {status: 200, body: `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`},
				"PUT encryption":        {status: 200},
				"PUT publicAccessBlock": {status: 200},
				"DELETE lifecycle":      {status: 204},
				"DELETE tagging":        {status: 204},
			},
			call: "Create",
			want: want{Calls: 6},
		},
		"NameTaken": {
			reason: "A name another account owns needs another spec.bucketName: terminal.",
			routes: map[string]fakeResponse{"PUT": {status: 409, code: "BucketAlreadyExists"}},
			call:   "Create",
			want:   want{Kind: "Terminal", Err: `bucket name "fake-bucket" is taken by another account: choose another spec.bucketName`, Calls: 1},
		},
		"InvalidName": {
			reason: "A name S3 refuses needs a spec change: terminal.",
			routes: map[string]fakeResponse{"PUT": {status: 400, code: "InvalidBucketName"}},
			call:   "Create",
			want:   want{Kind: "Terminal", Err: `create bucket "fake-bucket" in region "us-east-1"`, Calls: 1},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			endpoint, calls := fakeS3(t, tc.routes)
			opts := []Option{WithHTTPClient(&http.Client{})}
			if tc.maxAttempts > 0 {
				opts = append(opts, WithMaxAttempts(tc.maxAttempts))
			}
			c := connect(t, endpoint, "AKIDFAKE", "fake-secret", opts...)
			b := newBucket("fake-bucket", storagev1alpha1.BucketSpec{})
			if tc.object != nil {
				tc.object(b)
			}
			req := requestFor(b)

			var got want
			var err error
			switch tc.call {
			case "Observe":
				o, oerr := c.Observe(t.Context(), req)
				got.Exists, err = o.Exists, oerr
			case "Create":
				_, err = c.Create(t.Context(), req)
			}
			if err != nil {
				got.Kind, got.Err = kind(err), err.Error()
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			got.Calls = calls.Load()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n%s(...): -want, +got:\n%s", tc.reason, tc.call, diff)
			}
		})
	}
}

// seenIn returns a change that makes a Bucket look observed before, in region.
func seenIn(region string) func(*storagev1alpha1.Bucket) {
	return func(b *storagev1alpha1.Bucket) {
		b.Status.AtProvider = storagev1alpha1.BucketObservation{Name: b.Spec.BucketName, Region: region}
	}
}

// settingsReads adds to routes the answers to the five settings reads of a
// bucket with nothing configured but versioning's empty status.
func settingsReads(routes map[string]fakeResponse) map[string]fakeResponse {
	out := map[string]fakeResponse{
		"GET versioning":        {status: 200, body: `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`},
		"GET encryption":        {status: 404, code: "ServerSideEncryptionConfigurationNotFoundError"},
		"GET publicAccessBlock": {status: 404, code: "NoSuchPublicAccessBlockConfiguration"},
		"GET lifecycle":         {status: 404, code: "NoSuchLifecycleConfiguration"},
		"GET tagging":           {status: 404, code: "NoSuchTagSet"},
	}
	maps.Copy(out, routes)
	return out
}
