#!/usr/bin/env bash
# Builds every binary the tests and `stratus dev` need, from source, into a
# cache folder keyed by each tool's pinned version, and links them into
# bin/tools in the repository:
#   kube-apiserver, etcd   the envtest control plane (KUBEBUILDER_ASSETS)
#   versitygw              a real S3 server (posix backend)
#   fake-gcs-server        a Cloud Storage emulator
#   controller-gen         CRD, deepcopy and RBAC generation
# Installs PostgreSQL with apt when the machine lacks it. Prints bin/tools.
# A warm cache makes this a no-op; a fresh machine needs about 15 minutes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools="$repo/test/tools"

VERSITYGW_VERSION=v1.8.0
FAKE_GCS_SERVER_VERSION=v1.56.1
CONTROLLER_GEN_VERSION=v0.23.0

cache_root=${STRATUS_TOOLS_CACHE:-$(go env GOCACHE)/../stratus-tools}
out="$repo/bin/tools"
mkdir -p "$cache_root" "$out"

log() { echo "install.sh: $*" >&2; }
hash() { sha256sum | cut -c1-12; }

# build NAME KEY COMMAND...: runs COMMAND (which writes $target) unless the
# cache already holds NAME for KEY, then links it into bin/tools.
build() {
  local name=$1 key=$2; shift 2
  local dir="$cache_root/$name-$key"
  export target="$dir/$name" tools
  if [ ! -x "$target" ]; then
    log "building $name (first time on this machine; cached afterwards)"
    local start=$SECONDS
    mkdir -p "$dir"
    "$@"
    log "built $name in $((SECONDS - start))s"
  fi
  ln -sfn "$target" "$out/$name"
}

go_install() { # module@version: go install into $target
  local gobin; gobin=$(mktemp -d)
  GOBIN="$gobin" CGO_ENABLED=0 go install "$1"
  mv "$gobin"/* "$target"
  rmdir "$gobin"
}

build kube-apiserver "$(hash < "$tools/kube-apiserver/go.mod")" \
  bash -c 'cd "$tools/kube-apiserver" && CGO_ENABLED=0 go build -trimpath -o "$target.tmp" k8s.io/kubernetes/cmd/kube-apiserver && mv "$target.tmp" "$target"'
build etcd "$(cat "$tools/etcd/go.mod" "$tools/etcd/main.go" | hash)" \
  bash -c 'cd "$tools/etcd" && CGO_ENABLED=0 go build -trimpath -o "$target.tmp" . && mv "$target.tmp" "$target"'
build versitygw "$VERSITYGW_VERSION" go_install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
build fake-gcs-server "$FAKE_GCS_SERVER_VERSION" go_install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_SERVER_VERSION"
build controller-gen "$CONTROLLER_GEN_VERSION" go_install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION"

# PostgreSQL: the Debian server, run as the postgres user by the test harness.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing PostgreSQL with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

echo "$out"
