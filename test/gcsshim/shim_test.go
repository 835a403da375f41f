package gcsshim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/stratus-operator/stratus/test/fakes/googleauth"
	"github.com/stratus-operator/stratus/test/servers"
)

// srv is the fake-gcs-server, with the shim in front, that every test shares.
var srv *servers.GCSServer

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var err error
	srv, err = servers.StartGCS(ctx, servers.GCSOptions{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

const testKMSKey = "projects/stratus-test/locations/europe-west1/keyRings/ring/cryptoKeys/key"

// client returns a Cloud Storage client for the shim that authenticates
// with key, or sends no credentials when key is nil.
func client(t *testing.T, key []byte) *storage.Client {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(srv.Endpoint + "/storage/v1/"), storage.WithDisabledClientMetrics()}
	if key != nil {
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	c, err := storage.NewClient(context.Background(), opts...)
	if err != nil {
		t.Fatalf("storage.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var bucketSeq atomic.Int64

// bucketName returns a name no other test uses.
func bucketName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, bucketSeq.Add(1))
}

// fields is what the tests compare of a bucket: the fields the shim
// implements, and versioning, which the emulator keeps.
type fields struct {
	Location               string
	LocationType           string
	Labels                 map[string]string
	UniformAccess          bool
	PublicAccessPrevention string
	Lifecycle              []string
	KMSKey                 string
	Versioning             bool
}

func fieldsOf(a *storage.BucketAttrs) fields {
	f := fields{
		Location:               a.Location,
		LocationType:           a.LocationType,
		Labels:                 a.Labels,
		UniformAccess:          a.UniformBucketLevelAccess.Enabled,
		PublicAccessPrevention: a.PublicAccessPrevention.String(),
		Versioning:             a.VersioningEnabled,
	}
	if a.UniformBucketLevelAccess.Enabled != a.BucketPolicyOnly.Enabled {
		f.UniformAccess = false // fails the comparison: the two must agree
	}
	if a.Encryption != nil {
		f.KMSKey = a.Encryption.DefaultKMSKeyName
	}
	for _, r := range a.Lifecycle.Rules {
		f.Lifecycle = append(f.Lifecycle, fmt.Sprintf("%s age=%d noncurrent=%d prefix=%v liveness=%d",
			r.Action.Type, r.Condition.AgeInDays, r.Condition.DaysSinceNoncurrentTime, r.Condition.MatchesPrefix, r.Condition.Liveness))
	}
	return f
}

// defaults is what a bucket created with no attributes has.
func defaults() fields {
	return fields{Location: "US", LocationType: "multi-region", PublicAccessPrevention: "inherited"}
}

func with(f func(*fields)) fields {
	d := defaults()
	f(&d)
	return d
}

func TestFieldsRoundTripOnCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, srv.ServiceAccountJSON())

	cases := map[string]struct {
		reason string
		attrs  storage.BucketAttrs
		want   fields
	}{
		"defaults": {
			reason: "A bucket created with nothing is in US, with public access prevention inherited and nothing else.",
			want:   defaults(),
		},
		"location": {
			reason: "The location is stored upper-case, with its locationType.",
			attrs:  storage.BucketAttrs{Location: "europe-west1"},
			want:   with(func(f *fields) { f.Location, f.LocationType = "EUROPE-WEST1", "region" }),
		},
		"dual-region": {
			reason: "A predefined dual-region is a dual-region.",
			attrs:  storage.BucketAttrs{Location: "eur4"},
			want:   with(func(f *fields) { f.Location, f.LocationType = "EUR4", "dual-region" }),
		},
		"labels": {
			reason: "Labels are kept.",
			attrs:  storage.BucketAttrs{Labels: map[string]string{"env": "test", "team": ""}},
			want:   with(func(f *fields) { f.Labels = map[string]string{"env": "test", "team": ""} }),
		},
		"uniform-access": {
			reason: "Uniform bucket-level access is kept, under both of its names.",
			attrs:  storage.BucketAttrs{UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true}},
			want:   with(func(f *fields) { f.UniformAccess = true }),
		},
		"public-access-prevention": {
			reason: "Public access prevention enforced is kept.",
			attrs:  storage.BucketAttrs{PublicAccessPrevention: storage.PublicAccessPreventionEnforced},
			want:   with(func(f *fields) { f.PublicAccessPrevention = "enforced" }),
		},
		"lifecycle": {
			reason: "Delete rules with age, prefix, liveness and days since noncurrent are kept in order.",
			attrs: storage.BucketAttrs{Lifecycle: storage.Lifecycle{Rules: []storage.LifecycleRule{
				{Action: storage.LifecycleAction{Type: "Delete"}, Condition: storage.LifecycleCondition{AgeInDays: 30, MatchesPrefix: []string{"logs/"}, Liveness: storage.Live}},
				{Action: storage.LifecycleAction{Type: "Delete"}, Condition: storage.LifecycleCondition{DaysSinceNoncurrentTime: 7}},
			}}},
			want: with(func(f *fields) {
				f.Lifecycle = []string{"Delete age=30 noncurrent=0 prefix=[logs/] liveness=1", "Delete age=0 noncurrent=7 prefix=[] liveness=0"}
			}),
		},
		"encryption": {
			reason: "The default KMS key is kept.",
			attrs:  storage.BucketAttrs{Encryption: &storage.BucketEncryption{DefaultKMSKeyName: testKMSKey}},
			want:   with(func(f *fields) { f.KMSKey = testKMSKey }),
		},
		"versioning": {
			reason: "Versioning, which the emulator implements, still works through the shim.",
			attrs:  storage.BucketAttrs{VersioningEnabled: true},
			want:   with(func(f *fields) { f.Versioning = true }),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := c.Bucket(bucketName(name))
			if err := b.Create(ctx, srv.ProjectID, &tc.attrs); err != nil {
				t.Fatalf("%s\nCreate: %v", tc.reason, err)
			}
			got, err := b.Attrs(ctx)
			if err != nil {
				t.Fatalf("%s\nAttrs: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, fieldsOf(got)); diff != "" {
				t.Errorf("%s\nAttrs after Create: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.want.UniformAccess && got.UniformBucketLevelAccess.LockedTime.IsZero() {
				t.Errorf("%s\nuniform bucket-level access has no lockedTime", tc.reason)
			}
		})
	}
}

func TestFieldsRoundTripOnUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, srv.ServiceAccountJSON())

	full := storage.BucketAttrs{
		Location:                 "us-east1",
		Labels:                   map[string]string{"env": "test", "team": "storage"},
		UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
		PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
		Lifecycle: storage.Lifecycle{Rules: []storage.LifecycleRule{
			{Action: storage.LifecycleAction{Type: "Delete"}, Condition: storage.LifecycleCondition{AgeInDays: 30}},
		}},
		Encryption:        &storage.BucketEncryption{DefaultKMSKeyName: testKMSKey},
		VersioningEnabled: true,
	}
	fullFields := fields{
		Location: "US-EAST1", LocationType: "region",
		Labels:        map[string]string{"env": "test", "team": "storage"},
		UniformAccess: true, PublicAccessPrevention: "enforced",
		Lifecycle: []string{"Delete age=30 noncurrent=0 prefix=[] liveness=0"},
		KMSKey:    testKMSKey, Versioning: true,
	}
	withFull := func(f func(*fields)) fields {
		ff := fullFields
		ff.Labels = map[string]string{"env": "test", "team": "storage"}
		f(&ff)
		return ff
	}

	cases := map[string]struct {
		reason string
		from   storage.BucketAttrs
		update func() storage.BucketAttrsToUpdate
		want   fields
	}{
		"set-labels": {
			reason: "SetLabel adds and changes labels, DeleteLabel removes them (a null value), others are kept.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				var ua storage.BucketAttrsToUpdate
				ua.SetLabel("env", "prod")
				ua.SetLabel("owner", "me")
				ua.DeleteLabel("team")
				return ua
			},
			want: withFull(func(f *fields) { f.Labels = map[string]string{"env": "prod", "owner": "me"} }),
		},
		"delete-all-labels": {
			reason: "Deleting every label leaves none.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				var ua storage.BucketAttrsToUpdate
				ua.DeleteLabel("env")
				ua.DeleteLabel("team")
				return ua
			},
			want: withFull(func(f *fields) { f.Labels = nil }),
		},
		"labels-on-a-bare-bucket": {
			reason: "Labels can be added to a bucket that has none.",
			update: func() storage.BucketAttrsToUpdate {
				var ua storage.BucketAttrsToUpdate
				ua.SetLabel("env", "test")
				return ua
			},
			want: with(func(f *fields) { f.Labels = map[string]string{"env": "test"} }),
		},
		"enable-uniform-access-and-prevention": {
			reason: "Uniform access and public access prevention are set by one patch.",
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{
					UniformBucketLevelAccess: &storage.UniformBucketLevelAccess{Enabled: true},
					PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
				}
			},
			want: with(func(f *fields) { f.UniformAccess, f.PublicAccessPrevention = true, "enforced" }),
		},
		"inherit-public-access-prevention": {
			reason: "Public access prevention goes back to inherited; uniform access, not in the patch, stays.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{PublicAccessPrevention: storage.PublicAccessPreventionInherited}
			},
			want: withFull(func(f *fields) { f.PublicAccessPrevention = "inherited" }),
		},
		"disable-uniform-access": {
			reason: "Uniform access is disabled; public access prevention, not in the patch, stays.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{UniformBucketLevelAccess: &storage.UniformBucketLevelAccess{Enabled: false}}
			},
			want: withFull(func(f *fields) { f.UniformAccess = false }),
		},
		"replace-lifecycle": {
			reason: "A lifecycle in the patch replaces the rules.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{Lifecycle: &storage.Lifecycle{Rules: []storage.LifecycleRule{
					{Action: storage.LifecycleAction{Type: "Delete"}, Condition: storage.LifecycleCondition{DaysSinceNoncurrentTime: 3, MatchesPrefix: []string{"tmp/"}}},
				}}}
			},
			want: withFull(func(f *fields) { f.Lifecycle = []string{"Delete age=0 noncurrent=3 prefix=[tmp/] liveness=0"} }),
		},
		"clear-lifecycle": {
			reason: "An empty lifecycle (rule: []) removes every rule.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{Lifecycle: &storage.Lifecycle{}}
			},
			want: withFull(func(f *fields) { f.Lifecycle = nil }),
		},
		"set-kms-key": {
			reason: "A default KMS key is set on a bucket without one.",
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{Encryption: &storage.BucketEncryption{DefaultKMSKeyName: testKMSKey}}
			},
			want: with(func(f *fields) { f.KMSKey = testKMSKey }),
		},
		"remove-kms-key": {
			reason: "An empty key name (defaultKmsKeyName: null) removes the default KMS key.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{Encryption: &storage.BucketEncryption{}}
			},
			want: withFull(func(f *fields) { f.KMSKey = "" }),
		},
		"versioning-survives-an-unrelated-patch": {
			reason: "The emulator resets versioning on a patch that does not mention it; through the shim it stays on.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				var ua storage.BucketAttrsToUpdate
				ua.SetLabel("env", "test")
				return ua
			},
			want: fullFields,
		},
		"disable-versioning": {
			reason: "Versioning in the patch goes to the emulator.",
			from:   full,
			update: func() storage.BucketAttrsToUpdate {
				return storage.BucketAttrsToUpdate{VersioningEnabled: false}
			},
			want: withFull(func(f *fields) { f.Versioning = false }),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := c.Bucket(bucketName(name))
			if err := b.Create(ctx, srv.ProjectID, &tc.from); err != nil {
				t.Fatalf("Create: %v", err)
			}
			returned, err := b.Update(ctx, tc.update())
			if err != nil {
				t.Fatalf("%s\nUpdate: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, fieldsOf(returned)); diff != "" {
				t.Errorf("%s\nthe answer to Update: -want, +got:\n%s", tc.reason, diff)
			}
			got, err := b.Attrs(ctx)
			if err != nil {
				t.Fatalf("%s\nAttrs: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, fieldsOf(got)); diff != "" {
				t.Errorf("%s\nAttrs after Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// token returns a bearer token the fake token endpoint issued for key.
func token(t *testing.T, key []byte) string {
	t.Helper()
	creds, err := google.CredentialsFromJSON(context.Background(), key, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatalf("parse the service account key: %v", err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatalf("get a token: %v", err)
	}
	return "Bearer " + tok.AccessToken
}

// call sends a raw JSON API request to the shim and returns the status and
// the decoded answer.
func call(t *testing.T, authorization, method, path string, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.Endpoint+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, doc
}

// pick returns the members of a bucket resource the patch tests look at.
func pick(doc map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"location", "labels", "iamConfiguration", "lifecycle", "encryption", "versioning"} {
		if v, ok := doc[k]; ok {
			out[k] = v
		}
	}
	if iam, ok := out["iamConfiguration"].(map[string]any); ok {
		for _, k := range []string{"uniformBucketLevelAccess", "bucketPolicyOnly"} {
			if u, ok := iam[k].(map[string]any); ok {
				delete(u, "lockedTime")
			}
		}
	}
	return out
}

func iam(uniform bool, pap string) map[string]any {
	u := map[string]any{"enabled": uniform}
	return map[string]any{"uniformBucketLevelAccess": u, "bucketPolicyOnly": u, "publicAccessPrevention": pap}
}

func TestPatchSemantics(t *testing.T) {
	t.Parallel()
	auth := token(t, srv.ServiceAccountJSON())
	const initial = `{"name":%q,"location":"eu","labels":{"a":"1","b":"2"},"versioning":{"enabled":true},
		"iamConfiguration":{"uniformBucketLevelAccess":{"enabled":true},"publicAccessPrevention":"enforced"},
		"lifecycle":{"rule":[{"action":{"type":"Delete"},"condition":{"age":10,"isLive":true}}]},
		"encryption":{"defaultKmsKeyName":"` + testKMSKey + `"}}`
	initialFields := func() map[string]any {
		return map[string]any{
			"location":         "EU",
			"labels":           map[string]any{"a": "1", "b": "2"},
			"iamConfiguration": iam(true, "enforced"),
			"lifecycle":        map[string]any{"rule": []any{map[string]any{"action": map[string]any{"type": "Delete"}, "condition": map[string]any{"age": float64(10), "isLive": true}}}},
			"encryption":       map[string]any{"defaultKmsKeyName": testKMSKey},
			"versioning":       map[string]any{"enabled": true},
		}
	}
	changed := func(f func(m map[string]any)) map[string]any {
		m := initialFields()
		f(m)
		return m
	}

	cases := map[string]struct {
		reason string
		method string
		body   string
		want   map[string]any
	}{
		"empty-patch": {
			reason: "A patch without fields changes nothing, versioning included.",
			method: http.MethodPatch, body: `{}`,
			want: initialFields(),
		},
		"label-null-deletes": {
			reason: "A label set to null is deleted, others are merged.",
			method: http.MethodPatch, body: `{"labels":{"a":null,"c":"3"}}`,
			want: changed(func(m map[string]any) { m["labels"] = map[string]any{"b": "2", "c": "3"} }),
		},
		"labels-null-deletes-all": {
			reason: "labels: null deletes every label.",
			method: http.MethodPatch, body: `{"labels":null}`,
			want: changed(func(m map[string]any) { delete(m, "labels") }),
		},
		"encryption-null-removes": {
			reason: "encryption: null removes the default KMS key.",
			method: http.MethodPatch, body: `{"encryption":null}`,
			want: changed(func(m map[string]any) { delete(m, "encryption") }),
		},
		"lifecycle-null-removes": {
			reason: "lifecycle: null removes every rule.",
			method: http.MethodPatch, body: `{"lifecycle":null}`,
			want: changed(func(m map[string]any) { delete(m, "lifecycle") }),
		},
		"lifecycle-without-rule-keeps": {
			reason: "A lifecycle object without rule changes nothing.",
			method: http.MethodPatch, body: `{"lifecycle":{}}`,
			want: initialFields(),
		},
		"iam-members-merge": {
			reason: "A patch of one iamConfiguration member leaves the other.",
			method: http.MethodPatch, body: `{"iamConfiguration":{"publicAccessPrevention":"inherited"}}`,
			want: changed(func(m map[string]any) { m["iamConfiguration"] = iam(true, "inherited") }),
		},
		"iam-unspecified-is-inherited": {
			reason: "The old value unspecified is stored as inherited.",
			method: http.MethodPatch, body: `{"iamConfiguration":{"publicAccessPrevention":"unspecified"}}`,
			want: changed(func(m map[string]any) { m["iamConfiguration"] = iam(true, "inherited") }),
		},
		"bucket-policy-only-alias": {
			reason: "bucketPolicyOnly is the old name of uniformBucketLevelAccess.",
			method: http.MethodPatch, body: `{"iamConfiguration":{"bucketPolicyOnly":{"enabled":false}}}`,
			want: changed(func(m map[string]any) { m["iamConfiguration"] = iam(false, "enforced") }),
		},
		"location-is-immutable": {
			reason: "A location in a patch is ignored: a bucket cannot move.",
			method: http.MethodPatch, body: `{"location":"asia"}`,
			want: initialFields(),
		},
		"method-override": {
			reason: "POST with X-HTTP-Method-Override: PATCH is a patch.",
			method: "POST-PATCH", body: `{"labels":{"a":"9"}}`,
			want: changed(func(m map[string]any) { m["labels"] = map[string]any{"a": "9", "b": "2"} }),
		},
		"update-replaces": {
			reason: "An update (PUT) replaces every field: what it leaves out returns to the default.",
			method: http.MethodPut, body: `{"labels":{"z":"26"}}`,
			want: map[string]any{
				"location":         "EU",
				"labels":           map[string]any{"z": "26"},
				"iamConfiguration": iam(false, "inherited"),
				"versioning":       map[string]any{"enabled": false},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bucket := bucketName(name)
			if status, doc := call(t, auth, http.MethodPost, "/storage/v1/b?project="+srv.ProjectID, fmt.Sprintf(initial, bucket)); status != http.StatusOK {
				t.Fatalf("insert: %d %v", status, doc)
			}
			method, path := tc.method, "/storage/v1/b/"+bucket
			var status int
			var doc map[string]any
			if method == "POST-PATCH" {
				req, _ := http.NewRequest(http.MethodPost, srv.Endpoint+path, strings.NewReader(tc.body))
				req.Header.Set("Authorization", auth)
				req.Header.Set("X-HTTP-Method-Override", "PATCH")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				status = resp.StatusCode
				_ = json.NewDecoder(resp.Body).Decode(&doc)
				resp.Body.Close()
			} else {
				status, doc = call(t, auth, method, path, tc.body)
			}
			if status != http.StatusOK {
				t.Fatalf("%s\n%s: %d %v", tc.reason, method, status, doc)
			}
			if diff := cmp.Diff(tc.want, pick(doc)); diff != "" {
				t.Errorf("%s\nthe answer: -want, +got:\n%s", tc.reason, diff)
			}
			_, doc = call(t, auth, http.MethodGet, path, "")
			if diff := cmp.Diff(tc.want, pick(doc)); diff != "" {
				t.Errorf("%s\nget after the change: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestInvalidValuesAreRefused(t *testing.T) {
	t.Parallel()
	auth := token(t, srv.ServiceAccountJSON())
	existing := bucketName("invalid")
	if status, doc := call(t, auth, http.MethodPost, "/storage/v1/b?project="+srv.ProjectID, `{"name":"`+existing+`","labels":{"keep":"me"}}`); status != http.StatusOK {
		t.Fatalf("insert: %d %v", status, doc)
	}
	cases := map[string]struct {
		reason     string
		method     string
		path, body string
		wantReason string
	}{
		"no-project": {
			reason: "An insert without the project parameter is refused.",
			method: http.MethodPost, path: "/storage/v1/b", body: `{"name":"no-project-bucket"}`,
			wantReason: "required",
		},
		"bad-location": {
			reason: "A location that names no location is refused.",
			method: http.MethodPost, path: "/storage/v1/b?project=p", body: `{"name":"bad-location-bucket","location":"moon base"}`,
			wantReason: "invalid",
		},
		"upper-case-label-key": {
			reason: "Label keys must be lowercase.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"labels":{"Env":"x"}}`,
			wantReason: "invalid",
		},
		"label-key-starts-with-a-digit": {
			reason: "Label keys must start with a letter.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"labels":{"1env":"x"}}`,
			wantReason: "invalid",
		},
		"long-label-value": {
			reason: "Label values are at most 63 characters.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"labels":{"env":"` + strings.Repeat("x", 64) + `"}}`,
			wantReason: "invalid",
		},
		"label-value-with-a-dot": {
			reason: "Label values hold only lowercase letters, digits, underscores and dashes.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"labels":{"env":"a.b"}}`,
			wantReason: "invalid",
		},
		"bad-public-access-prevention": {
			reason: "Public access prevention is enforced or inherited.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"iamConfiguration":{"publicAccessPrevention":"sometimes"}}`,
			wantReason: "invalid",
		},
		"bad-kms-key": {
			reason: "A default KMS key must be a Cloud KMS key name.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"encryption":{"defaultKmsKeyName":"my-key"}}`,
			wantReason: "invalid",
		},
		"unknown-lifecycle-condition": {
			reason: "A lifecycle field the shim does not implement is refused, not dropped.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"lifecycle":{"rule":[{"action":{"type":"Delete"},"condition":{"sizeAboveBytes":"5"}}]}}`,
			wantReason: "invalid",
		},
		"empty-lifecycle-condition": {
			reason: "A lifecycle rule needs a condition.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"lifecycle":{"rule":[{"action":{"type":"Delete"},"condition":{}}]}}`,
			wantReason: "invalid",
		},
		"unknown-lifecycle-action": {
			reason: "A lifecycle action must be one Cloud Storage knows.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{"lifecycle":{"rule":[{"action":{"type":"Explode"},"condition":{"age":1}}]}}`,
			wantReason: "invalid",
		},
		"not-json": {
			reason: "A body that is not JSON is refused.",
			method: http.MethodPatch, path: "/storage/v1/b/" + existing, body: `{labels`,
			wantReason: "parseError",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			status, doc := call(t, auth, tc.method, tc.path, tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("%s\n%s %s: %d %v; want 400", tc.reason, tc.method, tc.path, status, doc)
			}
			e, _ := doc["error"].(map[string]any)
			rows, _ := e["errors"].([]any)
			var reason string
			if len(rows) > 0 {
				reason, _ = rows[0].(map[string]any)["reason"].(string)
			}
			if reason != tc.wantReason || e["code"] != float64(400) || e["message"] == "" {
				t.Errorf("%s\nerror document %v; want code 400, a message and reason %q", tc.reason, doc, tc.wantReason)
			}
		})
	}
	// Nothing refused was stored.
	_, doc := call(t, auth, http.MethodGet, "/storage/v1/b/"+existing, "")
	want := map[string]any{"location": "US", "labels": map[string]any{"keep": "me"}, "iamConfiguration": iam(false, "inherited"), "versioning": map[string]any{"enabled": false}}
	if diff := cmp.Diff(want, pick(doc)); diff != "" {
		t.Errorf("the bucket after refused patches: -want, +got:\n%s", diff)
	}
	for _, name := range []string{"no-project-bucket", "bad-location-bucket"} {
		if status, _ := call(t, auth, http.MethodGet, "/storage/v1/b/"+name, ""); status != http.StatusNotFound {
			t.Errorf("get %s after a refused insert: %d; want 404", name, status)
		}
	}
}

func TestRequestsWithoutAValidTokenAreRefused(t *testing.T) {
	t.Parallel()
	other, err := googleauth.Start("intruder@elsewhere.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	cases := map[string]struct {
		reason        string
		authorization string
	}{
		"no-token":           {reason: "A request without Authorization is refused."},
		"unknown-token":      {reason: "A token the endpoint never issued is refused.", authorization: "Bearer ya29.made-up"},
		"other-issuer":       {reason: "A token another token endpoint issued is refused.", authorization: token(t, other.ServiceAccountJSON("elsewhere"))},
		"not-a-bearer-token": {reason: "Basic authentication is refused.", authorization: "Basic dXNlcjpwYXNz"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, r := range []struct{ method, path, body string }{
				{http.MethodGet, "/storage/v1/b?project=" + srv.ProjectID, ""},
				{http.MethodPost, "/storage/v1/b?project=" + srv.ProjectID, `{"name":"refused-bucket"}`},
				{http.MethodGet, "/storage/v1/b/refused-bucket/o", ""},
				{http.MethodGet, "/_internal/healthcheck", ""},
			} {
				status, doc := call(t, tc.authorization, r.method, r.path, r.body)
				e, _ := doc["error"].(map[string]any)
				if status != http.StatusUnauthorized || e["code"] != float64(401) || e["status"] != "UNAUTHENTICATED" {
					t.Errorf("%s\n%s %s: %d %v; want 401 UNAUTHENTICATED", tc.reason, r.method, r.path, status, doc)
				}
			}
		})
	}

	// The Go client gets a googleapi.Error with code 401.
	_, err = client(t, nil).Bucket("refused-bucket").Attrs(context.Background())
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusUnauthorized {
		t.Errorf("Attrs without credentials: %v; want a googleapi.Error with code 401", err)
	}
	_, err = client(t, other.ServiceAccountJSON("elsewhere")).Bucket("refused-bucket").Attrs(context.Background())
	if !errors.As(err, &gerr) || gerr.Code != http.StatusUnauthorized {
		t.Errorf("Attrs with another endpoint's service account: %v; want a googleapi.Error with code 401", err)
	}
	// Nothing refused reached the emulator.
	resp, err := http.Get(srv.BackendEndpoint + "/storage/v1/b/refused-bucket")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the emulator has bucket refused-bucket: %s", resp.Status)
	}
}

func TestDeleteClearsState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, srv.ServiceAccountJSON())
	b := c.Bucket(bucketName("recreated"))
	if err := b.Create(ctx, srv.ProjectID, &storage.BucketAttrs{
		Location: "asia", Labels: map[string]string{"old": "yes"},
		Encryption: &storage.BucketEncryption{DefaultKMSKeyName: testKMSKey},
	}); err != nil {
		t.Fatalf("Create: %v", err)
	}

	// A delete the emulator refuses keeps the state.
	w := b.Object("o").NewWriter(ctx)
	_, _ = io.WriteString(w, "x")
	if err := w.Close(); err != nil {
		t.Fatalf("write an object: %v", err)
	}
	var gerr *googleapi.Error
	if err := b.Delete(ctx); !errors.As(err, &gerr) || gerr.Code != http.StatusPreconditionFailed {
		t.Fatalf("Delete of a bucket with an object: %v; want the emulator's 412", err)
	}
	if got, err := b.Attrs(ctx); err != nil || got.Labels["old"] != "yes" {
		t.Fatalf("Attrs after a refused Delete: %v, %v; want the labels kept", got, err)
	}

	if err := b.Object("o").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Attrs(ctx); !errors.Is(err, storage.ErrBucketNotExist) {
		t.Fatalf("Attrs after Delete: %v; want ErrBucketNotExist", err)
	}
	if err := b.Create(ctx, srv.ProjectID, nil); err != nil {
		t.Fatalf("Create again: %v", err)
	}
	got, err := b.Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(defaults(), fieldsOf(got)); diff != "" {
		t.Errorf("a bucket created again with the name of a deleted one: -want, +got:\n%s", diff)
	}
}

func TestCreateConflictKeepsState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, srv.ServiceAccountJSON())
	b := c.Bucket(bucketName("conflict"))
	if err := b.Create(ctx, srv.ProjectID, &storage.BucketAttrs{Labels: map[string]string{"first": "yes"}}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	err := b.Create(ctx, srv.ProjectID, &storage.BucketAttrs{Location: "eu", Labels: map[string]string{"second": "yes"}})
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusConflict {
		t.Fatalf("second Create: %v; want 409", err)
	}
	got, err := b.Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := with(func(f *fields) { f.Labels = map[string]string{"first": "yes"} })
	if diff := cmp.Diff(want, fieldsOf(got)); diff != "" {
		t.Errorf("after a refused second Create: -want, +got:\n%s", diff)
	}
}

func TestBucketCreatedBehindTheShim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := bucketName("behind")
	resp, err := http.Post(srv.BackendEndpoint+"/storage/v1/b?project=p", "application/json", strings.NewReader(`{"name":"`+name+`","labels":{"lost":"yes"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create at the emulator: %s", resp.Status)
	}
	got, err := client(t, srv.ServiceAccountJSON()).Bucket(name).Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fields{Location: "US-CENTRAL1", LocationType: "region", PublicAccessPrevention: "inherited"}
	if diff := cmp.Diff(want, fieldsOf(got)); diff != "" {
		t.Errorf("a bucket the shim never saw has the emulator's location and the defaults: -want, +got:\n%s", diff)
	}
}

func TestListShowsFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, srv.ServiceAccountJSON())
	prefix := bucketName("listed")
	for i, loc := range []string{"eu", "asia"} {
		if err := c.Bucket(fmt.Sprintf("%s-%d", prefix, i)).Create(ctx, srv.ProjectID, &storage.BucketAttrs{
			Location: loc, Labels: map[string]string{"n": fmt.Sprint(i)},
		}); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	it := c.Buckets(ctx, srv.ProjectID)
	it.Prefix = prefix
	var got []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		got = append(got, a.Location+" n="+a.Labels["n"])
	}
	if diff := cmp.Diff([]string{"EU n=0", "ASIA n=1"}, got); diff != "" {
		t.Errorf("listed buckets: -want, +got:\n%s", diff)
	}
}

func TestObjectsPassThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, srv.ServiceAccountJSON())
	b := c.Bucket(bucketName("objects"))
	if err := b.Create(ctx, srv.ProjectID, &storage.BucketAttrs{VersioningEnabled: true}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"v1", "v2"} {
		w := b.Object("dir/a.txt").NewWriter(ctx)
		_, _ = io.WriteString(w, body)
		if err := w.Close(); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	r, err := b.Object("dir/a.txt").NewReader(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "v2" {
		t.Errorf("read = %q; want v2", got)
	}
	it := b.Objects(ctx, &storage.Query{Versions: true})
	n := 0
	for {
		_, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("list versions: %v", err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("listed %d generations; want 2", n)
	}
}

func TestOwnerMarkLabelsRoundTrip(t *testing.T) {
	t.Parallel()
	auth := token(t, srv.ServiceAccountJSON())
	// An operator's owner mark, as Google Cloud labels, with a user's
	// labels: a 32-digit ID, a UUID, an empty value and international
	// letters.
	const mark = `"stratus-owner":"0123456789abcdef0123456789abcdef","stratus-owner-namespace":"team-a",` +
		`"stratus-owner-name":"logs","stratus-owner-uid":"5e1f6a2b-0c3d-4e5f-8a9b-0123456789ab"`
	markLabels := func(more map[string]any) map[string]any {
		m := map[string]any{
			"stratus-owner": "0123456789abcdef0123456789abcdef", "stratus-owner-namespace": "team-a",
			"stratus-owner-name": "logs", "stratus-owner-uid": "5e1f6a2b-0c3d-4e5f-8a9b-0123456789ab",
		}
		for k, v := range more {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	cases := map[string]struct {
		reason string
		insert string // the labels member of the insert
		method string // of the change after it; none when empty
		body   string
		want   map[string]any // the labels get, list and the change's answer return
	}{
		"mark-on-insert": {
			reason: "Labels inserted with the bucket come back as they were sent, empty values included.",
			insert: `{` + mark + `,"env":"","équipe":"données"}`,
			want:   markLabels(map[string]any{"env": "", "équipe": "données"}),
		},
		"mark-patched-on": {
			reason: "A patch adds the mark to the labels a bucket has.",
			insert: `{"env":"prod"}`,
			method: http.MethodPatch, body: `{"labels":{` + mark + `}}`,
			want: markLabels(map[string]any{"env": "prod"}),
		},
		"mark-kept-by-label-patch": {
			reason: "A patch of other labels, set and deleted, leaves the mark.",
			insert: `{` + mark + `,"env":"prod","old":"x"}`,
			method: http.MethodPatch, body: `{"labels":{"env":"test","old":null}}`,
			want: markLabels(map[string]any{"env": "test"}),
		},
		"mark-replaced-key-by-key": {
			reason: "A patch of the mark's keys replaces their values only.",
			insert: `{` + mark + `,"env":"prod"}`,
			method: http.MethodPatch, body: `{"labels":{"stratus-owner":"ffffffffffffffffffffffffffffffff","stratus-owner-uid":null}}`,
			want: markLabels(map[string]any{"env": "prod", "stratus-owner": "ffffffffffffffffffffffffffffffff", "stratus-owner-uid": nil}),
		},
		"mark-kept-by-update": {
			reason: "An update (PUT) stores exactly the labels it sends.",
			insert: `{"env":"prod"}`,
			method: http.MethodPut, body: `{"labels":{` + mark + `}}`,
			want: markLabels(nil),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bucket := bucketName(name)
			status, doc := call(t, auth, http.MethodPost, "/storage/v1/b?project="+srv.ProjectID, `{"name":"`+bucket+`","labels":`+tc.insert+`}`)
			if status != http.StatusOK {
				t.Fatalf("insert: %d %v", status, doc)
			}
			if tc.method == "" && !cmp.Equal(tc.want, doc["labels"]) {
				t.Errorf("%s\nthe insert's answer: -want, +got:\n%s", tc.reason, cmp.Diff(tc.want, doc["labels"]))
			}
			if tc.method != "" {
				status, doc := call(t, auth, tc.method, "/storage/v1/b/"+bucket, tc.body)
				if status != http.StatusOK {
					t.Fatalf("%s %s: %d %v", tc.method, bucket, status, doc)
				}
				if diff := cmp.Diff(tc.want, doc["labels"]); diff != "" {
					t.Errorf("%s\nthe answer to %s: -want, +got:\n%s", tc.reason, tc.method, diff)
				}
			}
			_, doc = call(t, auth, http.MethodGet, "/storage/v1/b/"+bucket, "")
			if diff := cmp.Diff(tc.want, doc["labels"]); diff != "" {
				t.Errorf("%s\nget: -want, +got:\n%s", tc.reason, diff)
			}
			_, doc = call(t, auth, http.MethodGet, "/storage/v1/b?project="+srv.ProjectID+"&prefix="+bucket, "")
			items, _ := doc["items"].([]any)
			if len(items) != 1 {
				t.Fatalf("list with prefix %s: %v; want the bucket", bucket, doc)
			}
			if diff := cmp.Diff(tc.want, items[0].(map[string]any)["labels"]); diff != "" {
				t.Errorf("%s\nlist: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
