package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/gcp"
	"github.com/stratus-operator/stratus/test/fakes/googleauth"
	"github.com/stratus-operator/stratus/test/faults"
	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/servers"
)

// The regions of the GCS target: the spec names another region than the
// provider configuration, so that the suite sees which one the driver uses.
const (
	gcsConfigRegion = "us-east1"
	gcsRegion       = "europe-west1"
)

// gcsTarget is the Cloud Storage driver against fake-gcs-server behind the
// test shim, a server of its own: injected faults answer whatever request
// comes next.
type gcsTarget struct {
	srv *servers.GCSServer
	// other is a token endpoint the shim does not trust: its keys are
	// refused credentials.
	other *googleauth.Server
	gcs   *storage.Client
}

func newGCSTarget(t *testing.T) *gcsTarget {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := servers.StartGCS(ctx, servers.GCSOptions{})
	if err != nil {
		t.Fatalf("start the Cloud Storage server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	other, err := googleauth.Start("stratus@" + srv.ProjectID + ".iam.gserviceaccount.com")
	if err != nil {
		t.Fatalf("start another token endpoint: %v", err)
	}
	t.Cleanup(other.Close)
	gcs, err := storage.NewClient(context.Background(),
		option.WithEndpoint(srv.Endpoint+"/storage/v1/"),
		option.WithAuthCredentialsJSON(option.ServiceAccount, srv.ServiceAccountJSON()),
		storage.WithDisabledClientMetrics())
	if err != nil {
		t.Fatalf("connect to the Cloud Storage server: %v", err)
	}
	t.Cleanup(func() { _ = gcs.Close() })
	return &gcsTarget{srv: srv, other: other, gcs: gcs}
}

func (*gcsTarget) Name() string { return "GCS" }
func (*gcsTarget) Kind() string { return "Bucket" }

// ProviderConfig points at the shim: the driver appends the JSON API's path
// to the endpoint.
func (g *gcsTarget) ProviderConfig() (stratusv1alpha1.ProviderConfigSpec, map[string][]byte) {
	return stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderGCP, Region: gcsConfigRegion, Endpoint: g.srv.Endpoint},
		map[string][]byte{gcp.KeyCredentialsJSON: g.srv.ServiceAccountJSON()}
}

// BadCredentials is a well-formed key of the same account, issued by a
// token endpoint the shim does not trust: its tokens are refused, as Cloud
// Storage refuses those of a deleted key.
func (g *gcsTarget) BadCredentials() map[string][]byte {
	return map[string][]byte{gcp.KeyCredentialsJSON: g.other.ServiceAccountJSON(g.srv.ProjectID)}
}

func (*gcsTarget) New(ns, name string, ref stratusv1alpha1.ProviderConfigReference) harness.Managed {
	days := int32(30)
	return &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: storagev1alpha1.BucketSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: ref},
			Region:              gcsRegion,
			Versioning:          storagev1alpha1.VersioningEnabled,
			Encryption:          &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged},
			PublicAccess:        storagev1alpha1.PublicAccessBlocked,
			Lifecycle:           []storagev1alpha1.LifecycleRule{{Name: "expire-logs", Prefix: "logs/", ExpirationDays: &days}},
			Labels:              map[string]string{"team": "platform", "env": "conformance"},
		},
	}
}

func (*gcsTarget) Mutations() []Mutation {
	bucket := func(f func(*storagev1alpha1.Bucket)) func(harness.Managed) {
		return func(o harness.Managed) { f(o.(*storagev1alpha1.Bucket)) }
	}
	days, noncurrent := int32(90), int32(7)
	return []Mutation{
		{"spec.versioning", bucket(func(b *storagev1alpha1.Bucket) { b.Spec.Versioning = storagev1alpha1.VersioningDisabled })},
		{"spec.encryption", bucket(func(b *storagev1alpha1.Bucket) {
			b.Spec.Encryption = &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged,
				KeyID: "projects/stratus-test/locations/" + gcsRegion + "/keyRings/conformance/cryptoKeys/buckets"}
		})},
		{"spec.publicAccess", bucket(func(b *storagev1alpha1.Bucket) { b.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed })},
		{"spec.lifecycle", bucket(func(b *storagev1alpha1.Bucket) {
			b.Spec.Lifecycle = []storagev1alpha1.LifecycleRule{{Name: "expire-all", ExpirationDays: &days, NoncurrentVersionExpirationDays: &noncurrent}}
		})},
		{"spec.labels", bucket(func(b *storagev1alpha1.Bucket) { b.Spec.Labels = map[string]string{"team": "data"} })},
	}
}

// Want describes the bucket a spec asks for in Cloud Storage's terms:
// locations upper-case; a lifecycle rule as one Delete rule per expiration,
// expirationDays on live objects only (Cloud Storage's age counts noncurrent
// versions too), noncurrentVersionExpirationDays as days since noncurrent,
// both limited to the prefix; Blocked as public access prevention enforced
// with uniform bucket-level access.
func (*gcsTarget) Want(o harness.Managed) map[string]string {
	b := o.(*storagev1alpha1.Bucket)
	enc := "ProviderManaged"
	if e := b.Spec.Encryption; e != nil && e.Mode == storagev1alpha1.EncryptionCustomerManaged {
		enc = "CustomerManaged:" + e.KeyID
	}
	var rules []string
	for _, r := range b.Spec.Lifecycle {
		prefix := ""
		if r.Prefix != "" {
			prefix = ":prefix=" + r.Prefix
		}
		if r.ExpirationDays != nil {
			rules = append(rules, fmt.Sprintf("Delete:age=%d:live%s", *r.ExpirationDays, prefix))
		}
		if r.NoncurrentVersionExpirationDays != nil {
			rules = append(rules, fmt.Sprintf("Delete:noncurrent=%d%s", *r.NoncurrentVersionExpirationDays, prefix))
		}
	}
	slices.Sort(rules)
	return map[string]string{
		"spec.region":       strings.ToUpper(b.Spec.Region),
		"spec.versioning":   string(b.Spec.Versioning),
		"spec.encryption":   enc,
		"spec.publicAccess": string(b.Spec.PublicAccess),
		"spec.lifecycle":    strings.Join(rules, ","),
		"spec.labels":       joinLabels(b.Spec.Labels),
	}
}

// gcsRule describes a Cloud Storage lifecycle rule the way Want describes
// a spec's, and marks whatever else it holds.
func gcsRule(r storage.LifecycleRule) string {
	s := r.Action.Type
	if r.Action.StorageClass != "" {
		s += ":to=" + r.Action.StorageClass
	}
	c := r.Condition
	if c.AgeInDays > 0 || c.AllObjects {
		s += fmt.Sprintf(":age=%d", c.AgeInDays)
	}
	switch {
	case c.Liveness == storage.Live:
		s += ":live"
	case c.Liveness == storage.Archived && c.DaysSinceNoncurrentTime == 0:
		// Days since noncurrent imply noncurrent versions.
		s += ":noncurrent-only"
	}
	if c.DaysSinceNoncurrentTime > 0 {
		s += fmt.Sprintf(":noncurrent=%d", c.DaysSinceNoncurrentTime)
	}
	if len(c.MatchesPrefix) > 0 {
		s += ":prefix=" + strings.Join(c.MatchesPrefix, "|")
	}
	if len(c.MatchesSuffix) > 0 || len(c.MatchesStorageClasses) > 0 || c.NumNewerVersions > 0 || c.DaysSinceCustomTime > 0 ||
		!c.CreatedBefore.IsZero() || !c.CustomTimeBefore.IsZero() || !c.NoncurrentTimeBefore.IsZero() {
		s += ":more-conditions"
	}
	return s
}

func (g *gcsTarget) Read(ctx context.Context, name string) (Cloud, error) {
	attrs, err := g.gcs.Bucket(name).Attrs(ctx)
	if errors.Is(err, storage.ErrBucketNotExist) {
		return Cloud{}, nil
	}
	if err != nil {
		return Cloud{}, err
	}
	f := map[string]string{"spec.region": attrs.Location, "spec.versioning": "Disabled", "spec.encryption": "ProviderManaged"}
	if attrs.VersioningEnabled {
		f["spec.versioning"] = "Enabled"
	}
	if e := attrs.Encryption; e != nil && e.DefaultKMSKeyName != "" {
		f["spec.encryption"] = "CustomerManaged:" + e.DefaultKMSKeyName
	}
	switch enforced := attrs.PublicAccessPrevention == storage.PublicAccessPreventionEnforced; {
	case enforced && attrs.UniformBucketLevelAccess.Enabled:
		f["spec.publicAccess"] = "Blocked"
	case enforced:
		f["spec.publicAccess"] = "PreventionWithoutUniformAccess"
	default:
		f["spec.publicAccess"] = "Allowed"
	}
	var rules []string
	for _, r := range attrs.Lifecycle.Rules {
		rules = append(rules, gcsRule(r))
	}
	slices.Sort(rules)
	f["spec.lifecycle"] = strings.Join(rules, ",")
	f["spec.labels"] = joinLabels(driver.WithoutOwnerKeys(attrs.Labels))
	return Cloud{Exists: true, Fields: f}, nil
}

func (g *gcsTarget) Tamper(ctx context.Context, name string) (string, error) {
	_, err := g.gcs.Bucket(name).Update(ctx, storage.BucketAttrsToUpdate{VersioningEnabled: false})
	return "spec.versioning", err
}

// CreateExternal creates a bucket with Cloud Storage's defaults, as a
// console user would, in the spec's location, which cannot change.
func (g *gcsTarget) CreateExternal(ctx context.Context, name string) error {
	return g.gcs.Bucket(name).Create(ctx, g.srv.ProjectID, &storage.BucketAttrs{Location: gcsRegion})
}

func (g *gcsTarget) Count(ctx context.Context, prefix string) (int, error) {
	it := g.gcs.Buckets(ctx, g.srv.ProjectID)
	it.Prefix = prefix
	n := 0
	for {
		b, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if strings.HasPrefix(b.Name, prefix) {
			n++
		}
	}
}

// InjectTransient answers the next requests with a Google API's 429
// rateLimitExceeded: more than the client library's own attempts absorb, so
// the operator sees it.
func (g *gcsTarget) InjectTransient(context.Context) error {
	g.srv.Faults.FailNext(4*gcp.DefaultMaxAttempts, faults.GoogleRateLimited)
	return nil
}
