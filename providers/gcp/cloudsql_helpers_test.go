package gcp

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"google.golang.org/api/option"
	sqladmin "google.golang.org/api/sqladmin/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/test/fakes/cloudsql"
)

// The Cloud SQL tests run the driver, through the real sqladmin client and
// Google credential code, against the fake Cloud SQL Admin API of package
// test/fakes/cloudsql. Each test starts its own fake, whose operations
// advance only when the test settles them, unless it says otherwise.

// sqlTestRegion is the region of the test provider configuration.
const sqlTestRegion = "europe-west1"

// sqlTestNetwork is the private network the tests configure.
const sqlTestNetwork = "projects/stratus-test/global/networks/default"

type sqlDBClient = driver.Client[*databasev1alpha1.Database]

type sqlDBRequest = driver.Request[*databasev1alpha1.Database]

// sqlStartFake starts a fake Cloud SQL Admin API for t.
func sqlStartFake(t *testing.T, opts ...cloudsql.Option) *cloudsql.Server {
	t.Helper()
	s, err := cloudsql.Start(append([]cloudsql.Option{cloudsql.WithManualOperations()}, opts...)...)
	if err != nil {
		t.Fatalf("start the fake Cloud SQL Admin API: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// sqlTestConfig is a provider configuration for the fake with a
// service-account key.
func sqlTestConfig(s *cloudsql.Server, key []byte) driver.Config {
	return driver.Config{
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider: stratusv1alpha1.ProviderGCP,
			Region:   sqlTestRegion,
			Endpoint: s.Endpoint,
			Credentials: stratusv1alpha1.Credentials{
				Source:    stratusv1alpha1.CredentialsSourceSecret,
				SecretRef: &stratusv1alpha1.SecretReference{Name: "gcp"},
			},
		},
		Credentials: map[string][]byte{KeyCredentialsJSON: key},
	}
}

// sqlTestConnect connects the driver to the fake with its own key.
func sqlTestConnect(t *testing.T, s *cloudsql.Server, opts ...CloudSQLOption) sqlDBClient {
	t.Helper()
	c, err := NewDatabaseDriver(opts...).Connect(t.Context(), sqlTestConfig(s, s.ServiceAccountJSON()))
	if err != nil {
		t.Fatalf("Connect(...): %v", err)
	}
	return c
}

// sqlTestAdmin is a plain Cloud SQL Admin client of its own, to check and
// change instances behind the driver's back.
func sqlTestAdmin(t *testing.T, s *cloudsql.Server) *sqladmin.Service {
	t.Helper()
	svc, err := sqladmin.NewService(context.Background(),
		option.WithAuthCredentialsJSON(option.ServiceAccount, s.ServiceAccountJSON()),
		option.WithScopes(scopeCloudPlatform),
		option.WithEndpoint(s.Endpoint+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// sqlTestDatabase returns a postgres Database with a unique uid.
func sqlTestDatabase(name string, mutate ...func(*databasev1alpha1.Database)) *databasev1alpha1.Database {
	db := &databasev1alpha1.Database{
		ObjectMeta: metav1.ObjectMeta{Namespace: "test", Name: name, UID: types.UID(strings.ToLower(rand.Text()))},
		Spec: databasev1alpha1.DatabaseSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{
				ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Name: "gcp"},
			},
			Engine: databasev1alpha1.EnginePostgres,
		},
	}
	for _, m := range mutate {
		m(db)
	}
	return db
}

// sqlTestCluster is the cluster of the owners of the test requests.
const sqlTestCluster = "test-cluster"

// sqlTestOwner is the owner the reconciler names for db.
func sqlTestOwner(db *databasev1alpha1.Database) driver.Owner {
	return driver.Owner{Cluster: sqlTestCluster, Namespace: db.Namespace, Name: db.Name, UID: string(db.UID)}
}

// sqlTestRequest asks about db as the reconciler would: the external name
// is "test_<name>", the region the spec's, else the configuration's, and
// the owner db.
func sqlTestRequest(db *databasev1alpha1.Database, password string) sqlDBRequest {
	region := db.Spec.Region
	if region == "" {
		region = sqlTestRegion
	}
	req := sqlDBRequest{Object: db, ExternalName: "test_" + db.Name, Region: region, Owner: sqlTestOwner(db)}
	if password != "" {
		req.Connection = driver.ConnectionDetails{driver.ConnectionPassword: []byte(password)}
	}
	return req
}

// sqlTestInstanceName is the instance name of a Database of sqlTestRequest.
func sqlTestInstanceName(db *databasev1alpha1.Database) string {
	return "test-" + strings.ReplaceAll(db.Name, "_", "-")
}

// sqlTestPassword generates a password the way the reconciler does, with
// the driver's registration.
func sqlTestPassword(t *testing.T, _ sqlDBClient) string {
	t.Helper()
	creds, err := NewDatabaseDriver().GenerateCredentials()
	if err != nil {
		t.Fatalf("GenerateCredentials(): %v", err)
	}
	return string(creds[driver.ConnectionPassword])
}

// sqlTestReady brings a Database to available and up to date the way the
// reconciler would, settling the fake's operations between the calls, and
// returns the last observation. The instance must match the spec from the
// start: only the database and the owner are created afterwards.
func sqlTestReady(t *testing.T, s *cloudsql.Server, c sqlDBClient, req sqlDBRequest) driver.Observation {
	t.Helper()
	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	for range 10 {
		s.Settle()
		obs, err := c.Observe(t.Context(), req)
		if err != nil {
			t.Fatalf("Observe(...): %v", err)
		}
		if obs.Available && obs.UpToDate() {
			return obs
		}
		for _, d := range obs.Drift {
			// A new instance has the settings of the spec from the start.
			if d.Field != sqlFieldDatabaseName && d.Field != sqlFieldOwner {
				t.Fatalf("Observe(...) of a new instance reports drift of %s: %+v", d.Field, d)
			}
		}
		if !obs.UpToDate() {
			if _, err := c.Update(t.Context(), req); err != nil {
				t.Fatalf("Update(...): %v", err)
			}
		}
	}
	t.Fatalf("the database is not available after 10 rounds")
	return driver.Observation{}
}

// sqlReadBack is what a plain client reads of an instance's portable
// settings.
type sqlReadBack struct {
	Version            string
	Region             string
	Edition            string
	Tier               string
	DiskGB             int64
	Availability       string
	Backups            bool
	RetainedBackups    int64
	DeletionProtection bool
	PublicIP           bool
	SSLMode            string
}

// sqlTestRead reads an instance back with a plain client.
func sqlTestRead(t *testing.T, svc *sqladmin.Service, s *cloudsql.Server, name string) sqlReadBack {
	t.Helper()
	in, err := svc.Instances.Get(s.ProjectID, name).Do()
	if err != nil {
		t.Fatalf("instances.get %q: %v", name, err)
	}
	st := in.Settings
	rb := sqlReadBack{
		Version:            in.DatabaseVersion,
		Region:             in.Region,
		Edition:            st.Edition,
		Tier:               st.Tier,
		DiskGB:             st.DataDiskSizeGb,
		Availability:       st.AvailabilityType,
		DeletionProtection: st.DeletionProtectionEnabled,
	}
	if b := st.BackupConfiguration; b != nil {
		rb.Backups = b.Enabled
		if b.Enabled && b.BackupRetentionSettings != nil {
			rb.RetainedBackups = b.BackupRetentionSettings.RetainedBackups
		}
	}
	if ip := st.IpConfiguration; ip != nil {
		rb.PublicIP, rb.SSLMode = ip.Ipv4Enabled, ip.SslMode
	}
	return rb
}

// sqlDefaultReadBack is the read-back of an instance of a Database that
// sets nothing.
func sqlDefaultReadBack() sqlReadBack {
	return sqlReadBack{
		Version: "POSTGRES_16", Region: sqlTestRegion, Edition: "ENTERPRISE", Tier: "db-custom-1-3840", DiskGB: 20,
		Availability: "ZONAL", Backups: true, RetainedBackups: 7, PublicIP: true, SSLMode: "ENCRYPTED_ONLY",
	}
}

func sqlBool(b bool) *bool    { return &b }
func sqlInt32(i int32) *int32 { return &i }
