package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/api/option"
	sqladmin "google.golang.org/api/sqladmin/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/gcp"
	"github.com/stratus-operator/stratus/test/fakes/cloudsql"
	"github.com/stratus-operator/stratus/test/fakes/googleauth"
	"github.com/stratus-operator/stratus/test/harness"
)

// The regions of the Cloud SQL target: the spec names another region than
// the provider configuration (and than Cloud SQL's default), so that the
// suite sees which one the driver uses.
const (
	cloudsqlConfigRegion = "us-central1"
	cloudsqlRegion       = "europe-west1"
)

// cloudsqlOwner is the owner user the target's Databases ask for.
const cloudsqlOwner = "app_owner"

// cloudsqlTarget is the Cloud SQL driver against the protocol-faithful
// Cloud SQL Admin API fake, whose operations take its default delay: the
// operator must report the instance being created, then Ready.
type cloudsqlTarget struct {
	fake *cloudsql.Server
	// other is a token endpoint the fake does not trust: its keys are
	// refused credentials.
	other *googleauth.Server
	sql   *sqladmin.Service
}

func newCloudSQLTarget(t *testing.T) *cloudsqlTarget {
	t.Helper()
	fake, err := cloudsql.Start()
	if err != nil {
		t.Fatalf("start the Cloud SQL fake: %v", err)
	}
	t.Cleanup(fake.Close)
	other, err := googleauth.Start(fake.Auth.Email)
	if err != nil {
		t.Fatalf("start another token endpoint: %v", err)
	}
	t.Cleanup(other.Close)
	svc, err := sqladmin.NewService(context.Background(),
		option.WithAuthCredentialsJSON(option.ServiceAccount, fake.ServiceAccountJSON()),
		option.WithScopes("https://www.googleapis.com/auth/cloud-platform"),
		option.WithEndpoint(fake.Endpoint+"/"))
	if err != nil {
		t.Fatalf("connect to the Cloud SQL fake: %v", err)
	}
	return &cloudsqlTarget{fake: fake, other: other, sql: svc}
}

func (*cloudsqlTarget) Name() string { return "CloudSQL" }
func (*cloudsqlTarget) Kind() string { return "Database" }

func (c *cloudsqlTarget) ProviderConfig() (stratusv1alpha1.ProviderConfigSpec, map[string][]byte) {
	return stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderGCP, Region: cloudsqlConfigRegion, Endpoint: c.fake.Endpoint},
		map[string][]byte{gcp.KeyCredentialsJSON: c.fake.ServiceAccountJSON()}
}

// BadCredentials is a well-formed key of the same account, issued by a
// token endpoint the fake does not trust: its tokens are refused, as Cloud
// SQL refuses those of a deleted key.
func (c *cloudsqlTarget) BadCredentials() map[string][]byte {
	return map[string][]byte{gcp.KeyCredentialsJSON: c.other.ServiceAccountJSON(c.fake.ProjectID)}
}

// New asks for a public instance: one without a public address needs a
// private network, which the operator under test is not configured with.
func (*cloudsqlTarget) New(ns, name string, ref stratusv1alpha1.ProviderConfigReference) harness.Managed {
	return &databasev1alpha1.Database{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: databasev1alpha1.DatabaseSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: ref},
			Engine:              databasev1alpha1.EnginePostgres,
			EngineVersion:       "16",
			Owner:               cloudsqlOwner,
			Region:              cloudsqlRegion,
			SizeClass:           databasev1alpha1.SizeSmall,
			StorageGB:           ptr(int32(20)),
			BackupRetentionDays: ptr(int32(7)),
			HighAvailability:    ptr(false),
			StorageEncrypted:    ptr(true),
			PubliclyAccessible:  ptr(true),
			DeletionProtection:  false,
		},
	}
}

// Mutations change every field Cloud SQL can change in place. Deletion
// protection is turned on and off again, so that the object can then be
// deleted; publiclyAccessible cannot become false without a private
// network.
func (*cloudsqlTarget) Mutations() []Mutation {
	db := func(f func(*databasev1alpha1.Database)) func(harness.Managed) {
		return func(o harness.Managed) { f(o.(*databasev1alpha1.Database)) }
	}
	return []Mutation{
		{"spec.engineVersion", db(func(d *databasev1alpha1.Database) { d.Spec.EngineVersion = "17" })},
		{"spec.sizeClass", db(func(d *databasev1alpha1.Database) { d.Spec.SizeClass = databasev1alpha1.SizeMedium })},
		{"spec.storageGB", db(func(d *databasev1alpha1.Database) { d.Spec.StorageGB = ptr(int32(40)) })},
		{"spec.backupRetentionDays", db(func(d *databasev1alpha1.Database) { d.Spec.BackupRetentionDays = ptr(int32(14)) })},
		{"spec.highAvailability", db(func(d *databasev1alpha1.Database) { d.Spec.HighAvailability = ptr(true) })},
		{"spec.deletionProtection", db(func(d *databasev1alpha1.Database) { d.Spec.DeletionProtection = true })},
		{"spec.deletionProtection", db(func(d *databasev1alpha1.Database) { d.Spec.DeletionProtection = false })},
	}
}

// cloudsqlClasses is the size class each tier stands for: the mapping the
// driver must apply, written out independently.
var cloudsqlClasses = map[string]string{
	"db-custom-1-3840": "Small", "db-custom-2-7680": "Medium", "db-custom-4-15360": "Large", "db-custom-8-30720": "XLarge",
}

func (*cloudsqlTarget) Want(o harness.Managed) map[string]string {
	d := o.(*databasev1alpha1.Database)
	return map[string]string{
		"spec.engine":              string(d.Spec.Engine),
		"spec.engineVersion":       d.Spec.EngineVersion,
		"spec.owner":               d.Spec.Owner,
		"spec.region":              d.Spec.Region,
		"spec.sizeClass":           string(d.Spec.SizeClass),
		"spec.storageGB":           fmt.Sprint(*d.Spec.StorageGB),
		"spec.backupRetentionDays": fmt.Sprint(*d.Spec.BackupRetentionDays),
		"spec.highAvailability":    fmt.Sprint(*d.Spec.HighAvailability),
		"spec.storageEncrypted":    fmt.Sprint(*d.Spec.StorageEncrypted),
		"spec.publiclyAccessible":  fmt.Sprint(*d.Spec.PubliclyAccessible),
		"spec.deletionProtection":  fmt.Sprint(d.Spec.DeletionProtection),
	}
}

// instanceName is the Cloud SQL instance of an external name.
func instanceName(name string) string { return strings.ReplaceAll(name, "_", "-") }

// Read reads the instance as the fake holds it (the settings of an
// operation show once it is done), and whether the owner user the target
// asks for exists with a password.
func (c *cloudsqlTarget) Read(_ context.Context, name string) (Cloud, error) {
	in, ok := c.fake.Instance(instanceName(name))
	if !ok || in.State == cloudsql.StatePendingDelete {
		return Cloud{}, nil
	}
	engine, version, _ := strings.Cut(in.DatabaseVersion, "_")
	f := map[string]string{
		"spec.engine":        strings.ToLower(engine),
		"spec.engineVersion": strings.ReplaceAll(version, "_", "."),
		"spec.region":        in.Region,
		// Cloud SQL encrypts every instance at rest.
		"spec.storageEncrypted": "true",
	}
	if s := in.Settings; s != nil {
		f["spec.sizeClass"] = s.Tier
		if class, ok := cloudsqlClasses[s.Tier]; ok {
			f["spec.sizeClass"] = class
		}
		f["spec.storageGB"] = fmt.Sprint(s.DataDiskSizeGb)
		f["spec.backupRetentionDays"] = "0"
		if b := s.BackupConfiguration; b != nil && b.Enabled && b.BackupRetentionSettings != nil {
			f["spec.backupRetentionDays"] = fmt.Sprint(b.BackupRetentionSettings.RetainedBackups)
		}
		f["spec.highAvailability"] = fmt.Sprint(s.AvailabilityType == "REGIONAL")
		f["spec.publiclyAccessible"] = fmt.Sprint(s.IpConfiguration != nil && s.IpConfiguration.Ipv4Enabled)
		f["spec.deletionProtection"] = fmt.Sprint(s.DeletionProtectionEnabled)
	}
	if password, ok := c.fake.UserPassword(in.Name, cloudsqlOwner); ok && password != "" {
		f["spec.owner"] = cloudsqlOwner
	}
	return Cloud{Exists: true, Fields: f}, nil
}

// Tamper keeps a single backup, as someone with access to the project
// might.
func (c *cloudsqlTarget) Tamper(ctx context.Context, name string) (string, error) {
	_, err := c.sql.Instances.Patch(c.fake.ProjectID, instanceName(name), &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
		BackupConfiguration: &sqladmin.BackupConfiguration{Enabled: true,
			BackupRetentionSettings: &sqladmin.BackupRetentionSettings{RetainedBackups: 1, RetentionUnit: "COUNT"}},
	}}).Context(ctx).Do()
	return "spec.backupRetentionDays", err
}

// CreateExternal creates an instance with Cloud SQL's defaults, as a
// console user would: a shared-core tier of the Enterprise edition, in the
// spec's region, which cannot change, and of its engine.
func (c *cloudsqlTarget) CreateExternal(ctx context.Context, name string) error {
	_, err := c.sql.Instances.Insert(c.fake.ProjectID, &sqladmin.DatabaseInstance{
		Name: instanceName(name), DatabaseVersion: "POSTGRES_16", Region: cloudsqlRegion,
		Settings: &sqladmin.Settings{Tier: "db-f1-micro", Edition: "ENTERPRISE"},
	}).Context(ctx).Do()
	return err
}

// Count counts the instance named after prefix: the fake has no
// instances.list, and Cloud SQL instance names are unique in a project, so
// a second create of the same name is refused rather than counted.
func (c *cloudsqlTarget) Count(_ context.Context, prefix string) (int, error) {
	if _, ok := c.fake.Instance(instanceName(prefix)); ok {
		return 1, nil
	}
	return 0, nil
}

// InjectTransient answers the next calls with Cloud SQL's 429
// rateLimitExceeded. The sqladmin client does not retry: each reaches the
// operator, which retries with its own backoff.
func (c *cloudsqlTarget) InjectTransient(context.Context) error {
	c.fake.ThrottleNext(3)
	return nil
}
