#!/usr/bin/env bash
# Builds OPA Gatekeeper, at the version go.mod in this folder requires, for
# the gatekeeper scenario of test/bench (`go run ./test/bench
# -scenario=gatekeeper` calls this script; CI and test/tools/install.sh do
# not). The binary is cached, like test/tools/install.sh does, in
#   $(go env GOCACHE)/../stratus-tools/gatekeeper-<version>/gatekeeper
# (STRATUS_TOOLS_CACHE overrides the root) with Gatekeeper's CRDs, copied
# from the module's source in the module cache, in crds/ next to it.
# Prints the folder. A warm cache makes this a no-op; a cold one takes a few
# minutes. With --check it builds nothing: it prints the folder, or exits 2
# when Gatekeeper is not built yet.
#
# This is a module of its own so that Gatekeeper's dependencies never enter
# the main module. Its go.mod is what `go get
# github.com/open-policy-agent/gatekeeper/v3@<version>` writes: do not run
# `go mod tidy` here, which would drop the requirements of Gatekeeper's main
# package (no package of this module imports it: it is package main).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

module=github.com/open-policy-agent/gatekeeper/v3
version=$(go list -m -f '{{.Version}}' "$module")
cache_root=${STRATUS_TOOLS_CACHE:-$(go env GOCACHE)/../stratus-tools}
dir="$cache_root/gatekeeper-$version"
target="$dir/gatekeeper"

log() { echo "gatekeeper/build.sh: $*" >&2; }

if [ "${1:-}" = --check ]; then
  if [ ! -x "$target" ] || [ ! -d "$dir/crds" ]; then
    log "Gatekeeper $version is not built in $dir"
    exit 2
  fi
  echo "$dir"
  exit 0
fi

if [ ! -x "$target" ] || [ ! -d "$dir/crds" ]; then
  log "building Gatekeeper $version (first time on this machine; cached afterwards)"
  start=$SECONDS
  mkdir -p "$dir"
  CGO_ENABLED=0 go build -mod=readonly -trimpath -o "$target.tmp" "$module"
  src=$(go list -m -f '{{.Dir}}' "$module")
  rm -rf "$dir/crds.tmp"
  mkdir -p "$dir/crds.tmp"
  cp "$src"/manifest_staging/charts/gatekeeper/crds/*.yaml "$dir/crds.tmp/"
  rm -rf "$dir/crds"
  mv "$dir/crds.tmp" "$dir/crds"
  mv "$target.tmp" "$target"
  log "built Gatekeeper $version in $((SECONDS - start))s ($(du -h "$target" | cut -f1))"
fi

echo "$dir"
