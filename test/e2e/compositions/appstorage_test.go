package compositions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/test/harness"
)

// TestAppStorage: the AppStorage definition is served within seconds; an
// instance gets a real bucket and database, becomes Ready, and its
// connection Secret lets a client log in; deleting it deletes the database
// before the bucket, and everything is gone.
func TestAppStorage(t *testing.T) {
	def := loadDefinition(t, "appstorage")
	applyDefinition(t, def)
	if took := waitServed(t, def); took > 20*time.Second {
		t.Errorf("definition served after %s, want within seconds", took)
	}
	if want := []string{"bucket", "db"}; !slices.Equal(def.Status.Order, want) {
		t.Errorf("status.order = %v, want %v", def.Status.Order, want)
	}
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(crdGVK)
	crd.SetName("appstorages.platform.example.com")
	if !exists(t, crd) {
		t.Fatalf("no CRD %s", crd.GetName())
	}
	cats, _, _ := unstructured.NestedStringSlice(crd.Object, "spec", "names", "categories")
	if !slices.Contains(cats, "composite") {
		t.Errorf("CRD categories = %v, want composite among them", cats)
	}

	ns := h.Namespace(t)
	app := loadInstance(t, "appstorage", ns)
	// Deletion protection would keep the database; this test deletes it.
	if err := unstructured.SetNestedField(app.Object, false, "spec", "database", "deletionProtection"); err != nil {
		t.Fatal(err)
	}
	if err := h.Client.Create(context.Background(), app); err != nil {
		t.Fatalf("create AppStorage: %v", err)
	}

	bucket := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders-bucket"}}
	db := &databasev1alpha1.Database{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders-db"}}
	h.WaitReady(t, bucket)
	h.WaitReady(t, db)
	waitCompositeReady(t, app)
	h.WaitEvent(t, app, "AppStorage", "CreatedComposedResource")
	if ref := metav1.GetControllerOf(db); ref == nil || ref.UID != app.GetUID() {
		t.Errorf("database controller = %+v, want the AppStorage", ref)
	}
	for field, want := range map[string]string{"bucketName": bucket.Status.AtProvider.Name, "databaseName": db.Status.AtProvider.Name} {
		if got, _, _ := unstructured.NestedString(app.Object, "status", field); got != want || got == "" {
			t.Errorf("status.%s = %q, want %q", field, got, want)
		}
	}
	if !bucketExists(bucket.Status.AtProvider.Name) {
		t.Errorf("bucket %s does not exist in S3", bucket.Status.AtProvider.Name)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orders-connection"}}
	harness.Eventually(t, "connection Secret complete", func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(secret), secret); err != nil {
			return err
		}
		for _, k := range []string{"bucket-name", "bucket-endpoint", "database-host", "database-port", "database-user", "database-password", "database-uri"} {
			if len(secret.Data[k]) == 0 {
				return fmt.Errorf("no key %s yet", k)
			}
		}
		return nil
	})
	conn, err := pgx.Connect(context.Background(), string(secret.Data["database-uri"]))
	if err != nil {
		t.Fatalf("log in with the connection Secret's database-uri: %v", err)
	}
	var current string
	if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&current); err != nil {
		t.Fatalf("query as the application: %v", err)
	}
	_ = conn.Close(context.Background())
	if current != string(secret.Data["database-user"]) {
		t.Errorf("logged in as %q, want %q", current, secret.Data["database-user"])
	}

	t.Run("DeleteInReverseOrder", func(t *testing.T) {
		bucketName, dbName := bucket.Status.AtProvider.Name, db.Status.AtProvider.Name
		if err := h.Client.Delete(context.Background(), app); err != nil {
			t.Fatalf("delete AppStorage: %v", err)
		}
		// Record the order in which the children go, and that the bucket
		// is not even marked for deletion while the database exists.
		var gone []string
		deadline := time.Now().Add(harness.Patience)
		for len(gone) < 2 && time.Now().Before(deadline) {
			dbExists := exists(t, db)
			if !dbExists && !slices.Contains(gone, "db") {
				gone = append(gone, "db")
			}
			b := &storagev1alpha1.Bucket{ObjectMeta: bucket.ObjectMeta}
			bucketThere := exists(t, b)
			if bucketThere && b.DeletionTimestamp != nil && dbExists {
				t.Fatalf("the bucket is being deleted while the database exists")
			}
			if !bucketThere && !slices.Contains(gone, "bucket") {
				gone = append(gone, "bucket")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if want := []string{"db", "bucket"}; !slices.Equal(gone, want) {
			t.Fatalf("children deleted in order %v, want %v", gone, want)
		}
		waitGone(t, app)
		waitGone(t, &corev1.Secret{ObjectMeta: secret.ObjectMeta})
		if bucketExists(bucketName) {
			t.Errorf("bucket %s still exists in S3 (deletionPolicy defaults to Delete)", bucketName)
		}
		pg, err := pgx.Connect(context.Background(), h.Env.Postgres.DSN())
		if err != nil {
			t.Fatalf("connect to PostgreSQL as admin: %v", err)
		}
		defer func() { _ = pg.Close(context.Background()) }()
		var n int
		if err := pg.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists", dbName)
		}
	})
}

// TestInvalidDefinition: an expression that refers to a field the spec
// schema does not declare makes the definition invalid, with the place in
// the message, and no CRD is installed.
func TestInvalidDefinition(t *testing.T) {
	def := loadDefinition(t, "appstorage")
	def.Name = "badstorages.invalid.example.com"
	def.Spec.Group = "invalid.example.com"
	def.Spec.Names.Kind, def.Spec.Names.Plural, def.Spec.Names.ShortNames = "BadStorage", "badstorages", nil
	raw := strings.Replace(string(def.Spec.Resources[0].Template.Raw), "${spec.team}", "${spec.nosuchfield}", 1)
	if raw == string(def.Spec.Resources[0].Template.Raw) {
		t.Fatalf("the bucket template has no ${spec.team}: %s", raw)
	}
	def.Spec.Resources[0].Template.Raw = []byte(raw)
	applyDefinition(t, def)
	t.Cleanup(func() { _ = h.Client.Delete(context.Background(), def) })

	harness.Eventually(t, def.Name+" Valid=False", func() error {
		if err := h.Client.Get(context.Background(), client.ObjectKeyFromObject(def), def); err != nil {
			return err
		}
		for _, c := range def.Status.Conditions {
			if c.Type == "Valid" && c.Status == metav1.ConditionFalse {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", def.Status.Conditions)
	})
	var valid metav1.Condition
	for _, c := range def.Status.Conditions {
		if c.Type == "Valid" {
			valid = c
		}
	}
	if valid.Reason != "InvalidDefinition" {
		t.Errorf("Valid reason = %q, want InvalidDefinition", valid.Reason)
	}
	if want := "resources[0] (bucket) template .spec.labels.team: undefined field 'nosuchfield'"; !strings.Contains(valid.Message, want) {
		t.Errorf("Valid message = %q, want it to contain %q", valid.Message, want)
	}
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(crdGVK)
	crd.SetName("badstorages.invalid.example.com")
	if exists(t, crd) {
		t.Errorf("CRD %s exists for an invalid definition", crd.GetName())
	}
}
