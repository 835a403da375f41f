//go:build tools

// Package tools pins kube-apiserver for the envtest control plane. It is a
// separate module so that the operator itself never depends on
// k8s.io/kubernetes; test/tools/install.sh builds the binary from it.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
