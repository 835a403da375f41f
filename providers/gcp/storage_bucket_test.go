package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/driver/drivertest"
	"github.com/stratus-operator/stratus/test/faults"
	"github.com/stratus-operator/stratus/test/servers"
)

// The integration tests run the driver against fake-gcs-server, a Cloud
// Storage emulator, with the test shim in front of it for the bucket fields
// the emulator ignores and for authentication (see package test/servers).
// Each test uses its own buckets.

// gcsServer is the Cloud Storage server the integration tests use; nil with
// -short.
var gcsServer *servers.GCSServer

// TestMain starts one Cloud Storage server (fake-gcs-server behind the test
// shim) for the package's integration tests, unless -short is given.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if !testing.Short() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		srv, err := servers.StartGCS(ctx, servers.GCSOptions{})
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "start the Cloud Storage server for the integration tests (or run with -short to skip them): %v\n", err)
			return 1
		}
		gcsServer = srv
		defer func() {
			if err := srv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
	}
	return m.Run()
}

// needGCS skips an integration test under -short and returns the server.
func needGCS(t *testing.T) *servers.GCSServer {
	t.Helper()
	if gcsServer == nil {
		t.Skip("integration test: needs the Cloud Storage server, which -short does not start")
	}
	return gcsServer
}

// testRegion is the region of the test requests, as a spec would name it.
const testRegion = "europe-west1"

// testLocation is testRegion as Cloud Storage reports it.
const testLocation = "EUROPE-WEST1"

const testKeyID = "projects/stratus-test/locations/europe-west1/keyRings/stratus/cryptoKeys/buckets"

func int32p(v int32) *int32 { return &v }

func rule(name, prefix string, expiration, noncurrent int32) storagev1alpha1.LifecycleRule {
	r := storagev1alpha1.LifecycleRule{Name: name, Prefix: prefix}
	if expiration > 0 {
		r.ExpirationDays = int32p(expiration)
	}
	if noncurrent > 0 {
		r.NoncurrentVersionExpirationDays = int32p(noncurrent)
	}
	return r
}

// fullSpec sets every setting a Bucket has.
func fullSpec() storagev1alpha1.BucketSpec {
	return storagev1alpha1.BucketSpec{
		Versioning:   storagev1alpha1.VersioningEnabled,
		Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: testKeyID},
		PublicAccess: storagev1alpha1.PublicAccessBlocked,
		Lifecycle:    []storagev1alpha1.LifecycleRule{rule("logs", "logs/", 30, 0), rule("old-versions", "", 0, 7)},
		Labels:       map[string]string{"env": "test", "team": "storage"},
	}
}

// readBack is a bucket's settings as a plain Cloud Storage client reads
// them.
type readBack struct {
	Location               string
	Versioning             bool
	KMSKey                 string
	UniformAccess          bool
	PublicAccessPrevention string
	Lifecycle              []string // one line per rule, sorted
	// Labels are the labels but the owner mark's.
	Labels map[string]string
	// Marked is true when the labels carry the owner mark of the test
	// object the bucket is named after (see testOwner).
	Marked bool
}

// fullReadBack is what a plain client reads of a bucket with fullSpec.
func fullReadBack() readBack {
	return readBack{
		Location:               testLocation,
		Versioning:             true,
		KMSKey:                 testKeyID,
		UniformAccess:          true,
		PublicAccessPrevention: "enforced",
		Lifecycle: []string{
			"Delete age=0 live=<nil> prefix=[] noncurrent=7",
			"Delete age=30 live=true prefix=[logs/] noncurrent=0",
		},
		Labels: map[string]string{"env": "test", "team": "storage"},
		Marked: true,
	}
}

// defaultReadBack is what a plain client reads of a bucket with an empty
// spec: public access blocked and the owner mark, nothing else.
func defaultReadBack() readBack {
	return readBack{Location: testLocation, UniformAccess: true, PublicAccessPrevention: "enforced", Marked: true}
}

func config(endpoint string, key []byte) driver.Config {
	return driver.Config{
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider:    stratusv1alpha1.ProviderGCP,
			Region:      "us-east1",
			Endpoint:    endpoint,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret},
		},
		Credentials: map[string][]byte{KeyCredentialsJSON: key},
	}
}

// connectWith returns a driver client for a configuration.
func connectWith(t *testing.T, cfg driver.Config, opts ...Option) driver.Client[*storagev1alpha1.Bucket] {
	t.Helper()
	c, err := NewBucketDriver(opts...).Connect(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Connect(...): %v", err)
	}
	if closer, ok := c.(io.Closer); ok {
		t.Cleanup(func() { _ = closer.Close() })
	}
	return c
}

// connectGCS returns a driver client for the shim with the server's
// service account.
func connectGCS(t *testing.T, opts ...Option) driver.Client[*storagev1alpha1.Bucket] {
	t.Helper()
	srv := needGCS(t)
	return connectWith(t, config(srv.Endpoint, srv.ServiceAccountJSON()), opts...)
}

// plainGCS returns a Cloud Storage client of its own for the shim, to check
// and change buckets behind the driver's back.
func plainGCS(t *testing.T) *storage.Client {
	t.Helper()
	srv := needGCS(t)
	c, err := storage.NewClient(t.Context(),
		option.WithEndpoint(srv.Endpoint+"/storage/v1/"),
		option.WithAuthCredentialsJSON(option.ServiceAccount, srv.ServiceAccountJSON()),
		storage.WithDisabledClientMetrics())
	if err != nil {
		t.Fatalf("storage.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newBucket(name string, spec storagev1alpha1.BucketSpec) *storagev1alpha1.Bucket {
	spec.BucketName = name
	b := &storagev1alpha1.Bucket{Spec: spec}
	b.Name = name
	b.Namespace = "test"
	return b
}

// testCluster is the cluster of the owners of the test requests.
const testCluster = "test-cluster"

// ownerOf is the owner the reconciler names for b.
func ownerOf(b *storagev1alpha1.Bucket) driver.Owner {
	return driver.Owner{Cluster: testCluster, Namespace: b.Namespace, Name: b.Name, UID: string(b.UID)}
}

// testOwner is the owner of the Bucket newBucket makes for name.
func testOwner(name string) driver.Owner {
	return ownerOf(newBucket(name, storagev1alpha1.BucketSpec{}))
}

// requestFor asks about b as the reconciler would, b being the owner.
func requestFor(b *storagev1alpha1.Bucket) driver.Request[*storagev1alpha1.Bucket] {
	return driver.Request[*storagev1alpha1.Bucket]{Object: b, ExternalName: b.Spec.BucketName, Region: testRegion, Owner: ownerOf(b)}
}

func read(t *testing.T, c *storage.Client, name string) readBack {
	t.Helper()
	a, err := c.Bucket(name).Attrs(t.Context())
	if err != nil {
		t.Fatalf("Attrs(%s): %v", name, err)
	}
	return readBackOf(name, a)
}

// readBackOf is the read-back of the bucket name's attributes.
func readBackOf(name string, a *storage.BucketAttrs) readBack {
	rb := readBack{
		Location:               a.Location,
		Versioning:             a.VersioningEnabled,
		UniformAccess:          a.UniformBucketLevelAccess.Enabled,
		PublicAccessPrevention: a.PublicAccessPrevention.String(),
		Labels:                 driver.WithoutOwnerKeys(a.Labels),
		Marked:                 driver.MarkFromLabels(a.Labels).ID == testOwner(name).ID(),
	}
	if a.Encryption != nil {
		rb.KMSKey = a.Encryption.DefaultKMSKeyName
	}
	for _, r := range a.Lifecycle.Rules {
		live := "<nil>"
		switch r.Condition.Liveness {
		case storage.Live:
			live = "true"
		case storage.Archived:
			live = "false"
		}
		rb.Lifecycle = append(rb.Lifecycle, fmt.Sprintf("%s age=%d live=%s prefix=%v noncurrent=%d",
			r.Action.Type, r.Condition.AgeInDays, live, r.Condition.MatchesPrefix, r.Condition.DaysSinceNoncurrentTime))
	}
	slices.Sort(rb.Lifecycle)
	return rb
}

// bucketExists asks a plain client whether a bucket exists.
func bucketExists(t *testing.T, c *storage.Client, name string) bool {
	t.Helper()
	_, err := c.Bucket(name).Attrs(t.Context())
	if errors.Is(err, storage.ErrBucketNotExist) {
		return false
	}
	if err != nil {
		t.Fatalf("Attrs(%s): %v", name, err)
	}
	return true
}

// listVersions returns the name of every object generation, live or
// noncurrent, sorted.
func listVersions(t *testing.T, c *storage.Client, bucket string) []string {
	t.Helper()
	var names []string
	it := c.Bucket(bucket).Objects(t.Context(), &storage.Query{Versions: true})
	for {
		o, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("list object versions of %s: %v", bucket, err)
		}
		names = append(names, o.Name)
	}
	slices.Sort(names)
	return names
}

// observed is what a test compares of an Observation.
type observed struct {
	Exists, Available bool
	Drift             []stratusv1alpha1.DriftedField
	Unsupported       []string
	Connection        map[string]string
}

func observe(t *testing.T, c driver.Client[*storagev1alpha1.Bucket], b *storagev1alpha1.Bucket) observed {
	t.Helper()
	o, err := c.Observe(t.Context(), requestFor(b))
	if err != nil {
		t.Fatalf("Observe(%s): %v", b.Spec.BucketName, err)
	}
	got := observed{Exists: o.Exists, Available: o.Available, Drift: o.Drift, Unsupported: o.Unsupported}
	for k, v := range o.Connection {
		if got.Connection == nil {
			got.Connection = map[string]string{}
		}
		got.Connection[k] = string(v)
	}
	return got
}

func upToDate(name, endpoint string) observed {
	return observed{Exists: true, Available: true, Connection: map[string]string{
		"bucket": name, "region": testLocation, "endpoint": endpoint,
	}}
}

// TestBucketCreate checks what Create writes for specs beyond the suite's,
// and the status.atProvider Observe then records.
func TestBucketCreate(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	c := connectGCS(t)
	plain := plainGCS(t)

	cases := map[string]struct {
		reason         string
		spec           storagev1alpha1.BucketSpec
		want           readBack
		wantAtProvider storagev1alpha1.BucketObservation
	}{
		"create-everything": {
			reason: "Create makes the bucket in the region with versioning, the KMS key, public access prevention, uniform access, lifecycle rules and labels.",
			spec:   fullSpec(),
			want:   fullReadBack(),
			wantAtProvider: storagev1alpha1.BucketObservation{
				Name: "create-everything", Region: testLocation, Versioning: "Enabled",
				Encryption: "CloudKMS", EncryptionKeyID: testKeyID, PublicAccessBlocked: new(true),
				LifecycleRules: 2, Labels: map[string]string{"env": "test", "team": "storage"},
				URL: srv.Endpoint + "/create-everything",
			},
		},
		"create-defaults": {
			reason: "An empty spec leaves versioning off, uses Google-managed keys and blocks public access.",
			want:   defaultReadBack(),
			wantAtProvider: storagev1alpha1.BucketObservation{
				Name: "create-defaults", Region: testLocation, Versioning: "Disabled", Encryption: "GoogleManaged",
				PublicAccessBlocked: new(true), URL: srv.Endpoint + "/create-defaults",
			},
		},
		"create-public": {
			reason: "Allowed public access leaves public access prevention inherited and uniform access off.",
			spec:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed},
			want:   readBack{Location: testLocation, PublicAccessPrevention: "inherited", Marked: true},
			wantAtProvider: storagev1alpha1.BucketObservation{
				Name: "create-public", Region: testLocation, Versioning: "Disabled", Encryption: "GoogleManaged",
				PublicAccessBlocked: new(false), URL: srv.Endpoint + "/create-public",
			},
		},
		"create-rule-with-both-expirations": {
			reason: "A rule with both expirations becomes two Cloud Storage rules with the rule's prefix.",
			spec:   storagev1alpha1.BucketSpec{Lifecycle: []storagev1alpha1.LifecycleRule{rule("tmp", "tmp/", 1, 2)}},
			want: func() readBack {
				rb := defaultReadBack()
				rb.Lifecycle = []string{"Delete age=0 live=<nil> prefix=[tmp/] noncurrent=2", "Delete age=1 live=true prefix=[tmp/] noncurrent=0"}
				return rb
			}(),
			wantAtProvider: storagev1alpha1.BucketObservation{
				Name: "create-rule-with-both-expirations", Region: testLocation, Versioning: "Disabled", Encryption: "GoogleManaged",
				PublicAccessBlocked: new(true), LifecycleRules: 2, URL: srv.Endpoint + "/create-rule-with-both-expirations",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, tc.spec)
			res, err := c.Create(t.Context(), requestFor(b))
			if err != nil {
				t.Fatalf("%s\nCreate(...): %v", tc.reason, err)
			}
			wantConn := driver.ConnectionDetails{"bucket": []byte(name), "region": []byte(testLocation), "endpoint": []byte(srv.Endpoint)}
			if diff := cmp.Diff(wantConn, res.Connection); diff != "" {
				t.Errorf("%s\nCreate(...) connection: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.want, read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Create: -want, +got:\n%s", tc.reason, diff)
			}

			if diff := cmp.Diff(upToDate(name, srv.Endpoint), observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantAtProvider, b.Status.AtProvider); diff != "" {
				t.Errorf("%s\nstatus.atProvider: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBucketLocation(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	plain := plainGCS(t)

	cases := map[string]struct {
		reason        string
		configRegion  string
		requestRegion string
		want          string
	}{
		"location-from-request": {reason: "The request's region wins, upper-cased.", configRegion: "us-east1", requestRegion: "asia-south1", want: "ASIA-SOUTH1"},
		"location-from-config":  {reason: "Without a region in the request, the configuration's.", configRegion: "eu", want: "EU"},
		"location-default":      {reason: "Without any region, the US multi-region.", want: "US"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := config(srv.Endpoint, srv.ServiceAccountJSON())
			cfg.Spec.Region = tc.configRegion
			c := connectWith(t, cfg)
			b := newBucket(name, storagev1alpha1.BucketSpec{})
			req := requestFor(b)
			req.Region = tc.requestRegion
			res, err := c.Create(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nCreate(...): %v", tc.reason, err)
			}
			if got := read(t, plain, name).Location; got != tc.want {
				t.Errorf("%s\nlocation = %q; want %q", tc.reason, got, tc.want)
			}
			if got := string(res.Connection[ConnectionRegion]); got != tc.want {
				t.Errorf("%s\nconnection region = %q; want %q", tc.reason, got, tc.want)
			}
			o, err := c.Observe(t.Context(), req)
			if err != nil || !o.Exists || !o.UpToDate() {
				t.Errorf("%s\nObserve(...) = %+v, %v; want an up-to-date bucket", tc.reason, o, err)
			}
		})
	}
}

// TestBucketUpdate checks what Update writes for changes beyond the suite's
// one field at a time.
func TestBucketUpdate(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	c := connectGCS(t)
	plain := plainGCS(t)

	withSpec := func(f func(*storagev1alpha1.BucketSpec)) storagev1alpha1.BucketSpec {
		s := fullSpec()
		f(&s)
		return s
	}
	withReadBack := func(f func(*readBack)) readBack {
		rb := fullReadBack()
		f(&rb)
		return rb
	}
	cases := map[string]struct {
		reason   string
		from, to storagev1alpha1.BucketSpec
		want     readBack
	}{
		"update-enable-everything": {
			reason: "Update applies every setting to a bucket created with the defaults.",
			to:     fullSpec(),
			want:   fullReadBack(),
		},
		"update-disable-everything": {
			reason: "Update turns versioning off, returns to Google-managed keys, lifts public access prevention (uniform access stays), removes rules and labels.",
			from:   fullSpec(),
			to: storagev1alpha1.BucketSpec{
				Versioning:   storagev1alpha1.VersioningDisabled,
				Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged},
				PublicAccess: storagev1alpha1.PublicAccessAllowed,
			},
			want: readBack{Location: testLocation, UniformAccess: true, PublicAccessPrevention: "inherited", Marked: true},
		},
		"update-other-kms-key": {
			reason: "Another KMS key replaces the default key.",
			from:   fullSpec(),
			to: withSpec(func(s *storagev1alpha1.BucketSpec) {
				s.Encryption = &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: testKeyID + "-2"}
			}),
			want: withReadBack(func(rb *readBack) { rb.KMSKey = testKeyID + "-2" }),
		},
		"update-block-public-access": {
			reason: "Blocked enforces public access prevention and enables uniform access on a public bucket.",
			from:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed},
			to:     storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessBlocked},
			want:   defaultReadBack(),
		},
		"update-remove-labels": {
			reason: "A spec without labels removes every label.",
			from:   fullSpec(),
			to:     withSpec(func(s *storagev1alpha1.BucketSpec) { s.Labels = nil }),
			want:   withReadBack(func(rb *readBack) { rb.Labels = nil }),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, tc.from)
			if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("Create(...): %v", err)
			}

			spec := tc.to
			spec.BucketName = name
			b.Spec = spec
			if o := observe(t, c, b); len(o.Drift) == 0 {
				t.Errorf("%s\nObserve(...) after the spec changed reports no drift", tc.reason)
			}
			res, err := c.Update(t.Context(), requestFor(b))
			if err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			if got := string(res.Connection[ConnectionBucket]); got != name {
				t.Errorf("%s\nUpdate(...) connection bucket = %q; want %q", tc.reason, got, name)
			}
			if diff := cmp.Diff(tc.want, read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Update: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(upToDate(name, srv.Endpoint), observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...) after Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBucketDriftIsCorrected(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	c := connectGCS(t)
	plain := plainGCS(t)

	labels := func(set map[string]string, del ...string) storage.BucketAttrsToUpdate {
		var ua storage.BucketAttrsToUpdate
		for k, v := range set {
			ua.SetLabel(k, v)
		}
		for _, k := range del {
			ua.DeleteLabel(k)
		}
		return ua
	}
	const fullRules = "Delete: age=30d live prefix=logs/; Delete: noncurrent=7d"
	cases := map[string]struct {
		reason string
		change storage.BucketAttrsToUpdate
		want   []stratusv1alpha1.DriftedField
	}{
		"drift-versioning": {
			reason: "Turning versioning off behind the driver's back is drift.",
			change: storage.BucketAttrsToUpdate{VersioningEnabled: false},
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Disabled"}},
		},
		"drift-encryption-removed": {
			reason: "Removing the default KMS key is drift.",
			change: storage.BucketAttrsToUpdate{Encryption: &storage.BucketEncryption{}},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.encryption",
				Desired: "CustomerManaged (key " + testKeyID + ")", Observed: "ProviderManaged"}},
		},
		"drift-encryption-other-key": {
			reason: "Another default KMS key is drift.",
			change: storage.BucketAttrsToUpdate{Encryption: &storage.BucketEncryption{DefaultKMSKeyName: testKeyID + "-other"}},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.encryption",
				Desired: "CustomerManaged (key " + testKeyID + ")", Observed: "CustomerManaged (key " + testKeyID + "-other)"}},
		},
		"drift-public-access-prevention": {
			reason: "Lifting public access prevention is drift.",
			change: storage.BucketAttrsToUpdate{PublicAccessPrevention: storage.PublicAccessPreventionInherited},
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Allowed"}},
		},
		"drift-uniform-access": {
			reason: "Disabling uniform bucket-level access leaves public access only partly blocked: drift.",
			change: storage.BucketAttrsToUpdate{UniformBucketLevelAccess: &storage.UniformBucketLevelAccess{Enabled: false}},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked",
				Observed: "Partially blocked (public access prevention enforced, uniform bucket-level access disabled)"}},
		},
		"drift-lifecycle": {
			reason: "Replacing the lifecycle rules is drift.",
			change: storage.BucketAttrsToUpdate{Lifecycle: &storage.Lifecycle{Rules: []storage.LifecycleRule{{
				Action:    storage.LifecycleAction{Type: storage.SetStorageClassAction, StorageClass: "COLDLINE"},
				Condition: storage.LifecycleCondition{AgeInDays: 90},
			}}}},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle", Desired: fullRules, Observed: "SetStorageClass to COLDLINE: age=90d"}},
		},
		"drift-labels": {
			reason: "Changing, adding and deleting labels is drift.",
			change: labels(map[string]string{"env": "prod", "owner": "someone"}, "team"),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=test, team=storage", Observed: "env=prod, owner=someone"}},
		},
		"drift-everything": {
			reason: "Every changed setting is reported at once.",
			change: func() storage.BucketAttrsToUpdate {
				ua := labels(nil, "env", "team")
				ua.VersioningEnabled = false
				ua.Encryption = &storage.BucketEncryption{}
				ua.PublicAccessPrevention = storage.PublicAccessPreventionInherited
				ua.Lifecycle = &storage.Lifecycle{}
				return ua
			}(),
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.versioning", Desired: "Enabled", Observed: "Disabled"},
				{Field: "spec.encryption", Desired: "CustomerManaged (key " + testKeyID + ")", Observed: "ProviderManaged"},
				{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Allowed"},
				{Field: "spec.lifecycle", Desired: fullRules, Observed: "None"},
				{Field: "spec.labels", Desired: "env=test, team=storage", Observed: "None"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, fullSpec())
			if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("Create(...): %v", err)
			}
			if _, err := plain.Bucket(name).Update(t.Context(), tc.change); err != nil {
				t.Fatalf("changing the bucket behind the driver's back: %v", err)
			}

			want := upToDate(name, srv.Endpoint)
			want.Drift = tc.want
			if diff := cmp.Diff(want, observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...) after the change: -want, +got:\n%s", tc.reason, diff)
			}
			if _, err := c.Update(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(upToDate(name, srv.Endpoint), observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...) after Update: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(fullReadBack(), read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestBucketForceDestroyPages checks how Delete empties a large bucket with
// spec.forceDestroy: a listing at a time, at most a bounded number of them,
// saying that more remain. The suite checks the rest of what Delete does.
func TestBucketForceDestroyPages(t *testing.T) {
	t.Parallel()
	plain := plainGCS(t)
	cases := map[string]struct {
		reason                string
		pageSize, emptyRounds int
		// wantMoreRemain is true when the first Delete empties only part of
		// the bucket and a second finishes.
		wantMoreRemain bool
	}{
		"delete-force-many": {
			reason:   "forceDestroy deletes more objects than one listing returns.",
			pageSize: 100,
		},
		"delete-force-resumes": {
			reason:         "forceDestroy stops after a bounded number of listings, saying more remain; the next Delete finishes.",
			pageSize:       50,
			emptyRounds:    3,
			wantMoreRemain: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := connectGCS(t)
			bc := c.(*bucketClient)
			bc.pageSize = tc.pageSize
			if tc.emptyRounds != 0 {
				bc.emptyRounds = tc.emptyRounds
			}
			b := newBucket(name, storagev1alpha1.BucketSpec{ForceDestroy: true})
			if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("Create(...): %v", err)
			}
			drivertest.PutMany(t, gcsHarness{srv: gcsServer, plain: plain}, name, 234)

			res, err := c.Delete(t.Context(), requestFor(b))
			if tc.wantMoreRemain {
				if err == nil || !strings.Contains(err.Error(), "more remain") || driver.IsBlocked(err) || driver.IsTerminal(err) {
					t.Fatalf("%s\nfirst Delete(...) = %v; want a retryable error saying more remain", tc.reason, err)
				}
				if left, want := len(listVersions(t, plain, name)), 234-tc.emptyRounds*tc.pageSize; left != want {
					t.Errorf("%s\n%d objects left after the first Delete; want %d", tc.reason, left, want)
				}
				res, err = c.Delete(t.Context(), requestFor(b))
			}
			if err != nil || !res.Gone {
				t.Fatalf("%s\nDelete(...) = %+v, %v; want the bucket gone", tc.reason, res, err)
			}
			if bucketExists(t, plain, name) {
				t.Fatalf("%s\nthe bucket still exists after Delete", tc.reason)
			}
		})
	}
}

// keyMaterial returns pieces of a service-account key that must never
// appear in an error: the PEM private key's body.
func keyMaterial(t *testing.T, key []byte) []string {
	t.Helper()
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &sa); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(sa.PrivateKey), "\n")
	if len(lines) < 4 {
		t.Fatalf("the key has no PEM body")
	}
	return []string{"PRIVATE KEY", lines[1], lines[len(lines)/2]}
}

func TestBucketInvalidSpec(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	c := connectGCS(t)
	plain := plainGCS(t)

	cases := map[string]struct {
		reason string
		spec   storagev1alpha1.BucketSpec
		// want is in the error.
		want string
	}{
		"invalid-label-upper-case": {
			reason: "Cloud Storage label keys are lowercase: the key is named, nothing is dropped.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "test", "CostCenter": "42"}},
			want:   `label "CostCenter"`,
		},
		"invalid-label-digit-first": {
			reason: "Cloud Storage label keys start with a letter.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"1st": "x"}},
			want:   `label "1st"`,
		},
		"invalid-label-long-key": {
			reason: "Cloud Storage label keys are at most 63 characters; the spec allows 128.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{strings.Repeat("k", 64): "x"}},
			want:   "1 to 63 characters",
		},
		"invalid-label-value": {
			reason: "Cloud Storage label values hold no dots or slashes.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"owner": "team@example.com"}},
			want:   `label "owner"`,
		},
		"invalid-kms-key": {
			reason: "A key ID that is not a Cloud KMS key name is refused by Cloud Storage with 400: terminal.",
			spec:   storagev1alpha1.BucketSpec{Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "alias/my-aws-key"}},
			want:   "400",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, tc.spec)
			_, err := c.Create(t.Context(), requestFor(b))
			if !driver.IsTerminal(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s\nCreate(...) = %v; want a Terminal error with %q", tc.reason, err, tc.want)
			}
			if bucketExists(t, plain, name) {
				t.Errorf("%s\nCreate(...) made the bucket", tc.reason)
			}

			// Update of an existing bucket refuses the same spec.
			ok := newBucket(name, storagev1alpha1.BucketSpec{})
			if _, err := c.Create(t.Context(), requestFor(ok)); err != nil {
				t.Fatalf("Create(...): %v", err)
			}
			_, err = c.Update(t.Context(), requestFor(b))
			if !driver.IsTerminal(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nUpdate(...) = %v; want a Terminal error with %q", tc.reason, err, tc.want)
			}
		})
	}

	t.Run("location-mismatch", func(t *testing.T) {
		t.Parallel()
		b := newBucket("location-mismatch", storagev1alpha1.BucketSpec{})
		if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
			t.Fatalf("Create(...): %v", err)
		}
		req := requestFor(b)
		req.Region = "asia-east1"
		for call, fn := range map[string]func() error{
			"Observe": func() error { _, err := c.Observe(t.Context(), req); return err },
			"Create":  func() error { _, err := c.Create(t.Context(), req); return err },
			"Update":  func() error { _, err := c.Update(t.Context(), req); return err },
		} {
			err := fn()
			if !driver.IsTerminal(err) || !strings.Contains(err.Error(), "cannot be changed") || !strings.Contains(err.Error(), testLocation) {
				t.Errorf("%s(...) of a bucket in another location = %v; want a Terminal error naming its location", call, err)
			}
		}
	})

	t.Run("no-project", func(t *testing.T) {
		t.Parallel()
		c := connectWith(t, config(srv.Endpoint, srv.Auth.ServiceAccountJSON("")))
		b := newBucket("no-project", storagev1alpha1.BucketSpec{})
		_, err := c.Create(t.Context(), requestFor(b))
		if !driver.IsTerminal(err) || !strings.Contains(err.Error(), "project_id") {
			t.Fatalf("Create(...) with a key without project_id = %v; want a Terminal error naming project_id", err)
		}
		if bucketExists(t, plain, "no-project") {
			t.Error("Create(...) without a project made the bucket")
		}
	})
}

func TestBucketThrottled(t *testing.T) {
	t.Parallel()
	needGCS(t)
	// A server of its own: injected faults answer whatever request comes
	// next, and the other tests' requests must not get them.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv, err := servers.StartGCS(ctx, servers.GCSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c := connectWith(t, config(srv.Endpoint, srv.ServiceAccountJSON()))
	b := newBucket("throttled", storagev1alpha1.BucketSpec{})
	if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
		t.Fatalf("Create(...): %v", err)
	}

	// Fewer 429s than the client library's attempts are absorbed.
	srv.Faults.FailNext(DefaultMaxAttempts-1, faults.GoogleRateLimited)
	if _, err := c.Observe(t.Context(), requestFor(b)); err != nil {
		t.Errorf("Observe(...) with %d throttled answers: %v; want them retried", DefaultMaxAttempts-1, err)
	}
	// As many as its attempts reach the reconciler, as throttling.
	srv.Faults.FailNext(DefaultMaxAttempts, faults.GoogleRateLimited)
	start := time.Now()
	_, err = c.Observe(t.Context(), requestFor(b))
	if !driver.IsThrottled(err) {
		t.Errorf("Observe(...) with %d throttled answers: %v; want a Throttled error", DefaultMaxAttempts, err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Observe(...) took %v to give up: the client library's backoff is too long", elapsed)
	}
	if got, want := srv.Faults.Injected(), 2*DefaultMaxAttempts-1; got != want {
		t.Errorf("%d injected answers were sent; want %d", got, want)
	}
}

func TestBucketClientOutlivesConnectContext(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	// The reconciler caches a client across reconciles: a client must not
	// depend on the context it was connected with.
	ctx, cancel := context.WithCancel(t.Context())
	c, err := NewBucketDriver().Connect(ctx, config(srv.Endpoint, srv.ServiceAccountJSON()))
	cancel()
	if err != nil {
		t.Fatalf("Connect(...): %v", err)
	}
	t.Cleanup(func() { _ = c.(io.Closer).Close() })
	b := newBucket("outlives-connect", storagev1alpha1.BucketSpec{})
	if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
		t.Fatalf("Create(...) after the Connect context ended: %v", err)
	}
	if o := observe(t, c, b); !o.Exists {
		t.Errorf("Observe(...) after Create: %+v; want the bucket", o)
	}
}
