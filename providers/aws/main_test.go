package aws

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stratus-operator/stratus/test/servers"
)

// s3Server is the S3 server the integration tests use; nil with -short.
var s3Server *servers.S3Server

// TestMain starts one S3 server (versitygw behind the test shim) for the
// package's integration tests, unless -short is given.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if !testing.Short() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		srv, err := servers.StartS3(ctx, servers.S3Options{})
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "start the S3 server for the integration tests (or run with -short to skip them): %v\n", err)
			return 1
		}
		s3Server = srv
		defer func() {
			if err := srv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
	}
	return m.Run()
}

// needS3 skips an integration test under -short and returns the server.
func needS3(t *testing.T) *servers.S3Server {
	t.Helper()
	if s3Server == nil {
		t.Skip("integration test: needs the S3 server, which -short does not start")
	}
	return s3Server
}
