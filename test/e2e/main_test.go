package e2e

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/registry"
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

// awsProvider and pgProvider reference the local ClusterProviderConfigs.
var (
	awsProvider = localenv.ClusterConfig(localenv.AWSProviderConfig)
	pgProvider  = localenv.ClusterConfig(localenv.PostgreSQLProviderConfig)
)

// Namespace labels a platform team sets, for the tests that need them.
var (
	// adoptionAllowed lets a namespace adopt through the local configurations.
	adoptionAllowed = map[string]string{localenv.AdoptionLabel: localenv.AdoptionAllowed}
	// customEndpoints lets a namespace's ProviderConfigs set an endpoint.
	customEndpoints = map[string]string{stratusv1alpha1.LabelAllowCustomEndpoints: "true"}
)

// clusterName is the name the manager gives the cluster in owner marks: the
// kube-system namespace's UID.
func clusterName(t *testing.T) string {
	t.Helper()
	name, err := registry.ClusterUID(context.Background(), h.Client)
	if err != nil {
		t.Fatal(err)
	}
	return name
}
