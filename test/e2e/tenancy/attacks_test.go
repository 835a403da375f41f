package tenancy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"

	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/localenv"
)

// hostileBucket asks for everything that would hurt the victim: tags
// replaced, a 1-day expiration, objects destroyed on delete.
func hostileBucket(ns, name string, mutate ...func(*storagev1alpha1.Bucket)) *storagev1alpha1.Bucket {
	return bucket(ns, name, append([]func(*storagev1alpha1.Bucket){func(b *storagev1alpha1.Bucket) {
		b.Spec.ForceDestroy = true
		b.Spec.Labels = map[string]string{"owner": "mallory"}
		b.Spec.Lifecycle = []storagev1alpha1.LifecycleRule{{Name: "wipe", ExpirationDays: ptr.To[int32](1)}}
	}}, mutate...)...)
}

// refusedAndHarmless waits for the attacker's Bucket to be refused with
// reason, checks that the message does not name the victim's namespace,
// that the victim's bucket is unchanged, and that deleting the attacker's
// Bucket (forceDestroy) leaves the victim's bucket and objects alone.
func refusedAndHarmless(t *testing.T, tn tenants, attack *storagev1alpha1.Bucket, victimName string, before s3State, reason string) {
	t.Helper()
	msg := strings.ReplaceAll(waitCondition(t, attack, stratusv1alpha1.ConditionSynced, reason), victimName, "<the name asked for>")
	if strings.Contains(msg, tn.victimNS) {
		t.Errorf("the refusal names the victim's namespace %q to the attacker: %s", tn.victimNS, msg)
	}
	if seen := attack.Status.AtProvider; !reflect.DeepEqual(seen, storagev1alpha1.BucketObservation{}) {
		t.Errorf("the refused Bucket's status shows the victim's bucket: %+v", seen)
	}
	unchanged(t, victimName, before)
	deleteAs(t, tn.attacker, attack)
	unchanged(t, victimName, before)
}

// Attack 1: adopt another namespace's bucket by the external-name
// annotation, through the shared configuration.
func TestAdoptByExternalName(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	_, name := victimBucket(t, tn)
	before := readS3(t, name)
	attack := hostileBucket(tn.attackerNS, "grab", func(b *storagev1alpha1.Bucket) {
		b.Annotations = map[string]string{stratusv1alpha1.AnnotationExternalName: name}
	})
	create(t, tn.attacker, attack)
	refusedAndHarmless(t, tn, attack, name, before, stratusv1alpha1.ReasonNameConflict)
}

// Attack 2: the same through spec.bucketName.
func TestAdoptByBucketName(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	_, name := victimBucket(t, tn)
	before := readS3(t, name)
	attack := hostileBucket(tn.attackerNS, "grab", func(b *storagev1alpha1.Bucket) { b.Spec.BucketName = name })
	create(t, tn.attacker, attack)
	refusedAndHarmless(t, tn, attack, name, before, stratusv1alpha1.ReasonNameConflict)
}

// Attack 3: a create that comes back "already exists and yours" over a
// bucket another object owns. A proxy hides the victim's bucket from the
// attacker's first lookups, so the operator takes the create path and S3
// answers BucketAlreadyOwnedByYou (one account for every tenant).
func TestAmbiguousCreate(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	_, name := victimBucket(t, tn)
	before := readS3(t, name)

	target, err := url.Parse(h.Env.S3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var creates atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	hiding := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Trim(r.URL.Path, "/") == name {
			if r.Method == http.MethodPut && r.URL.RawQuery == "" {
				creates.Add(1)
			} else if creates.Load() == 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusNotFound)
				if r.Method == http.MethodGet {
					fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>%s</BucketName></Error>`, name)
				}
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(hiding.Close)
	cfg := sharedS3Config(t, strings.ToLower(t.Name()), hiding.URL, nil)

	attack := hostileBucket(tn.attackerNS, "grab", func(b *storagev1alpha1.Bucket) {
		b.Spec.BucketName = name
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: cfg}
	})
	create(t, tn.attacker, attack)
	waitCondition(t, attack, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonNameConflict)
	if creates.Load() == 0 {
		t.Fatal("the operator never sent CreateBucket: the test did not take the create path")
	}
	unchanged(t, name, before)
	deleteAs(t, tn.attacker, attack)
	unchanged(t, name, before)
}

// sharedS3Config creates, as the platform team, a ClusterProviderConfig for
// the local S3 account at endpoint, and returns its name.
func sharedS3Config(t *testing.T, name, endpoint string, mutate func(*stratusv1alpha1.ProviderConfigSpec)) string {
	t.Helper()
	name = strings.Trim(strings.NewReplacer("/", "-", "_", "-").Replace(name), "-")
	spec := stratusv1alpha1.ProviderConfigSpec{
		Provider: stratusv1alpha1.ProviderAWS,
		Region:   h.Env.S3.Region,
		Endpoint: endpoint,
		Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret,
			SecretRef: &stratusv1alpha1.SecretReference{Namespace: localenv.Namespace, Name: localenv.AWSProviderConfig + "-credentials"}},
	}
	if mutate != nil {
		mutate(&spec)
	}
	h.Create(t, &stratusv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec})
	return name
}

// Attack 4: a Ready Bucket's external name changed to the victim's bucket.
func TestExternalNameChangedOnReadyObject(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	_, name := victimBucket(t, tn)
	before := readS3(t, name)
	own := bucket(tn.attackerNS, "own", func(b *storagev1alpha1.Bucket) { b.Spec.ForceDestroy = true })
	create(t, tn.attacker, own)
	h.WaitReady(t, own)
	ownName := own.Annotations[stratusv1alpha1.AnnotationExternalName]
	for _, change := range []struct {
		what string
		to   *string
	}{{"changed to the victim's bucket", &name}, {"removed", nil}} {
		var err error
		for range 10 { // retried on write conflicts only
			if err = tn.attacker.Get(context.Background(), client.ObjectKeyFromObject(own), own); err != nil {
				t.Fatal(err)
			}
			if change.to == nil {
				delete(own.Annotations, stratusv1alpha1.AnnotationExternalName)
			} else {
				own.Annotations[stratusv1alpha1.AnnotationExternalName] = *change.to
			}
			if err = tn.attacker.Update(context.Background(), own); !apierrors.IsConflict(err) {
				break
			}
		}
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "immutable once set") {
			t.Fatalf("the external name %s on a Ready Bucket: got %v, want it refused at admission as immutable", change.what, err)
		}
	}
	unchanged(t, name, before)
	if err := tn.attacker.Get(context.Background(), client.ObjectKeyFromObject(own), own); err != nil {
		t.Fatal(err)
	}
	if err := harness.ConditionIs(own, stratusv1alpha1.ConditionReady, metav1.ConditionTrue, stratusv1alpha1.ReasonAvailable); err != nil || !readS3(t, ownName).Exists {
		t.Errorf("the attacker's own bucket %s is no longer managed: %v", ownName, err)
	}
}

// Attack 5: "team"/"a-logs" and "team-a"/"logs" must not share a bucket.
func TestNameCollision(t *testing.T) {
	t.Parallel()
	base := "collide"
	first, second := h.NamespaceNamed(t, base, nil), h.NamespaceNamed(t, base+"-a", nil)
	a := bucket(first, "a-logs")
	b := bucket(second, "logs")
	create(t, h.Tenant(t, first, "alice-collide"), a)
	create(t, h.Tenant(t, second, "mallory-collide"), b)
	h.WaitReady(t, a)
	h.WaitReady(t, b)
	na, nb := a.Annotations[stratusv1alpha1.AnnotationExternalName], b.Annotations[stratusv1alpha1.AnnotationExternalName]
	if na == nb {
		t.Fatalf("%s/%s and %s/%s share the bucket %q", first, a.Name, second, b.Name, na)
	}
	for _, c := range []struct {
		name, ns string
	}{{na, first}, {nb, second}} {
		if got := readS3(t, c.name).Tags[driver.OwnerNamespaceTag]; got != c.ns {
			t.Errorf("bucket %s is marked as namespace %q's, want %q", c.name, got, c.ns)
		}
	}
}

// Attack 6: a namespaced ProviderConfig naming the operator's credentials
// Secret in another namespace is refused by the API server.
func TestProviderConfigReadsAnotherNamespacesSecret(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	pc := &stratusv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: tn.attackerNS, Name: "stolen"},
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider: stratusv1alpha1.ProviderAWS, Region: h.Env.S3.Region,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret,
				SecretRef: &stratusv1alpha1.SecretReference{Namespace: localenv.Namespace, Name: localenv.AWSProviderConfig + "-credentials"}},
		},
	}
	err := tn.attacker.Create(context.Background(), pc)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "reads its Secret from its own namespace") {
		t.Fatalf("creating a ProviderConfig that names a Secret in %s: got %v, want it refused as invalid", localenv.Namespace, err)
	}
	// The attacker cannot read that Secret itself either.
	var s corev1.Secret
	if err := tn.attacker.Get(context.Background(), client.ObjectKey{Namespace: localenv.Namespace, Name: localenv.AWSProviderConfig + "-credentials"}, &s); !apierrors.IsForbidden(err) {
		t.Fatalf("the tenant reading the operator's Secret: got %v, want Forbidden", err)
	}
}

// Attack 7: the operator's own (Ambient) identity from a namespaced
// ProviderConfig.
func TestAmbientCredentialsFromNamespacedConfig(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	create(t, tn.attacker, &stratusv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: tn.attackerNS, Name: "ambient"},
		Spec: stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS, Region: h.Env.S3.Region,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient}},
	})
	attack := bucket(tn.attackerNS, "ambient", func(b *storagev1alpha1.Bucket) {
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindNamespaced, Name: "ambient"}
	})
	create(t, tn.attacker, attack)
	msg := waitCondition(t, attack, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonProviderConfigNotAllowed)
	if !strings.Contains(msg, stratusv1alpha1.LabelAllowAmbientCredentials) {
		t.Errorf("the refusal should say which namespace label allows it: %s", msg)
	}
	if readS3(t, registry.BucketName(tn.attackerNS, "ambient")).Exists {
		t.Error("a bucket was created with the operator's identity")
	}
}

// Attack 8: a namespaced ProviderConfig sending credentials to an endpoint
// of the tenant's choosing (here a listener standing for the metadata
// service or an attacker's server).
func TestEndpointFromNamespacedConfig(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	var requests atomic.Int32
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(listener.Close)
	create(t, tn.attacker, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tn.attackerNS, Name: "keys"},
		StringData: map[string]string{"aws_access_key_id": "AKIATENANT", "aws_secret_access_key": "tenant-secret"}})
	create(t, tn.attacker, &stratusv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: tn.attackerNS, Name: "exfiltrate"},
		Spec: stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS, Region: h.Env.S3.Region, Endpoint: listener.URL,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret, SecretRef: &stratusv1alpha1.SecretReference{Name: "keys"}}},
	})
	attack := bucket(tn.attackerNS, "exfiltrate", func(b *storagev1alpha1.Bucket) {
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindNamespaced, Name: "exfiltrate"}
	})
	create(t, tn.attacker, attack)
	waitCondition(t, attack, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonProviderConfigNotAllowed)
	if n := requests.Load(); n != 0 {
		t.Errorf("the operator made %d requests to the tenant's endpoint", n)
	}
}

// Attack 9: a ClusterProviderConfig that does not allow the namespace.
func TestClusterConfigNotAllowed(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	cfg := sharedS3Config(t, "payments-only", h.Env.S3.Endpoint, func(s *stratusv1alpha1.ProviderConfigSpec) {
		s.AllowedNamespaces = &stratusv1alpha1.NamespacePolicy{From: stratusv1alpha1.NamespacesFromSelector,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "payments"}}}
	})
	attack := bucket(tn.attackerNS, "borrowed", func(b *storagev1alpha1.Bucket) {
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: cfg}
	})
	create(t, tn.attacker, attack)
	msg := waitCondition(t, attack, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonProviderConfigNotAllowed)
	if !strings.Contains(msg, cfg) {
		t.Errorf("the refusal should name the configuration %q: %s", cfg, msg)
	}
	if readS3(t, registry.BucketName(tn.attackerNS, "borrowed")).Exists {
		t.Error("a bucket was created through a configuration the namespace may not use")
	}
}

// Attack 10: another tenant's PostgreSQL owner role as spec.owner.
func TestPostgresOwnerOfAnotherTenant(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	victim := database(tn.victimNS, "orders", func(d *databasev1alpha1.Database) {
		d.Spec.WriteConnectionSecretToRef = &stratusv1alpha1.LocalSecretReference{Name: "orders-db"}
	})
	create(t, tn.victim, victim)
	h.WaitReady(t, victim)
	conn := secretData(t, tn.victimNS, "orders-db")
	role := string(conn["user"])
	pg := pgAdmin(t)
	before := roleState(t, pg, role)

	attack := database(tn.attackerNS, "steal", func(d *databasev1alpha1.Database) { d.Spec.Owner = role })
	create(t, tn.attacker, attack)
	msg := waitCondition(t, attack, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonInvalidSpec)
	if strings.Contains(msg, tn.victimNS) {
		t.Errorf("the refusal names the victim's namespace: %s", msg)
	}
	harness.Eventually(t, "the victim still logs in with its password", func() error { return logIn(string(conn["uri"])) })
	if after := roleState(t, pg, role); after != before {
		t.Errorf("the victim's role %s changed:\nbefore %s\nafter  %s", role, before, after)
	}
	deleteAs(t, tn.attacker, attack)
	if err := logIn(string(conn["uri"])); err != nil {
		t.Errorf("after the attacker's Database was deleted, the victim cannot log in: %v", err)
	}
}

// Attack 11: the server's superuser as spec.owner.
func TestSuperuserAsOwner(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	pg := pgAdmin(t)
	before := roleState(t, pg, h.Env.Postgres.User)
	attack := database(tn.attackerNS, "root", func(d *databasev1alpha1.Database) { d.Spec.Owner = h.Env.Postgres.User })
	create(t, tn.attacker, attack)
	waitCondition(t, attack, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonInvalidSpec)
	if after := roleState(t, pg, h.Env.Postgres.User); after != before {
		t.Errorf("the superuser %s changed:\nbefore %s\nafter  %s", h.Env.Postgres.User, before, after)
	}
	if err := pg.Ping(context.Background()); err != nil {
		t.Errorf("the admin can no longer use the server: %v", err)
	}
}

// Attack 12: another tenant's PostgreSQL database by spec.databaseName.
func TestAdoptByDatabaseName(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	victim := database(tn.victimNS, "ledger", func(d *databasev1alpha1.Database) {
		d.Spec.WriteConnectionSecretToRef = &stratusv1alpha1.LocalSecretReference{Name: "ledger-db"}
	})
	create(t, tn.victim, victim)
	h.WaitReady(t, victim)
	dbName := victim.Annotations[stratusv1alpha1.AnnotationExternalName]
	conn := secretData(t, tn.victimNS, "ledger-db")
	pg := pgAdmin(t)
	owner := func() string {
		var o string
		if err := pg.QueryRow(context.Background(), "SELECT pg_get_userbyid(datdba) || ' ' || coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1", dbName).Scan(&o); err != nil {
			t.Fatalf("read database %s: %v", dbName, err)
		}
		return o
	}
	before := owner()

	attack := database(tn.attackerNS, "grab", func(d *databasev1alpha1.Database) { d.Spec.DatabaseName = dbName })
	create(t, tn.attacker, attack)
	waitCondition(t, attack, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonNameConflict)
	deleteAs(t, tn.attacker, attack)
	if after := owner(); after != before {
		t.Errorf("the victim's database changed:\nbefore %s\nafter  %s", before, after)
	}
	if err := logIn(string(conn["uri"])); err != nil {
		t.Errorf("the victim cannot log in to its database: %v", err)
	}
}

// Attack 13: a bucket deleted behind the operator's back is reported, not
// silently recreated empty.
func TestDeletedOutOfBand(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	b, name := victimBucket(t, tn)
	ctx := context.Background()
	if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String("precious.txt")}); err != nil {
		t.Fatal(err)
	}
	versions, err := s3c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions.Versions {
		_, _ = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: v.Key, VersionId: v.VersionId})
	}
	for _, m := range versions.DeleteMarkers {
		_, _ = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: m.Key, VersionId: m.VersionId})
	}
	if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("delete the bucket out of band: %v", err)
	}
	waitCondition(t, b, stratusv1alpha1.ConditionReady, stratusv1alpha1.ReasonExternalResourceMissing)
	h.WaitEvent(t, b, "Bucket", "ExternalResourceMissing")
	if st := readS3(t, name); st.Exists {
		t.Error("the bucket was recreated empty")
	}
	unchanged(t, name, s3State{})
}

// Attack 14: the operator's record in status is its own: a tenant cannot
// write status.
func TestTenantCannotWriteStatus(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	b := bucket(tn.attackerNS, "forged")
	create(t, tn.attacker, b)
	h.WaitReady(t, b)
	harness.Eventually(t, "try to forge the record", func() error {
		if err := tn.attacker.Get(context.Background(), client.ObjectKeyFromObject(b), b); err != nil {
			return err
		}
		b.Status.ExternalResource.Name = "someone-elses"
		err := tn.attacker.Status().Update(context.Background(), b)
		if apierrors.IsForbidden(err) {
			return nil
		}
		return fmt.Errorf("status update by the tenant: got %v, want Forbidden", err)
	})
}

// The platform team's adoption still works: a ClusterProviderConfig that
// lets one namespace adopt, an unowned bucket, and the annotation.
func TestPlatformAdoption(t *testing.T) {
	t.Parallel()
	tn := newTenants(t)
	cfg := sharedS3Config(t, "adopting", h.Env.S3.Endpoint, func(s *stratusv1alpha1.ProviderConfigSpec) {
		s.Adoption = &stratusv1alpha1.NamespacePolicy{From: stratusv1alpha1.NamespacesFromSelector,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": tn.victimNS}}}
	})
	legacy := "legacy-" + strings.ReplaceAll(tn.victimNS, "-victim", "")
	if len(legacy) > 63 {
		legacy = legacy[:63]
	}
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(legacy)}); err != nil {
		t.Fatalf("create an unowned bucket: %v", err)
	}
	ref := stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: cfg}
	adopt := func(ns string) *storagev1alpha1.Bucket {
		return bucket(ns, "legacy", func(b *storagev1alpha1.Bucket) {
			b.Annotations = map[string]string{stratusv1alpha1.AnnotationExternalName: legacy}
			b.Spec.ProviderConfigRef = ref
		})
	}
	// The namespace not named by the configuration may not adopt it.
	refused := adopt(tn.attackerNS)
	create(t, tn.attacker, refused)
	waitCondition(t, refused, stratusv1alpha1.ConditionSynced, stratusv1alpha1.ReasonAdoptionNotAllowed)
	if st := readS3(t, legacy); len(st.Tags) != 0 {
		t.Errorf("the refused adoption wrote tags: %v", st.Tags)
	}
	deleteAs(t, tn.attacker, refused)

	adopted := adopt(tn.victimNS)
	create(t, tn.victim, adopted)
	h.WaitReady(t, adopted)
	h.WaitEvent(t, adopted, "Bucket", "AdoptedExternalResource")
	if got := readS3(t, legacy).Tags[driver.OwnerNamespaceTag]; got != tn.victimNS {
		t.Errorf("the adopted bucket is marked as namespace %q's, want %q", got, tn.victimNS)
	}
}
