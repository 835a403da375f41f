package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	rdsfake "github.com/stratus-operator/stratus/test/fakes/rds"
	"github.com/stratus-operator/stratus/test/harness"
)

const rdsRegion = "us-east-1"

// rdsTarget is the RDS driver against the protocol-faithful RDS fake.
type rdsTarget struct {
	fake *rdsfake.Server
	rds  *rds.Client
}

func newRDSTarget(t *testing.T) *rdsTarget {
	t.Helper()
	fake, err := rdsfake.Start()
	if err != nil {
		t.Fatalf("start the RDS fake: %v", err)
	}
	t.Cleanup(fake.Close)
	return &rdsTarget{fake: fake, rds: rds.New(rds.Options{
		Region: rdsRegion, BaseEndpoint: aws.String(fake.URL),
		Credentials: credentials.NewStaticCredentialsProvider(rdsfake.DefaultAccessKeyID, rdsfake.DefaultSecretAccessKey, ""),
	})}
}

func (*rdsTarget) Name() string { return "RDS" }
func (*rdsTarget) Kind() string { return "Database" }

func (r *rdsTarget) ProviderConfig() (stratusv1alpha1.ProviderConfigSpec, map[string][]byte) {
	return stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS, Region: rdsRegion, Endpoint: r.fake.URL},
		map[string][]byte{"aws_access_key_id": []byte(rdsfake.DefaultAccessKeyID), "aws_secret_access_key": []byte(rdsfake.DefaultSecretAccessKey)}
}

func (*rdsTarget) BadCredentials() map[string][]byte {
	return map[string][]byte{"aws_access_key_id": []byte(rdsfake.DefaultAccessKeyID), "aws_secret_access_key": []byte("not-the-secret-key-0123456789")}
}

func (*rdsTarget) New(ns, name string, ref stratusv1alpha1.ProviderConfigReference) harness.Managed {
	return &databasev1alpha1.Database{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: databasev1alpha1.DatabaseSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: ref},
			Engine:              databasev1alpha1.EnginePostgres,
			EngineVersion:       "16",
			Region:              rdsRegion,
			SizeClass:           databasev1alpha1.SizeSmall,
			StorageGB:           ptr(int32(20)),
			BackupRetentionDays: ptr(int32(7)),
			HighAvailability:    ptr(false),
			StorageEncrypted:    ptr(true),
			PubliclyAccessible:  ptr(false),
		},
	}
}

func ptr[T any](v T) *T { return &v }

func (*rdsTarget) Mutations() []Mutation {
	db := func(f func(*databasev1alpha1.Database)) func(harness.Managed) {
		return func(o harness.Managed) { f(o.(*databasev1alpha1.Database)) }
	}
	return []Mutation{
		{"spec.sizeClass", db(func(d *databasev1alpha1.Database) { d.Spec.SizeClass = databasev1alpha1.SizeMedium })},
		{"spec.storageGB", db(func(d *databasev1alpha1.Database) { d.Spec.StorageGB = ptr(int32(40)) })},
		{"spec.backupRetentionDays", db(func(d *databasev1alpha1.Database) { d.Spec.BackupRetentionDays = ptr(int32(14)) })},
		{"spec.highAvailability", db(func(d *databasev1alpha1.Database) { d.Spec.HighAvailability = ptr(true) })},
		{"spec.publiclyAccessible", db(func(d *databasev1alpha1.Database) { d.Spec.PubliclyAccessible = ptr(true) })},
	}
}

// rdsClasses is the size class each instance class stands for: the
// mapping the driver must apply, written out independently.
var rdsClasses = map[string]string{"db.t4g.small": "Small", "db.m6g.large": "Medium", "db.m6g.xlarge": "Large", "db.m6g.2xlarge": "XLarge"}

func (*rdsTarget) Want(o harness.Managed) map[string]string {
	d := o.(*databasev1alpha1.Database)
	return map[string]string{
		"spec.engine":              string(d.Spec.Engine),
		"spec.engineVersion":       d.Spec.EngineVersion,
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

// identifier is the RDS instance identifier of an external name.
func identifier(name string) string { return strings.ReplaceAll(strings.ToLower(name), "_", "-") }

func (r *rdsTarget) Read(_ context.Context, name string) (Cloud, error) {
	in, ok := r.fake.Instance(rdsRegion, identifier(name))
	if !ok || in.Status == "deleting" {
		return Cloud{}, nil
	}
	return Cloud{Exists: true, Fields: map[string]string{
		"spec.engine":              in.Engine,
		"spec.engineVersion":       strings.SplitN(in.EngineVersion, ".", 2)[0],
		"spec.region":              in.Region,
		"spec.sizeClass":           rdsClasses[in.Class],
		"spec.storageGB":           fmt.Sprint(in.AllocatedStorage),
		"spec.backupRetentionDays": fmt.Sprint(in.BackupRetentionPeriod),
		"spec.highAvailability":    fmt.Sprint(in.MultiAZ),
		"spec.storageEncrypted":    fmt.Sprint(in.StorageEncrypted),
		"spec.publiclyAccessible":  fmt.Sprint(in.PubliclyAccessible),
		"spec.deletionProtection":  fmt.Sprint(in.DeletionProtection),
	}}, nil
}

func (r *rdsTarget) Tamper(ctx context.Context, name string) (string, error) {
	_, err := r.rds.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(identifier(name)), BackupRetentionPeriod: aws.Int32(1), ApplyImmediately: aws.Bool(true),
	})
	return "spec.backupRetentionDays", err
}

// CreateExternal creates an instance with RDS's defaults, as a console user
// would, with the master user the driver expects.
func (r *rdsTarget) CreateExternal(ctx context.Context, name string) error {
	_, err := r.rds.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(identifier(name)), Engine: aws.String("postgres"), EngineVersion: aws.String("16"),
		DBInstanceClass: aws.String("db.t4g.micro"), AllocatedStorage: aws.Int32(20), DBName: aws.String(name),
		MasterUsername: aws.String("stratus_admin"), MasterUserPassword: aws.String("created-outside-stratus-1"),
		StorageEncrypted: aws.Bool(true),
	})
	return err
}

func (r *rdsTarget) Count(_ context.Context, prefix string) (int, error) {
	n := 0
	for _, id := range r.fake.Instances(rdsRegion) {
		if strings.HasPrefix(id, identifier(prefix)) {
			n++
		}
	}
	return n, nil
}

// InjectTransient answers the next calls with RDS's 400 Throttling.
func (r *rdsTarget) InjectTransient(context.Context) error {
	r.fake.ThrottleNext(12)
	return nil
}
