# Stratus: run `make help` for the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

TOOLS_DIR ?= $(CURDIR)/bin/tools
CONTROLLER_GEN ?= $(TOOLS_DIR)/controller-gen
CRD_DIR := charts/stratus/crds
RBAC_DIR := charts/stratus/files/rbac
WEBHOOK_DIR := charts/stratus/files/webhook

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

.PHONY: build
build: ## Build the stratus binary into bin/.
	go build -o bin/stratus ./cmd/stratus

.PHONY: dev
dev: tools build ## Run the operator against a local control plane, S3 server and PostgreSQL.
	exec bin/stratus dev

.PHONY: test
test: ## Install what the tests need, then run every test.
	bash test/run.sh

.PHONY: lint
lint: ## gofmt and go vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
