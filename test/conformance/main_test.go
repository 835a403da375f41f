package conformance

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stratus-operator/stratus/providers/registry"
	"github.com/stratus-operator/stratus/test/harness"
)

var h *harness.Harness

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
	return m.Run()
}

func TestS3(t *testing.T)         { Run(t, h, newS3Target(h)) }
func TestPostgreSQL(t *testing.T) { Run(t, h, newPostgresTarget(t, h)) }
func TestRDS(t *testing.T)        { Run(t, h, newRDSTarget(t)) }
func TestGCS(t *testing.T)        { Run(t, h, newGCSTarget(t)) }
func TestCloudSQL(t *testing.T)   { Run(t, h, newCloudSQLTarget(t)) }
