package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/test/harness"
)

// tenants are a victim and an attacker: two namespaces of one cluster, each
// with a user holding only its own namespace's rights.
type tenants struct {
	victimNS, attackerNS string
	victim, attacker     client.Client
}

// newTenants creates the two namespaces and users of a test.
func newTenants(t *testing.T) tenants {
	t.Helper()
	base := strings.Trim(strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	tn := tenants{victimNS: h.NamespaceNamed(t, base+"-victim", nil), attackerNS: h.NamespaceNamed(t, base+"-attacker", nil)}
	tn.victim = h.Tenant(t, tn.victimNS, "alice-"+base)
	tn.attacker = h.Tenant(t, tn.attackerNS, "mallory-"+base)
	return tn
}

// create creates obj as the user c, failing the test if refused.
func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s/%s: %v", obj.GetNamespace(), obj.GetName(), err)
	}
}

func bucket(ns, name string, mutate ...func(*storagev1alpha1.Bucket)) *storagev1alpha1.Bucket {
	b := &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       storagev1alpha1.BucketSpec{ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: awsShared}},
	}
	for _, m := range mutate {
		m(b)
	}
	return b
}

func database(ns, name string, mutate ...func(*databasev1alpha1.Database)) *databasev1alpha1.Database {
	d := &databasev1alpha1.Database{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       databasev1alpha1.DatabaseSpec{ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: pgShared}},
	}
	for _, m := range mutate {
		m(d)
	}
	return d
}

// victimBucket makes the victim's Bucket, Ready, holding an object, and
// returns it with its name in the cloud.
func victimBucket(t *testing.T, tn tenants) (*storagev1alpha1.Bucket, string) {
	t.Helper()
	b := bucket(tn.victimNS, "data", func(b *storagev1alpha1.Bucket) {
		b.Spec.Versioning = storagev1alpha1.VersioningEnabled
		b.Spec.Labels = map[string]string{"team": "victim"}
	})
	create(t, tn.victim, b)
	h.WaitReady(t, b)
	name := b.Annotations[stratusv1alpha1.AnnotationExternalName]
	if _, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String("precious.txt"), Body: strings.NewReader("data")}); err != nil {
		t.Fatalf("put an object in the victim's bucket: %v", err)
	}
	return b, name
}

// s3State is what the S3 server holds for a bucket, to compare before and
// after an attack.
type s3State struct {
	Exists     bool
	Versioning string
	Tags       map[string]string
	Lifecycle  string
	Objects    []string
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// readS3 reads a bucket with a plain S3 client.
func readS3(t *testing.T, name string) s3State {
	t.Helper()
	ctx := context.Background()
	var st s3State
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}); err != nil {
		if c := apiCode(err); c == "NotFound" || c == "NoSuchBucket" {
			return st
		}
		t.Fatalf("head bucket %s: %v", name, err)
	}
	st.Exists = true
	v, err := s3c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("versioning of %s: %v", name, err)
	}
	st.Versioning = string(v.Status)
	tags, err := s3c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)})
	switch {
	case err == nil:
		st.Tags = map[string]string{}
		for _, tag := range tags.TagSet {
			st.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
	case apiCode(err) != "NoSuchTagSet":
		t.Fatalf("tags of %s: %v", name, err)
	}
	lc, err := s3c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(name)})
	if err == nil {
		b, _ := json.Marshal(lc.Rules)
		st.Lifecycle = string(b)
	} else {
		st.Lifecycle = apiCode(err)
	}
	objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("objects of %s: %v", name, err)
	}
	for _, o := range objs.Contents {
		st.Objects = append(st.Objects, aws.ToString(o.Key))
	}
	return st
}

// unchanged fails the test when the bucket differs from before, after
// waiting two poll intervals, so that a late reconcile would be seen.
func unchanged(t *testing.T, name string, before s3State) {
	t.Helper()
	time.Sleep(2 * harness.PollInterval)
	after := readS3(t, name)
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	if string(a) != string(b) {
		t.Errorf("the victim's bucket %s changed:\nbefore %s\nafter  %s", name, b, a)
	}
}

// waitCondition waits until obj's condition has reason, and returns its
// message.
func waitCondition(t *testing.T, obj harness.Managed, typ string, reason string) string {
	t.Helper()
	h.WaitFor(t, obj, fmt.Sprintf("%s %s/%s", obj.GetName(), typ, reason), func() error {
		return harness.ConditionIs(obj, typ, metav1.ConditionFalse, reason)
	})
	return harness.ConditionMessage(obj, typ)
}

// deleteAs deletes obj as the user c and waits until it is gone.
func deleteAs(t *testing.T, c client.Client, obj harness.Managed) {
	t.Helper()
	if err := c.Delete(context.Background(), obj); err != nil {
		t.Fatalf("delete %s: %v", obj.GetName(), err)
	}
	h.WaitGone(t, obj)
}

// pgAdmin connects to PostgreSQL as the platform's admin.
func pgAdmin(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), h.Env.Postgres.DSN())
	if err != nil {
		t.Fatalf("connect to PostgreSQL as admin: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// secretData reads a Secret as the admin.
func secretData(t *testing.T, ns, name string) map[string][]byte {
	t.Helper()
	var s corev1.Secret
	if err := h.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatalf("get secret %s/%s: %v", ns, name, err)
	}
	return s.Data
}

// logIn logs in to PostgreSQL with a connection Secret's uri.
func logIn(uri string) error {
	conn, err := pgx.Connect(context.Background(), uri)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(context.Background())
}

// roleState is what PostgreSQL holds for a role.
func roleState(t *testing.T, conn *pgx.Conn, role string) string {
	t.Helper()
	var state string
	err := conn.QueryRow(context.Background(), `SELECT concat_ws(',', rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword, coalesce(shobj_description(oid, 'pg_authid'), ''))
		FROM pg_authid WHERE rolname = $1`, role).Scan(&state)
	if err != nil {
		t.Fatalf("read role %s: %v", role, err)
	}
	return state
}
