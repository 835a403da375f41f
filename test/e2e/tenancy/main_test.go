// Package tenancy attacks the operator as a tenant would: each test acts as
// an impersonated user who holds only the namespaced rights a platform team
// grants an application team (harness.TenantRules), against a real API
// server with RBAC authorization, a real S3 server and a real PostgreSQL,
// and asserts both the refusal and that nothing changed in the cloud.
package tenancy

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratus-operator/stratus/test/harness"
	"github.com/stratus-operator/stratus/test/localenv"
)

var (
	h   *harness.Harness
	s3c *s3.Client
)

func TestMain(m *testing.M) {
	os.Exit(harness.RunTests(m, func(started *harness.Harness) {
		h = started
		s3c = h.S3Client()
	}))
}

// The shared ClusterProviderConfigs every namespace may use, as a platform
// team would install them: one cloud account for all tenants.
var (
	awsShared = localenv.ClusterConfig(localenv.AWSProviderConfig)
	pgShared  = localenv.ClusterConfig(localenv.PostgreSQLProviderConfig)
)
