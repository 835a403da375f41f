#!/usr/bin/env bash
# The test command (`make test`, and .ci/run): installs and builds what the
# tests need (kube-apiserver, etcd, versitygw, controller-gen, PostgreSQL),
# checks formatting and vet, then runs every test, the end-to-end ones
# against real servers included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$SECONDS
tools=$(bash test/tools/install.sh)
export STRATUS_TOOLS_DIR="$tools" KUBEBUILDER_ASSETS="$tools"
echo "tools ready in $((SECONDS - start))s: $tools"

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

go test -count=1 -timeout 30m "$@" ./...
echo "all tests done in $((SECONDS - start))s"
