package harness

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratus-operator/stratus/providers/registry"
)

// RunTests is a test package's TestMain body: it starts a harness with the
// default drivers, hands it to started, runs the tests, prints the end of
// the manager's logs when a test failed, and stops the harness. It returns
// the exit code for os.Exit.
func RunTests(m *testing.M, started func(*Harness)) int {
	h, err := Start(context.Background(), registry.DefaultDrivers())
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 1
	}
	defer func() {
		if err := h.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
		}
	}()
	started(h)
	code := m.Run()
	if code != 0 && os.Getenv(verboseEnv) == "" {
		const tail = 20000
		logs := h.Logs()
		if len(logs) > tail {
			logs = logs[len(logs)-tail:]
		}
		fmt.Fprintf(os.Stderr, "manager logs (last %d bytes):\n%s\n", tail, logs)
	}
	return code
}

// S3Client returns a client of the local S3 server with its credentials.
func (h *Harness) S3Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(h.Env.S3.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(h.Env.S3.AccessKey, h.Env.S3.SecretKey, ""),
	})
}
