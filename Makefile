# Stratus: run `make help` for the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

TOOLS_DIR ?= $(CURDIR)/bin/tools
CONTROLLER_GEN ?= $(TOOLS_DIR)/controller-gen
CRD_DIR := charts/stratus/files/crds
RBAC_DIR := charts/stratus/files/rbac
WEBHOOK_DIR := charts/stratus/files/webhook
BENCH_SCENARIOS ?= admission

.PHONY: help
help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## Build kube-apiserver, etcd, versitygw and controller-gen into the cache (bin/tools).
	bash test/tools/install.sh >/dev/null

.PHONY: generate
generate: ## Generate deepcopy functions.
	$(CONTROLLER_GEN) object paths=./apis/...

.PHONY: manifests
manifests: ## Generate CRDs, RBAC and the webhook configuration.
	$(CONTROLLER_GEN) crd paths=./apis/... output:crd:dir=$(CRD_DIR)
	$(CONTROLLER_GEN) rbac:roleName=stratus-manager paths="{./providers/...,./compositions/...,./policy/...}" output:rbac:dir=$(RBAC_DIR)
	$(CONTROLLER_GEN) webhook paths=./policy/... output:webhook:dir=$(WEBHOOK_DIR)
	rm -rf charts/stratus/files/guardrails && mkdir -p charts/stratus/files/guardrails
	for d in policy/library/*/; do n=$$(basename $$d); cp $$d$$n.rego charts/stratus/files/guardrails/$$n.rego; done

.PHONY: build
build: ## Build the stratus binary into bin/ (`bin/stratus version` prints VERSION).
	go build -ldflags "-X main.version=$(VERSION)" -o bin/stratus ./cmd/stratus

.PHONY: dev
dev: tools build ## Run the operator against a local control plane, S3 server and PostgreSQL.
	exec bin/stratus dev

.PHONY: test
test: ## Install what the tests need, then run every test.
	bash test/run.sh

.PHONY: bench
bench: tools ## Run the benchmarks at full size (BENCH_SCENARIOS=all for every scenario); see test/bench/RESULTS.md.
	go run ./test/bench -scenario=$(BENCH_SCENARIOS)

.PHONY: lint
lint: ## gofmt and go vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

comma := ,
IMG ?= stratus:dev
PLATFORMS ?= linux/amd64,linux/arm64
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# One platform is loaded into the local Docker; an image for several stays in
# the build cache unless IMAGE_OUTPUT says where it goes (IMAGE_OUTPUT=--push).
IMAGE_OUTPUT ?= $(if $(findstring $(comma),$(PLATFORMS)),,--load)

.PHONY: image
image: ## Build the image (IMG, PLATFORMS) with docker buildx; a single platform is loaded into Docker.
	docker buildx build --platform $(PLATFORMS) --build-arg VERSION=$(VERSION) $(IMAGE_OUTPUT) -t $(IMG) .
