package guardrails

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
)

var (
	h   *harness.Harness
	s3c *s3.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if h, err = harness.Start(context.Background(), registry.DefaultDrivers()); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 1
	}
	defer func() {
		if err := h.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
		}
	}()
	s3c = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(h.Env.S3.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(h.Env.S3.AccessKey, h.Env.S3.SecretKey, ""),
	})
	code := m.Run()
	if code != 0 && os.Getenv("STRATUS_TEST_VERBOSE") == "" {
		logs := h.Logs()
		if len(logs) > 20000 {
			logs = logs[len(logs)-20000:]
		}
		fmt.Fprintln(os.Stderr, "manager logs (last 20000 bytes):")
		fmt.Fprintln(os.Stderr, logs)
	}
	return code
}
