// Package image checks the repository's Dockerfile and .dockerignore without
// Docker. The tests parse the Dockerfile with BuildKit's own parser and check
// what would otherwise only show when the image is built or run: a multi-stage,
// static (CGO_ENABLED=0), cross-compiled build; a distroless or scratch final
// stage that runs as a numeric non-root user with an exec-form ENTRYPOINT;
// pinned base images; COPY --from naming real stages; copied paths that exist
// and are not dropped by .dockerignore; and a builder stage that receives every
// package of the repository that `go list -deps ./cmd/stratus` reports, so that
// a new import of another folder fails here rather than in the image build.
//
// The package has no non-test code.
package image
