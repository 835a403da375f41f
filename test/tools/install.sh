#!/usr/bin/env bash
# Builds every binary the tests and `stratus dev` need, from source, into a
# versioned cache folder, and links it as bin/tools in the repository:
#   kube-apiserver, etcd   the envtest control plane (KUBEBUILDER_ASSETS)
#   versitygw              a real S3 server (posix backend)
#   fake-gcs-server        a Cloud Storage emulator
#   controller-gen         CRD, deepcopy and RBAC generation
# Installs PostgreSQL with apt when the machine lacks it.
# A warm cache makes this a no-op; a fresh machine needs about 10 minutes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools="$repo/test/tools"

VERSITYGW_VERSION=v1.8.0
CONTROLLER_GEN_VERSION=v0.23.0
FAKE_GCS_SERVER_VERSION=v1.56.1

# The cache key changes whenever a pinned version changes.
key=$(cat "$tools/kube-apiserver/go.mod" "$tools/etcd/go.mod" "$0" | sha256sum | cut -c1-12)
cache_root=${STRATUS_TOOLS_CACHE:-$(go env GOCACHE)/../stratus-tools}
dir="$cache_root/$key"
mkdir -p "$dir"

log() { echo "install.sh: $*" >&2; }

build() { # name, then the command that writes $dir/name
  local name=$1; shift
  if [ -x "$dir/$name" ]; then return; fi
  log "building $name (first time on this machine; cached afterwards)"
  local start=$SECONDS
  "$@"
  log "built $name in $((SECONDS - start))s"
}

build kube-apiserver bash -c "cd '$tools/kube-apiserver' && CGO_ENABLED=0 go build -trimpath -o '$dir/kube-apiserver.tmp' k8s.io/kubernetes/cmd/kube-apiserver && mv '$dir/kube-apiserver.tmp' '$dir/kube-apiserver'"
build etcd bash -c "cd '$tools/etcd' && CGO_ENABLED=0 go build -trimpath -o '$dir/etcd.tmp' . && mv '$dir/etcd.tmp' '$dir/etcd'"
build versitygw bash -c "GOBIN='$dir/.gobin' CGO_ENABLED=0 go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION && mv '$dir/.gobin/versitygw' '$dir/versitygw'"
build fake-gcs-server bash -c "GOBIN='$dir/.gobin' CGO_ENABLED=0 go install github.com/fsouza/fake-gcs-server@$FAKE_GCS_SERVER_VERSION && mv '$dir/.gobin/fake-gcs-server' '$dir/fake-gcs-server'"
build controller-gen bash -c "GOBIN='$dir/.gobin' go install sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION && mv '$dir/.gobin/controller-gen' '$dir/controller-gen'"

# PostgreSQL: the Debian server, run as the postgres user by the test harness.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing PostgreSQL with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

mkdir -p "$repo/bin"
ln -sfn "$dir" "$repo/bin/tools"
echo "$dir"
