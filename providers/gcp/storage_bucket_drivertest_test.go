package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/storage"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/driver/drivertest"
	"github.com/stratus-operator/stratus/test/fakes/googleauth"
	"github.com/stratus-operator/stratus/test/faults"
	"github.com/stratus-operator/stratus/test/servers"
)

// TestBucketDriverSuite runs the driver suite against fake-gcs-server behind
// the shim, reading back with a plain Cloud Storage client.
func TestBucketDriverSuite(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	drivertest.RunBuckets(t, gcsHarness{srv: srv, plain: plainGCS(t)})
}

// gcsHarness plugs the Cloud Storage driver into the suite.
type gcsHarness struct {
	srv   *servers.GCSServer
	plain *storage.Client
}

func (h gcsHarness) Config(*testing.T) driver.Config {
	return config(h.srv.Endpoint, h.srv.ServiceAccountJSON())
}

func (gcsHarness) Connect(t *testing.T, cfg driver.Config) (driver.Client[*storagev1alpha1.Bucket], error) {
	return NewBucketDriver().Connect(t.Context(), cfg)
}

// BadCredentials are a key another token endpoint issues tokens for, whose
// token Cloud Storage refuses (401), and a key the server's token endpoint
// does not know (invalid_grant).
func (h gcsHarness) BadCredentials(t *testing.T) []drivertest.Credentials {
	other, err := googleauth.Start("intruder@elsewhere.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	otherKey := other.ServiceAccountJSON(h.srv.ProjectID)
	var forged map[string]string
	if err := json.Unmarshal(otherKey, &forged); err != nil {
		t.Fatal(err)
	}
	forged["token_uri"] = h.srv.Auth.TokenURI()
	forgedKey, _ := json.Marshal(forged)
	return []drivertest.Credentials{
		{Name: "OtherTokenEndpoint", Data: config("", otherKey).Credentials, Secrets: keyMaterial(t, otherKey)},
		{Name: "ForgedKey", Data: config("", forgedKey).Credentials, Secrets: keyMaterial(t, forgedKey)},
	}
}

func (gcsHarness) Throttling() faults.Response { return faults.GoogleRateLimited }

func (gcsHarness) New(name string) *storagev1alpha1.Bucket {
	b := newBucket(name, fullSpec())
	b.UID = "5e1f6a2b-0c3d-4e5f-8a9b-" + "drivertest"
	return b
}

func (gcsHarness) Request(b *storagev1alpha1.Bucket) driver.Request[*storagev1alpha1.Bucket] {
	return requestFor(b)
}

func (gcsHarness) Mutations() []drivertest.Mutation[*storagev1alpha1.Bucket] {
	return []drivertest.Mutation[*storagev1alpha1.Bucket]{
		{Field: "spec.versioning", Apply: func(b *storagev1alpha1.Bucket) { b.Spec.Versioning = storagev1alpha1.VersioningDisabled }},
		{Field: "spec.encryption", Apply: func(b *storagev1alpha1.Bucket) { b.Spec.Encryption = nil }},
		{Field: "spec.publicAccess", Apply: func(b *storagev1alpha1.Bucket) { b.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed }},
		{Field: "spec.lifecycle", Apply: func(b *storagev1alpha1.Bucket) {
			b.Spec.Lifecycle = []storagev1alpha1.LifecycleRule{rule("tmp", "tmp/", 1, 0)}
		}},
		{Field: "spec.labels", Apply: func(b *storagev1alpha1.Bucket) { b.Spec.Labels = map[string]string{"env": "prod"} }},
	}
}

// Want describes the spec in the words of readBack.fields: a rule is a
// Cloud Storage rule for each expiration it sets.
func (gcsHarness) Want(b *storagev1alpha1.Bucket) map[string]string {
	rb := readBack{
		Location:               testLocation,
		Versioning:             b.Spec.Versioning == storagev1alpha1.VersioningEnabled,
		PublicAccessPrevention: "enforced",
		Labels:                 b.Spec.Labels,
	}
	if e := b.Spec.Encryption; e != nil && e.Mode == storagev1alpha1.EncryptionCustomerManaged {
		rb.KMSKey = e.KeyID
	}
	if b.Spec.PublicAccess == storagev1alpha1.PublicAccessAllowed {
		rb.PublicAccessPrevention = "inherited"
	}
	for _, r := range b.Spec.Lifecycle {
		var prefix []string
		if r.Prefix != "" {
			prefix = []string{r.Prefix}
		}
		if d := r.ExpirationDays; d != nil {
			rb.Lifecycle = append(rb.Lifecycle, fmt.Sprintf("Delete age=%d live=true prefix=%v noncurrent=0", *d, prefix))
		}
		if d := r.NoncurrentVersionExpirationDays; d != nil {
			rb.Lifecycle = append(rb.Lifecycle, fmt.Sprintf("Delete age=0 live=<nil> prefix=%v noncurrent=%d", prefix, *d))
		}
	}
	slices.Sort(rb.Lifecycle)
	return rb.fields()
}

// fields are the portable fields of a read-back.
func (rb readBack) fields() map[string]string {
	versioning := "Disabled"
	if rb.Versioning {
		versioning = "Enabled"
	}
	return map[string]string{
		"spec.region":       rb.Location,
		"spec.versioning":   versioning,
		"spec.encryption":   rb.KMSKey,
		"spec.publicAccess": rb.PublicAccessPrevention,
		"spec.lifecycle":    strings.Join(rb.Lifecycle, "; "),
		"spec.labels":       driver.FormatLabels(rb.Labels),
	}
}

func (h gcsHarness) Read(t *testing.T, name string) drivertest.Resource {
	a, err := h.plain.Bucket(name).Attrs(t.Context())
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return drivertest.Resource{}
	case err != nil:
		t.Fatalf("Attrs(%s): %v", name, err)
	}
	return drivertest.Resource{Exists: true, Fields: readBackOf(name, a).fields(), Owner: driver.MarkFromLabels(a.Labels)}
}

func (h gcsHarness) Tamper(t *testing.T, name string) string {
	if _, err := h.plain.Bucket(name).Update(t.Context(), storage.BucketAttrsToUpdate{VersioningEnabled: false}); err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
	return "spec.versioning"
}

// Mark replaces the owner mark among the bucket's labels.
func (h gcsHarness) Mark(t *testing.T, name string, owner driver.Owner) {
	a, err := h.plain.Bucket(name).Attrs(t.Context())
	if err != nil {
		t.Fatalf("Attrs(%s): %v", name, err)
	}
	var mark map[string]string
	if owner.Known() {
		mark = owner.Labels()
	}
	var ua storage.BucketAttrsToUpdate
	for k := range a.Labels {
		if _, kept := mark[k]; driver.IsOwnerKey(k) && !kept {
			ua.DeleteLabel(k)
		}
	}
	for k, v := range mark {
		ua.SetLabel(k, v)
	}
	if _, err := h.plain.Bucket(name).Update(t.Context(), ua); err != nil {
		t.Fatalf("update the labels of %s: %v", name, err)
	}
}

func (h gcsHarness) Put(ctx context.Context, bucket, key, body string) error {
	w := h.plain.Bucket(bucket).Object(key).NewWriter(ctx)
	w.ChunkSize = 0 // one request per object
	if _, err := io.WriteString(w, body); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

func (h gcsHarness) Remove(t *testing.T, bucket, key string) {
	if err := h.plain.Bucket(bucket).Object(key).Delete(t.Context()); err != nil {
		t.Fatalf("delete %s/%s: %v", bucket, key, err)
	}
}

func (h gcsHarness) Versions(t *testing.T, bucket string) []string {
	return listVersions(t, h.plain, bucket)
}
