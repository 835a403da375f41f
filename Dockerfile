# syntax=docker/dockerfile:1

# The Stratus operator manager image: a static binary on an empty (scratch)
# base with the CA certificates the cloud clients need, run as a numeric
# non-root user.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t stratus:dev .
#
# (`make image` wraps this.) The builder stage runs on the build machine's own
# platform and cross-compiles for each target platform, so no emulation is
# needed. test/image/dockerfile_test.go checks this file without Docker.
#
# The builder image is pinned by tag here. The release pipeline must pin it by
# digest as well (golang:1.26@sha256:...) so that a release build is
# reproducible.

FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src

# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Only the folders the binary is built from. `go list -deps ./cmd/stratus`
# names them; cmd/stratus imports test/localenv and test/controlplane for
# `stratus dev`, and those pull in the other test/ folders below.
COPY apis/ apis/
COPY charts/ charts/
COPY cmd/ cmd/
COPY compositions/ compositions/
COPY policy/ policy/
COPY providers/ providers/
COPY test/controlplane/ test/controlplane/
COPY test/fakes/ test/fakes/
COPY test/faults/ test/faults/
COPY test/gcsshim/ test/gcsshim/
COPY test/localenv/ test/localenv/
COPY test/s3shim/ test/s3shim/
COPY test/servers/ test/servers/

# VERSION is what `stratus version` prints, and labels the image (see the
# final stage).
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/stratus ./cmd/stratus

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.source="https://github.com/stratus-operator/stratus" \
      org.opencontainers.image.title="stratus" \
      org.opencontainers.image.description="Stratus, a Kubernetes operator for cloud buckets and databases with compositions and guardrails." \
      org.opencontainers.image.version="${VERSION}"
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=builder /out/stratus /stratus
USER 65532:65532
ENTRYPOINT ["/stratus"]
