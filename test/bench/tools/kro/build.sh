#!/usr/bin/env bash
# Builds the kro controller (github.com/kubernetes-sigs/kro), pinned by the
# go.mod next to this script, for the composites scenario of test/bench. The
# binary is cached under $(go env GOCACHE)/../stratus-tools/kro-<version>/,
# as test/tools/install.sh caches its tools, so a warm cache makes this a
# no-op. Prints the binary's path. Only the benchmark uses kro, not CI.
#
# The benchmark installs kro's CRDs from the same module's source in the Go
# module cache (helm/crds); this script makes sure that source is there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

version=$(go list -m -f '{{.Version}}' github.com/kubernetes-sigs/kro)
cache_root=${STRATUS_TOOLS_CACHE:-$(go env GOCACHE)/../stratus-tools}
dir="$cache_root/kro-$version"
target="$dir/kro"

log() { echo "build.sh: $*" >&2; }

if [ ! -x "$target" ]; then
  log "building kro $version (first time on this machine; cached afterwards)"
  start=$SECONDS
  mkdir -p "$dir"
  CGO_ENABLED=0 go build -trimpath -o "$target.tmp" github.com/kubernetes-sigs/kro/cmd/controller
  mv "$target.tmp" "$target"
  log "built kro in $((SECONDS - start))s"
fi
go mod download github.com/kubernetes-sigs/kro
echo "$target"
