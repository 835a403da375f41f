//go:build tools

// Package kro pins the kro controller (github.com/kubernetes-sigs/kro) that
// build.sh builds for the composites scenario of test/bench. Only the
// benchmark uses it: neither the main module nor CI depends on it.
package kro

import _ "github.com/kubernetes-sigs/kro/cmd/controller"
