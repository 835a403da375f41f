package conformance

import (
	"os"
	"testing"

	"github.com/stratus-operator/stratus/test/harness"
)

var h *harness.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.RunTests(m, func(started *harness.Harness) {
		h = started
	}))
}

func TestS3(t *testing.T)         { Run(t, h, newS3Target(h)) }
func TestPostgreSQL(t *testing.T) { Run(t, h, newPostgresTarget(t, h)) }
func TestRDS(t *testing.T)        { Run(t, h, newRDSTarget(t)) }
func TestGCS(t *testing.T)        { Run(t, h, newGCSTarget(t)) }
func TestCloudSQL(t *testing.T)   { Run(t, h, newCloudSQLTarget(t)) }
