package e2e

import (
	"context"
	"fmt"
	"github.com/stratus-operator/stratus/test/harness"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/registry"
)

func newDatabase(ns, name string, mutate ...func(*databasev1alpha1.Database)) *databasev1alpha1.Database {
	d := &databasev1alpha1.Database{
		TypeMeta:   metav1.TypeMeta{APIVersion: databasev1alpha1.GroupVersion.String(), Kind: "Database"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: databasev1alpha1.DatabaseSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: pgProvider},
		},
	}
	for _, m := range mutate {
		m(d)
	}
	return d
}

// admin runs a query on the PostgreSQL server as its superuser.
func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), h.Env.Postgres.DSN())
	if err != nil {
		t.Fatalf("connect to PostgreSQL as admin: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// databaseOwner returns the owner of a database, or "" when it does not exist.
func databaseOwner(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var owner string
	err := conn.QueryRow(context.Background(), "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&owner)
	if err == pgx.ErrNoRows {
		return ""
	}
	if err != nil {
		t.Fatalf("read owner of %s: %v", name, err)
	}
	return owner
}

func roleExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", name).Scan(&n); err != nil {
		t.Fatalf("look up role %s: %v", name, err)
	}
	return n == 1
}

// TestDatabaseLifecycle: create → database and owner role exist and the
// connection Secret lets a client log in; out-of-band owner change →
// drift corrected; deletion protection blocks deletion; delete → gone.
func TestDatabaseLifecycle(t *testing.T) {
	ns := h.Namespace(t)
	d := newDatabase(ns, "orders", func(d *databasev1alpha1.Database) {
		d.Spec.WriteConnectionSecretToRef = &stratusv1alpha1.LocalSecretReference{Name: "orders-db"}
		d.Spec.DeletionProtection = true
	})
	h.Create(t, d)
	h.WaitReady(t, d)
	name := registry.DatabaseName(ns, "orders")
	owner := name + "_owner"
	pg := admin(t)
	if got := databaseOwner(t, pg, name); got != owner {
		t.Fatalf("database %s owner = %q, want %q", name, got, owner)
	}

	secret := secretData(t, ns, "orders-db")
	for _, k := range []string{"host", "port", "user", "password", "database", "uri"} {
		if len(secret[k]) == 0 {
			t.Errorf("connection secret lacks %q; has %v", k, keys(secret))
		}
	}
	app, err := pgx.Connect(context.Background(), string(secret["uri"]))
	if err != nil {
		t.Fatalf("log in with the connection secret's uri: %v", err)
	}
	if _, err := app.Exec(context.Background(), "CREATE TABLE orders (id int primary key); INSERT INTO orders VALUES (1)"); err != nil {
		t.Fatalf("use the database as its owner: %v", err)
	}
	_ = app.Close(context.Background())

	// Out-of-band change of the owner: drift, corrected.
	if _, err := pg.Exec(context.Background(), fmt.Sprintf("ALTER DATABASE %s OWNER TO postgres", pgx.Identifier{name}.Sanitize())); err != nil {
		t.Fatalf("change owner out of band: %v", err)
	}
	h.WaitEvent(t, d, "Database", "DriftDetected")
	harness.Eventually(t, "owner restored", func() error {
		if got := databaseOwner(t, pg, name); got != owner {
			return fmt.Errorf("owner is %q", got)
		}
		return nil
	})

	// Deletion protection blocks the deletion; nothing is lost.
	h.Delete(t, d)
	h.WaitFor(t, d, "deletion blocked", func() error {
		return harness.ConditionIs(d, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonDeletionBlocked)
	})
	if got := databaseOwner(t, pg, name); got == "" {
		t.Fatalf("database %s was dropped despite deletionProtection", name)
	}
	if msg := harness.ConditionMessage(d, stratusv1alpha1.ConditionReady); !strings.Contains(msg, "deletionProtection") {
		t.Errorf("DeletionBlocked message %q does not say how to proceed", msg)
	}
	harness.Update(t, h, d, func(d *databasev1alpha1.Database) { d.Spec.DeletionProtection = false })
	h.WaitGone(t, d)
	if got := databaseOwner(t, pg, name); got != "" {
		t.Errorf("database %s still exists after deletion", name)
	}
	if roleExists(t, pg, owner) {
		t.Errorf("owner role %s the operator created still exists after deletion", owner)
	}
}

// TestDatabaseOrphanKeepsCredentials: with no connection Secret named, the
// generated password goes to <name>-connection; Orphan keeps the database
// and that Secret, now free of the deleted object.
func TestDatabaseOrphanKeepsCredentials(t *testing.T) {
	ns := h.Namespace(t)
	d := newDatabase(ns, "ledger", func(d *databasev1alpha1.Database) {
		d.Spec.DeletionPolicy = stratusv1alpha1.DeletionOrphan
		d.Spec.Owner = "ledger_app"
	})
	h.Create(t, d)
	h.WaitReady(t, d)
	secret := secretData(t, ns, "ledger-connection")
	if string(secret["user"]) != "ledger_app" || len(secret["password"]) < 16 {
		t.Fatalf("default connection secret has user %q and a %d-byte password", secret["user"], len(secret["password"]))
	}
	h.Delete(t, d)
	h.WaitGone(t, d)
	pg := admin(t)
	if got := databaseOwner(t, pg, registry.DatabaseName(ns, "ledger")); got != "ledger_app" {
		t.Errorf("orphaned database owner = %q, want ledger_app still there", got)
	}
	s, err := getSecret(ns, "ledger-connection")
	if err != nil {
		t.Fatalf("the orphaned database's credentials were deleted: %v", err)
	}
	if len(s.OwnerReferences) != 0 {
		t.Errorf("kept secret still has owner references %v: garbage collection would delete it", s.OwnerReferences)
	}
	app, err := pgx.Connect(context.Background(), string(s.Data["uri"]))
	if err != nil {
		t.Fatalf("log in to the orphaned database with the kept secret: %v", err)
	}
	_ = app.Close(context.Background())
}

// TestDatabaseFieldNotHonoured: a portable field the PostgreSQL provider
// cannot honour is refused with a clear condition, not ignored.
func TestDatabaseFieldNotHonoured(t *testing.T) {
	ns := h.Namespace(t)
	d := newDatabase(ns, "big", func(d *databasev1alpha1.Database) { d.Spec.SizeClass = databasev1alpha1.SizeLarge })
	h.Create(t, d)
	h.WaitFor(t, d, "refused", func() error {
		return harness.ConditionIs(d, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonInvalidSpec)
	})
	if msg := harness.ConditionMessage(d, stratusv1alpha1.ConditionSynced); !strings.Contains(msg, "sizeClass") {
		t.Errorf("message %q does not name spec.sizeClass", msg)
	}
	if got := databaseOwner(t, admin(t), registry.DatabaseName(ns, "big")); got != "" {
		t.Errorf("a database was created for a refused spec")
	}
}
