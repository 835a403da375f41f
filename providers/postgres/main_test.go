package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/test/servers"
)

// pg is the PostgreSQL server every test in the package shares; each test
// uses databases and roles of its own names.
var pg *servers.PostgresServer

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot start PostgreSQL for the tests: %v\n", err)
		os.Exit(1)
	}
	pg = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

type dbClient = driver.Client[*databasev1alpha1.Database]

// config is a provider configuration for the test server as user.
func config(user, password string) driver.Config {
	return driver.Config{
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider: stratusv1alpha1.ProviderPostgreSQL,
			Credentials: stratusv1alpha1.Credentials{
				Source:    stratusv1alpha1.CredentialsSourceSecret,
				SecretRef: &stratusv1alpha1.SecretReference{Name: "postgres-admin"},
			},
			PostgreSQL: &stratusv1alpha1.PostgreSQLConnection{
				Host:          pg.Host,
				Port:          int32(pg.Port),
				SSLMode:       "disable",
				AdminDatabase: "postgres",
			},
		},
		Credentials: map[string][]byte{
			CredentialsUsernameKey: []byte(user),
			CredentialsPasswordKey: []byte(password),
		},
	}
}

// superuserConfig is a provider configuration with the server's superuser.
func superuserConfig() driver.Config { return config(pg.User, pg.Password) }

// connectClient connects a client with cfg and closes it when t ends.
func connectClient(t *testing.T, cfg driver.Config) dbClient {
	t.Helper()
	c, err := NewDatabaseDriver().Connect(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Connect(...): %v", err)
	}
	t.Cleanup(func() { _ = c.(io.Closer).Close() })
	return c
}

// bg is a context for helpers that also run in cleanups, after t.Context()
// is canceled.
func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// adminConn is a superuser session on the admin database, closed when t ends.
func adminConn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(bg(t), pg.DSN())
	if err != nil {
		t.Fatalf("connect as superuser: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// admin runs statements as the superuser.
func admin(t *testing.T, stmts ...string) {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(bg(t), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// newDatabase returns a Database with a unique uid.
func newDatabase(name string, mutate ...func(*databasev1alpha1.Database)) *databasev1alpha1.Database {
	db := &databasev1alpha1.Database{
		ObjectMeta: metav1.ObjectMeta{Namespace: "test", Name: name, UID: types.UID(rand.Text())},
		Spec: databasev1alpha1.DatabaseSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
				ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Name: "postgres"},
			},
			Engine: databasev1alpha1.EnginePostgres,
		},
	}
	for _, m := range mutate {
		m(db)
	}
	return db
}

// testCluster is the cluster of the owners of the tests' requests.
const testCluster = "test-cluster"

// ownerOf is the identity of db, as the reconciler makes it.
func ownerOf(db *databasev1alpha1.Database) driver.Owner {
	return driver.Owner{Cluster: testCluster, Namespace: db.Namespace, Name: db.Name, UID: string(db.UID)}
}

// newRequest asks about db, named externalName on the server, with password
// in the connection Secret when it is not empty.
func newRequest(db *databasev1alpha1.Database, externalName, password string) driver.Request[*databasev1alpha1.Database] {
	req := driver.Request[*databasev1alpha1.Database]{Object: db, ExternalName: externalName, Owner: ownerOf(db)}
	if password != "" {
		req.Connection = driver.ConnectionDetails{driver.ConnectionPassword: []byte(password)}
	}
	return req
}

// newPassword generates a password the way the reconciler does, with the
// driver's registration.
func newPassword(t *testing.T, _ dbClient) string {
	t.Helper()
	creds, err := NewDatabaseDriver().GenerateCredentials()
	if err != nil {
		t.Fatalf("GenerateCredentials(): %v", err)
	}
	return string(creds[driver.ConnectionPassword])
}

// databaseOwner returns the owner of database name, and whether it exists.
func databaseOwner(t *testing.T, name string) (string, bool) {
	t.Helper()
	var owner string
	err := adminConn(t).QueryRow(bg(t), `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false
	}
	if err != nil {
		t.Fatalf("read database %q: %v", name, err)
	}
	return owner, true
}

// roleExists reports whether role name exists.
func roleExists(t *testing.T, name string) bool {
	t.Helper()
	var exists bool
	if err := adminConn(t).QueryRow(bg(t), `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		t.Fatalf("read role %q: %v", name, err)
	}
	return exists
}

// loginAndCreateTable logs in with a connection URI, as an application
// would, and creates a table.
func loginAndCreateTable(t *testing.T, uri, table string) {
	t.Helper()
	conn := connectURI(t, uri)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "CREATE TABLE "+pgx.Identifier{table}.Sanitize()+" (id int)"); err != nil {
		t.Fatalf("create table %q as the owner: %v", table, err)
	}
}

// deleteEventually deletes, retrying while a session that just closed is
// still leaving the database, as the reconciler would.
func deleteEventually(t *testing.T, c dbClient, req driver.Request[*databasev1alpha1.Database]) error {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.Delete(t.Context(), req)
		if err == nil || !strings.Contains(err.Error(), "in use") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverMajor is the test server's major version.
func serverMajor(t *testing.T) string {
	t.Helper()
	var num int
	if err := adminConn(t).QueryRow(bg(t), `SELECT current_setting('server_version_num')::int`).Scan(&num); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(num / 10000)
}

// connectURI opens a session with a connection URI, closed when t ends.
func connectURI(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), uri)
	if err != nil {
		t.Fatalf("log in with the connection details' uri: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
