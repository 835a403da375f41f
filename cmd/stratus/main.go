// Command stratus is the Stratus operator.
//
//	stratus [flags]        run the manager against the cluster in KUBECONFIG
//	stratus dev [flags]    run a local control plane, local AWS, Google Cloud
//	                       and PostgreSQL, and the manager against them
//	stratus render [flags] render a composite from local files, without a cluster
//	stratus policy test --suite suite.yaml
//	                       check guardrails against test cases, without a cluster
package main

import (
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
)

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) > 0 && args[0] == "dev":
		err = runDev(args[1:])
	case len(args) > 0 && args[0] == "render":
		err = runRender(args[1:])
	case len(args) > 0 && args[0] == "policy":
		err = runPolicy(args[1:])
	case len(args) > 0 && args[0] == "manager":
		err = runManagerCommand(args[1:])
	default:
		err = runManagerCommand(args)
	}
	if err != nil {
		ctrl.Log.Error(err, "stratus failed")
		fmt.Fprintln(os.Stderr, "stratus:", err)
		os.Exit(1)
	}
}
