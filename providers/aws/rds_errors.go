package aws

import (
	"fmt"

	"github.com/stratus-operator/stratus/providers/driver"
)

// The RDS error codes the database driver acts on.
const (
	codeDBInstanceNotFound          = "DBInstanceNotFound"
	codeDBInstanceAlreadyExists     = "DBInstanceAlreadyExists"
	codeInvalidDBInstanceState      = "InvalidDBInstanceState"
	codeInvalidParameterCombination = "InvalidParameterCombination"
)

// rdsTerminalCodes are the RDS error codes of requests that cannot succeed
// until the spec (or the account's quotas) change. They are RDS's own and
// kept apart from classify's, which every AWS service shares.
var rdsTerminalCodes = map[string]bool{
	"InvalidParameterValue":       true,
	"InvalidParameterCombination": true,
	"StorageQuotaExceeded":        true,
	"InstanceQuotaExceeded":       true,
	"StorageTypeNotSupported":     true,
	"KMSKeyNotAccessibleFault":    true,
}

// wrapRDS wraps err, an error of an RDS call that must not be nil, with a
// message saying what could not be done, and classifies it: the codes of
// rdsTerminalCodes are terminal, and the rest go through classify
// (throttling, refused credentials).
func wrapRDS(err error, format string, args ...any) error {
	wrapped := fmt.Errorf(format+": %w", append(args, err)...)
	if rdsTerminalCodes[errorCode(err)] {
		return driver.Terminal(wrapped)
	}
	return classify(wrapped)
}
