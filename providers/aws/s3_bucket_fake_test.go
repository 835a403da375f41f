package aws

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
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
	endpoint, calls, _ := fakeS3Log(t, routes)
	return endpoint, calls
}

// fakeS3Log is fakeS3 that also returns the keys of the requests it got, in
// order.
func fakeS3Log(t *testing.T, routes map[string]fakeResponse) (string, *atomic.Int64, func() []string) {
	t.Helper()
	calls := &atomic.Int64{}
	var (
		mu   sync.Mutex
		keys []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		key := r.Method
		for q := range r.URL.Query() {
			if q != "x-id" {
				key += " " + q
			}
		}
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
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
	return srv.URL, calls, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(keys)
	}
}

func TestBucketFakeAnswers(t *testing.T) {
	location := func(region string) string {
		return `<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + region + `</LocationConstraint>`
	}
	type want struct {
		Kind   string // classification of the error, "" for none
		Err    string // a substring of the error
		Exists bool
		Owner  string // the ID of the owner mark Observe read
		Drift  []string
		Calls  int64
		// Observed is true when Create reports what it made.
		Observed bool
		// Order is the requests, in order, when the case sets it.
		Order []string
	}
	owner := testOwner("test", "fake-bucket")
	marked := `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>` +
		`<Tag><Key>env</Key><Value>test</Value></Tag>` +
		`<Tag><Key>` + driver.OwnerTag + `</Key><Value>` + owner.ID() + `</Value></Tag>` +
		`</TagSet></Tagging>`
	cases := map[string]struct {
		reason      string
		routes      map[string]fakeResponse
		call        string // Observe or Create
		maxAttempts int
		// request changes the request; nil for a bucket never observed.
		request func(*bucketRequest)
		want    want
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
			want: want{Exists: true, Drift: []string{"spec.encryption", "spec.publicAccess", driver.OwnershipField}, Calls: 6},
		},
		"KnownSkipsHead": {
			reason:  "A bucket the request says is known (recorded by the reconciler) is read right away: five settings reads per poll.",
			routes:  settingsReads(nil),
			call:    "Observe",
			request: known,
			want:    want{Exists: true, Drift: []string{"spec.encryption", "spec.publicAccess", driver.OwnershipField}, Calls: 5},
		},
		"KnownGone": {
			reason:  "A known bucket whose first read answers NoSuchBucket is gone: one call.",
			routes:  map[string]fakeResponse{"GET versioning": {status: 404, code: "NoSuchBucket"}},
			call:    "Observe",
			request: known,
			want:    want{Calls: 1},
		},
		"KnownNowElsewhere": {
			reason:  "A known bucket that S3 places in another region than the request's (recreated there, or the configuration's region changed) is a terminal region mismatch.",
			routes:  map[string]fakeResponse{"GET versioning": {status: 301, code: "PermanentRedirect", header: map[string]string{"X-Amz-Bucket-Region": "eu-west-1"}}},
			call:    "Observe",
			request: known,
			want:    want{Kind: "Terminal", Err: `bucket "fake-bucket" is in region "eu-west-1", not "us-east-1"`, Calls: 1},
		},
		"DeletingExistenceAndOwner": {
			reason: "A Bucket being deleted needs existence and, for the reconciler to check before it deletes, the owner mark: one HEAD and the tags (one GET more than before marks), no other settings reads.",
			routes: map[string]fakeResponse{
				"HEAD":        {status: 200, header: map[string]string{"X-Amz-Bucket-Region": "us-east-1"}},
				"GET tagging": {status: 200, body: marked},
			},
			call:    "Observe",
			request: deleting,
			want:    want{Exists: true, Owner: owner.ID(), Calls: 2},
		},
		"DeletingUnmarked": {
			reason: "A Bucket being deleted whose bucket has no tags is reported unmarked, with the ownership drift.",
			routes: map[string]fakeResponse{
				"HEAD":        {status: 200, header: map[string]string{"X-Amz-Bucket-Region": "us-east-1"}},
				"GET tagging": {status: 404, code: "NoSuchTagSet"},
			},
			call:    "Observe",
			request: deleting,
			want:    want{Exists: true, Drift: []string{driver.OwnershipField}, Calls: 2},
		},
		"DeletingTagsUnsupported": {
			reason: "An endpoint without tags has no mark to read: no mark, and no drift invented.",
			routes: map[string]fakeResponse{
				"HEAD":        {status: 200, header: map[string]string{"X-Amz-Bucket-Region": "us-east-1"}},
				"GET tagging": {status: 501, code: "NotImplemented"},
			},
			call:    "Observe",
			request: deleting,
			want:    want{Exists: true, Calls: 2},
		},
		"DeletingGoneMeanwhile": {
			reason: "A bucket deleted between the HEAD and the tags read is gone.",
			routes: map[string]fakeResponse{
				"HEAD":        {status: 200, header: map[string]string{"X-Amz-Bucket-Region": "us-east-1"}},
				"GET tagging": {status: 404, code: "NoSuchBucket"},
			},
			call:    "Observe",
			request: deleting,
			want:    want{Calls: 2},
		},
		"DeletingMissing": {
			reason:  "A Bucket being deleted whose bucket is gone: no tags read.",
			routes:  map[string]fakeResponse{"HEAD": {status: 404}, "GET location": {status: 404, code: "NoSuchBucket"}},
			call:    "Observe",
			request: deleting,
			want:    want{Calls: 2},
		},
		"ObserveReadsMark": {
			reason: "The owner mark is read from the tags Observe reads anyway: still five settings reads per poll.",
			routes: settingsReads(map[string]fakeResponse{"GET tagging": {status: 200, body: marked}}),
			call:   "Observe",
			request: func(req *bucketRequest) {
				req.Known = true
				req.Object.Spec.Labels = map[string]string{"env": "test"}
				req.Object.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed
			},
			want: want{Exists: true, Owner: owner.ID(), Drift: []string{"spec.encryption"}, Calls: 5},
		},
		"MissingConfirmed": {
			reason: "A HEAD answered 404 is confirmed by a GET before the bucket is reported missing.",
			routes: map[string]fakeResponse{"HEAD": {status: 404}, "GET location": {status: 404, code: "NoSuchBucket"}},
			call:   "Observe",
			want:   want{Calls: 2},
		},
		"CreateFresh": {
			reason: "A bucket the call just created is marked first (its tags, one call more than before marks), then gets its settings, and is reported as observed; in us-east-1, whose 200 does not say the call made it, its tags are read first: five calls.",
			routes: map[string]fakeResponse{
				"PUT":                   {status: 200},
				"GET tagging":           {status: 404, code: "NoSuchTagSet"},
				"PUT tagging":           {status: 200},
				"PUT encryption":        {status: 200},
				"PUT publicAccessBlock": {status: 200},
			},
			call: "Create",
			want: want{Calls: 5, Observed: true, Order: []string{"PUT", "GET tagging", "PUT tagging", "PUT encryption", "PUT publicAccessBlock"}},
		},
		"CreateUSEast1ExistingChangesNothing": {
			reason: "In us-east-1 S3 answers 200 to a create of a bucket the account already owns: one with tags (another object's mark) is not changed at all.",
			routes: map[string]fakeResponse{
				"PUT":         {status: 200},
				"GET tagging": {status: 200, body: `<Tagging><TagSet><Tag><Key>stratus.dev/owner</Key><Value>0123456789abcdef0123456789abcdef</Value></Tag></TagSet></Tagging>`},
			},
			call: "Create",
			want: want{Calls: 2, Order: []string{"PUT", "GET tagging"}},
		},
		"CreateExistingChangesNothing": {
			reason: "A bucket that already existed (a create retried after a crash, or another Bucket's) is not changed at all: the reconciler observes it and checks its owner first.",
			routes: map[string]fakeResponse{
				"PUT": {status: 409, code: "BucketAlreadyOwnedByYou"},
			},
			call: "Create",
			want: want{Calls: 1},
		},
		"CreateTagsUnsupported": {
			reason: "An endpoint without tags cannot take the mark: the other settings are still written, and the bucket is left for the reconciler to observe.",
			routes: map[string]fakeResponse{
				"PUT":                   {status: 200},
				"GET tagging":           {status: 501, code: "NotImplemented"},
				"PUT tagging":           {status: 501, code: "NotImplemented"},
				"PUT encryption":        {status: 200},
				"PUT publicAccessBlock": {status: 200},
			},
			call: "Create",
			want: want{Calls: 5},
		},
		"CreateMarkRefused": {
			reason: "A mark the endpoint refuses stops the create before any other setting.",
			routes: map[string]fakeResponse{
				"PUT":         {status: 200},
				"GET tagging": {status: 404, code: "NoSuchTagSet"},
				"PUT tagging": {status: 403, code: "AccessDenied"},
			},
			call: "Create",
			want: want{Kind: "Retry", Err: `put tags of bucket "fake-bucket"`, Calls: 3},
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
			endpoint, calls, log := fakeS3Log(t, tc.routes)
			opts := []Option{WithHTTPClient(&http.Client{})}
			if tc.maxAttempts > 0 {
				opts = append(opts, WithMaxAttempts(tc.maxAttempts))
			}
			c := connect(t, endpoint, "AKIDFAKE", "fake-secret", opts...)
			req := requestFor(newBucket("fake-bucket", storagev1alpha1.BucketSpec{}))
			if tc.request != nil {
				tc.request(&req)
			}

			var got want
			var err error
			switch tc.call {
			case "Observe":
				o, oerr := c.Observe(t.Context(), req)
				got.Exists, got.Owner, err = o.Exists, o.Owner.ID, oerr
				for _, d := range o.Drift {
					got.Drift = append(got.Drift, d.Field)
				}
			case "Create":
				var res driver.CreateResult
				res, err = c.Create(t.Context(), req)
				got.Observed = res.Observed != nil
			}
			if err != nil {
				got.Kind, got.Err = kind(err), err.Error()
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			got.Calls = calls.Load()
			if tc.want.Order != nil {
				got.Order = log()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n%s(...): -want, +got:\n%s", tc.reason, tc.call, diff)
			}
		})
	}
}

// deleting makes a request about a known bucket one for its deletion.
func deleting(req *bucketRequest) {
	known(req)
	req.Purpose = driver.PurposeDelete
}

// known makes a request about a bucket the reconciler recorded.
func known(req *bucketRequest) { req.Known = true }

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
