// Package localenv runs the whole local environment of Stratus on one
// machine: a real kube-apiserver and etcd with the CRDs, a real S3 server
// (versitygw behind the test shim), a real PostgreSQL server, the Cloud
// Storage emulator (fake-gcs-server behind its shim), and the RDS and
// Cloud SQL fakes, plus the Secrets and ClusterProviderConfigs that point at
// them: one endpoint per cloud, as a real account has one set of
// credentials. `stratus dev` and the tests use it.
package localenv

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/test/controlplane"
	"github.com/stratus-operator/stratus/test/fakes/cloudsql"
	rdsfake "github.com/stratus-operator/stratus/test/fakes/rds"
	"github.com/stratus-operator/stratus/test/servers"
)

// Names of what Install creates.
const (
	// Namespace holds the credentials Secrets.
	Namespace = "stratus-system"
	// AWSProviderConfig is the ClusterProviderConfig of the local AWS: the
	// S3 server and the RDS fake.
	AWSProviderConfig = "local-aws"
	// GCPProviderConfig is the ClusterProviderConfig of the local Google
	// Cloud: the Cloud Storage emulator and the Cloud SQL fake.
	GCPProviderConfig = "local-gcp"
	// PostgreSQLProviderConfig is the ClusterProviderConfig of the local
	// PostgreSQL server.
	PostgreSQLProviderConfig = "local-postgres"
)

// Env is a running local environment.
type Env struct {
	ControlPlane *controlplane.ControlPlane
	S3           *servers.S3Server
	Postgres     *servers.PostgresServer
	GCS          *servers.GCSServer
	// RDS is the RDS fake, reached through AWSEndpoint.
	RDS *rdsfake.Handler
	// CloudSQL is the Cloud SQL fake, reached through GCPEndpoint.
	CloudSQL *cloudsql.Fake
	// AWSEndpoint serves S3 and RDS; GCPEndpoint serves Cloud Storage and
	// Cloud SQL with the key of GCS.ServiceAccountJSON.
	AWSEndpoint, GCPEndpoint string

	fronts []*front
}

// Start starts the control plane, the S3 server and PostgreSQL. On error it
// stops whatever it started.
func Start(ctx context.Context) (*Env, error) { return StartWith(ctx, Options{}) }

// Options configure the local environment.
type Options struct {
	// ControlPlane configures the API server, for example to install the
	// webhooks.
	ControlPlane controlplane.Options
}

// StartWith starts the local environment with opts.
func StartWith(ctx context.Context, opts Options) (*Env, error) {
	env := &Env{}
	var err error
	if env.S3, err = servers.StartS3(ctx, servers.S3Options{}); err != nil {
		return nil, err
	}
	if env.Postgres, err = servers.StartPostgres(ctx, servers.PostgresOptions{}); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if env.GCS, err = servers.StartGCS(ctx, servers.GCSOptions{}); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if err := env.startFronts(); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if env.ControlPlane, err = controlplane.StartWith(opts.ControlPlane); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	return env, nil
}

// startFronts starts the RDS and Cloud SQL fakes and one endpoint per cloud.
func (e *Env) startFronts() error {
	e.RDS = rdsfake.New(rdsfake.WithCredentials(e.S3.AccessKey, e.S3.SecretKey))
	s3, err := proxyTo(e.S3.Endpoint)
	if err != nil {
		return err
	}
	aws, err := startFront(awsFront(s3, e.RDS))
	if err != nil {
		return err
	}
	e.fronts, e.AWSEndpoint = append(e.fronts, aws), aws.URL

	e.CloudSQL = cloudsql.New(cloudsql.WithProjectID(e.GCS.ProjectID))
	storage, err := proxyTo(e.GCS.Endpoint)
	if err != nil {
		return err
	}
	gcp, err := startFront(gcpFront(storage, e.GCS.Auth.Require(e.CloudSQL)))
	if err != nil {
		return err
	}
	e.fronts, e.GCPEndpoint = append(e.fronts, gcp), gcp.URL
	return nil
}

// Stop stops everything that runs.
func (e *Env) Stop() error {
	var errs []error
	if e.ControlPlane != nil {
		errs = append(errs, e.ControlPlane.Stop())
	}
	for _, f := range e.fronts {
		errs = append(errs, f.close())
	}
	if e.GCS != nil {
		errs = append(errs, e.GCS.Stop())
	}
	if e.Postgres != nil {
		errs = append(errs, e.Postgres.Stop())
	}
	if e.S3 != nil {
		errs = append(errs, e.S3.Stop())
	}
	return errors.Join(errs...)
}

// ClusterConfig references one of the local ClusterProviderConfigs
// (AWSProviderConfig, GCPProviderConfig, PostgreSQLProviderConfig).
func ClusterConfig(name string) stratusv1alpha1.ProviderConfigReference {
	return stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: name}
}

// AdoptionLabel, AdoptionAllowed on a namespace, lets it adopt through the
// local configurations cloud resources no Stratus object owns: the platform
// team's choice. Install labels the default namespace, where examples/
// lives (examples/observe-only); no other namespace has it unless a test
// gives it.
const (
	AdoptionLabel   = "local.stratus.dev/adoption"
	AdoptionAllowed = "allowed"
)

var adoptFromDefault = &stratusv1alpha1.NamespacePolicy{
	From:     stratusv1alpha1.NamespacesFromSelector,
	Selector: &metav1.LabelSelector{MatchLabels: map[string]string{AdoptionLabel: AdoptionAllowed}},
}

// Install creates the namespace, the credentials Secrets and the
// ClusterProviderConfigs local-aws, local-gcp and local-postgres. It may
// run again.
func (e *Env) Install(ctx context.Context, c client.Client) error {
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: AWSProviderConfig + "-credentials"},
			StringData: map[string]string{"aws_access_key_id": e.S3.AccessKey, "aws_secret_access_key": e.S3.SecretKey},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: GCPProviderConfig + "-credentials"},
			Data:       map[string][]byte{"credentials.json": e.GCS.ServiceAccountJSON()},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: PostgreSQLProviderConfig + "-credentials"},
			StringData: map[string]string{"username": e.Postgres.User, "password": e.Postgres.Password},
		},
		&stratusv1alpha1.ClusterProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Name: AWSProviderConfig},
			Spec: stratusv1alpha1.ProviderConfigSpec{
				Provider: stratusv1alpha1.ProviderAWS,
				Region:   e.S3.Region,
				Endpoint: e.AWSEndpoint,
				Adoption: adoptFromDefault,
				Credentials: stratusv1alpha1.Credentials{
					Source:    stratusv1alpha1.CredentialsSourceSecret,
					SecretRef: &stratusv1alpha1.SecretReference{Namespace: Namespace, Name: AWSProviderConfig + "-credentials"},
				},
			},
		},
		&stratusv1alpha1.ClusterProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Name: GCPProviderConfig},
			Spec: stratusv1alpha1.ProviderConfigSpec{
				Provider: stratusv1alpha1.ProviderGCP,
				Region:   "us-central1",
				Endpoint: e.GCPEndpoint,
				Adoption: adoptFromDefault,
				Credentials: stratusv1alpha1.Credentials{
					Source:    stratusv1alpha1.CredentialsSourceSecret,
					SecretRef: &stratusv1alpha1.SecretReference{Namespace: Namespace, Name: GCPProviderConfig + "-credentials"},
				},
			},
		},
		&stratusv1alpha1.ClusterProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Name: PostgreSQLProviderConfig},
			Spec: stratusv1alpha1.ProviderConfigSpec{
				Provider: stratusv1alpha1.ProviderPostgreSQL,
				PostgreSQL: &stratusv1alpha1.PostgreSQLConnection{
					Host:          e.Postgres.Host,
					Port:          int32(e.Postgres.Port),
					SSLMode:       "disable",
					AdminDatabase: "postgres",
				},
				Adoption: adoptFromDefault,
				Credentials: stratusv1alpha1.Credentials{
					Source:    stratusv1alpha1.CredentialsSourceSecret,
					SecretRef: &stratusv1alpha1.SecretReference{Namespace: Namespace, Name: PostgreSQLProviderConfig + "-credentials"},
				},
			},
		},
	}
	for _, o := range objects {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	// The API server makes the default namespace; the platform team lets it
	// adopt.
	var def corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: metav1.NamespaceDefault}, &def); err != nil {
		return fmt.Errorf("get namespace %s: %w", metav1.NamespaceDefault, err)
	}
	if def.Labels[AdoptionLabel] != AdoptionAllowed {
		patch := client.MergeFrom(def.DeepCopy())
		if def.Labels == nil {
			def.Labels = map[string]string{}
		}
		def.Labels[AdoptionLabel] = AdoptionAllowed
		if err := c.Patch(ctx, &def, patch); err != nil {
			return fmt.Errorf("label namespace %s for adoption: %w", metav1.NamespaceDefault, err)
		}
	}
	return nil
}

// Summary describes the running servers for a person.
func (e *Env) Summary() string {
	return "AWS endpoint: " + e.AWSEndpoint + " (S3: versitygw behind the test shim; RDS: the RDS fake)\n" +
		"GCP endpoint: " + e.GCPEndpoint + " (Cloud Storage: fake-gcs-server behind its shim; Cloud SQL: the Cloud SQL fake)\n" +
		"PostgreSQL:   " + e.Postgres.Host + ":" + strconv.Itoa(e.Postgres.Port) + " (user " + e.Postgres.User + ")\n" +
		"API server:   " + e.ControlPlane.Config.Host + "\n"
}

// NewClient returns a client of the control plane for scheme.
func (e *Env) NewClient(scheme *runtime.Scheme) (client.Client, error) {
	c, err := client.New(e.ControlPlane.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	return c, nil
}
