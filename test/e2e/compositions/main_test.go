package compositions

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratus-operator/stratus/test/harness"
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
