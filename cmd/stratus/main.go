// Command stratus is the Stratus operator.
//
//	stratus manager [flags]  run the manager against the cluster in KUBECONFIG
//	stratus dev [flags]      run a local control plane, local AWS, Google Cloud
//	                         and PostgreSQL, and the manager against them
//	stratus render [flags]   render a composite from local files, without a cluster
//	stratus policy test --suite suite.yaml
//	                         check guardrails against test cases, without a cluster
//	stratus version          print the version
//	stratus completion SHELL print a shell completion script
//
// Every command takes --help. The exit code is 0 on success, 1 when the
// command failed and 2 when the command line is wrong. `stratus` with
// flags only, as Deployments ran it before the commands, is deprecated:
// it runs `stratus manager` with those flags and says so on stderr.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
