package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/test/harness"
)

// postgresTarget is the PostgreSQL driver against a real server, through an
// admin role that is not a superuser (as on managed services), so that a
// connection limit can throttle it.
type postgresTarget struct {
	h       *harness.Harness
	admin   *pgx.Conn // superuser, for the test's own reads and writes
	version string
}

// operatorRole is the role the operator connects as in the suite.
const (
	operatorRole     = "stratus_conformance"
	operatorPassword = "conformance-admin-password"
)

func newPostgresTarget(t *testing.T, h *harness.Harness) *postgresTarget {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.Env.Postgres.DSN())
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB CREATEROLE PASSWORD '%s'", operatorRole, operatorPassword)); err != nil {
		t.Fatalf("create the operator's role: %v", err)
	}
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		t.Fatal(err)
	}
	return &postgresTarget{h: h, admin: conn, version: fmt.Sprint(num / 10000)}
}

func (*postgresTarget) Name() string { return "PostgreSQL" }
func (*postgresTarget) Kind() string { return "Database" }

func (p *postgresTarget) ProviderConfig() (stratusv1alpha1.ProviderConfigSpec, map[string][]byte) {
	return stratusv1alpha1.ProviderConfigSpec{
			Provider: stratusv1alpha1.ProviderPostgreSQL,
			PostgreSQL: &stratusv1alpha1.PostgreSQLConnection{
				Host: p.h.Env.Postgres.Host, Port: int32(p.h.Env.Postgres.Port), SSLMode: "disable", AdminDatabase: "postgres",
			},
		},
		map[string][]byte{"username": []byte(operatorRole), "password": []byte(operatorPassword)}
}

func (*postgresTarget) BadCredentials() map[string][]byte {
	return map[string][]byte{"username": []byte(operatorRole), "password": []byte("not-the-password-0123456789")}
}

func (p *postgresTarget) New(ns, name string, ref stratusv1alpha1.ProviderConfigReference) harness.Managed {
	return &databasev1alpha1.Database{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: databasev1alpha1.DatabaseSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: ref},
			Engine:              databasev1alpha1.EnginePostgres,
			EngineVersion:       p.version,
			Owner:               roleName(ns, name, "app"),
		},
	}
}

// roleName is a short role name unique to one object.
func roleName(ns, name, suffix string) string {
	sum := sha256.Sum256([]byte(ns + "/" + name))
	return "r_" + hex.EncodeToString(sum[:])[:10] + "_" + suffix
}

func (*postgresTarget) Mutations() []Mutation {
	return []Mutation{{"spec.owner", func(o harness.Managed) {
		d := o.(*databasev1alpha1.Database)
		d.Spec.Owner = roleName(d.Namespace, d.Name, "owner2")
	}}}
}

func (p *postgresTarget) Want(o harness.Managed) map[string]string {
	d := o.(*databasev1alpha1.Database)
	return map[string]string{"spec.owner": d.Spec.Owner, "spec.engineVersion": d.Spec.EngineVersion}
}

func (p *postgresTarget) Read(ctx context.Context, name string) (Cloud, error) {
	var owner string
	err := p.admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&owner)
	if err == pgx.ErrNoRows {
		return Cloud{}, nil
	}
	if err != nil {
		return Cloud{}, err
	}
	return Cloud{Exists: true, Fields: map[string]string{"spec.owner": owner, "spec.engineVersion": p.version}}, nil
}

// Tamper hands the database to the operator's own admin role, as someone
// holding that role might: a change the operator can undo.
func (p *postgresTarget) Tamper(ctx context.Context, name string) (string, error) {
	_, err := p.admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER TO "+operatorRole)
	return "spec.owner", err
}

// CreateExternal creates a database as the operator's admin account would
// have, before Stratus managed it.
func (p *postgresTarget) CreateExternal(ctx context.Context, name string) error {
	_, err := p.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+operatorRole)
	return err
}

func (p *postgresTarget) Count(ctx context.Context, prefix string) (int, error) {
	var n int
	like := strings.NewReplacer(`\`, `\\`, "_", `\_`, "%", `\%`).Replace(prefix) + "%"
	err := p.admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", like).Scan(&n)
	return n, err
}

// InjectTransient refuses the operator's connections for a few seconds, as
// a server at its connection limit does (SQLSTATE 53300), and drops the
// ones it has.
func (p *postgresTarget) InjectTransient(ctx context.Context) error {
	if _, err := p.admin.Exec(ctx, "ALTER ROLE "+operatorRole+" CONNECTION LIMIT 0"); err != nil {
		return err
	}
	if _, err := p.admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", operatorRole); err != nil {
		return err
	}
	go func() {
		time.Sleep(3 * time.Second)
		conn, err := pgx.Connect(context.Background(), p.h.Env.Postgres.DSN())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "ALTER ROLE "+operatorRole+" CONNECTION LIMIT -1")
	}()
	return nil
}
