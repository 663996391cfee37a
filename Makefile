# kube-shift: Kubernetes operator for reviewed, planned database migrations.

IMG ?= kube-shift:dev
NAMESPACE ?= kube-shift-system

# Tools are built from pinned module versions into bin/.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v3.22.0

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
KUBECTL ?= kubectl

# Test tuning: the default runs every package; GO_TEST_FLAGS adds flags.
GO_TEST_FLAGS ?=
FUZZTIME ?= 10s

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and webhook manifests, and copy the CRDs into the chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	rm -f charts/kube-shift/crds/*.yaml
	cp config/crd/bases/*.yaml charts/kube-shift/crds/
	go run ./hack/apidoc docs/api-reference.md config/crd/bases/database.mohitnagaraj.in_databasemigrations.yaml config/crd/bases/database.mohitnagaraj.in_databasetargets.yaml config/crd/bases/database.mohitnagaraj.in_clusterdatabasetargets.yaml config/crd/bases/database.mohitnagaraj.in_databasemigrationsets.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: verify
verify: ## Fail when generated code or manifests are stale.
	hack/verify-generated.sh

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run --allow-parallel-runners

.PHONY: lint-fix
lint-fix: $(GOLANGCI_LINT) ## Run golangci-lint and fix what it can.
	$(GOLANGCI_LINT) run --fix

.PHONY: helm-lint
helm-lint: $(HELM) $(KUSTOMIZE) ## Lint the Helm chart, render it with and without cert-manager, and check the render (hack/charttest).
	$(HELM) lint --strict charts/kube-shift
	$(HELM) lint --strict charts/kube-shift --set certManager.enabled=false
	$(HELM) template kube-shift charts/kube-shift --namespace kube-shift-system >/dev/null
	$(HELM) template kube-shift charts/kube-shift --namespace kube-shift-system --set certManager.enabled=false >/dev/null
	HELM=$(HELM) KUSTOMIZE=$(KUSTOMIZE) go test ./hack/charttest/... -count=1

.PHONY: test
test: verify vet lint helm-lint test-go ## Everything CI runs: staleness check, vet, lint, the chart, all Go tests against real servers.

.PHONY: test-go
test-go: ## Go tests with a real API server (envtest), real databases, and the e2e suite on the local control plane.
	hack/test.sh $(GO_TEST_FLAGS)

.PHONY: bench
bench: ## Every benchmark against its baseline in one run (hack/bench): prints one table, writes docs/performance.md and its plots. BENCH_QUICK=1: small sizes; BENCH_ONLY=regexp: some suites.
	go build -C hack/bench -o $(LOCALBIN)/bench .
	if [ -z "$${KUBE_SHIFT_TEST_POSTGRES_URL:-}" ]; then hack/db-up.sh >/dev/null && source bin/db/env; fi; \
	KUBEBUILDER_ASSETS=$${KUBEBUILDER_ASSETS:-$$(hack/envtest-assets.sh)} $(LOCALBIN)/bench -root $(CURDIR)

.PHONY: fuzz
fuzz: ## Every fuzz target for FUZZTIME each (default 2m); a finding's input lands in testdata/fuzz.
	FUZZTIME=$(or $(FUZZTIME),2m) hack/fuzz.sh

.PHONY: test-e2e
test-e2e: ## The e2e suite alone, on the local control plane (started and stopped by the suite).
	hack/db-up.sh postgres >/dev/null
	source bin/db/env && go test ./e2e/... -count=1 -v -timeout 20m $(GO_TEST_FLAGS)

.PHONY: test-e2e-kind
test-e2e-kind: ## The e2e suite on a kind cluster with cert-manager and config/default (needs a container engine).
	hack/e2e-kind.sh

##@ Local control plane

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd from Go modules into bin/ (cached).
	@hack/envtest-assets.sh

.PHONY: local-up
local-up: manifests ## Start a local control plane (bin/local/kubeconfig) with the CRDs installed; DEPLOYED=1 for the deployed mode.
	LOCAL_DEPLOYED=$(if $(DEPLOYED),1,0) hack/local-up.sh

.PHONY: deploy-local
deploy-local: manifests $(KUSTOMIZE) $(HELM) ## The deployed mode: a local control plane with cert-manager and config/default (CHART=1: the Helm chart) applied unchanged, the manager running as its Deployment's ServiceAccount.
	LOCAL_DEPLOYED=1 DEPLOY_SOURCE=$(if $(CHART),chart,kustomize) KUSTOMIZE=$(KUSTOMIZE) HELM=$(HELM) hack/local-up.sh

.PHONY: smoke
smoke: manifests $(HELM) ## The smoke scenario on the deployed install (hack/smoke.sh); with none running, deploys the chart for it and stops it after.
	HELM=$(HELM) hack/smoke.sh

.PHONY: certmanager
certmanager: ## Build cert-manager's controller and cainjector (hack/certmanager) into bin/ (cached).
	@hack/certmanager-assets.sh

.PHONY: local-down
local-down: ## Stop the local control plane and remove its data.
	hack/local-down.sh

.PHONY: db-up
db-up: ## Start throwaway PostgreSQL and MariaDB servers (bin/db/env).
	hack/db-up.sh

.PHONY: db-down
db-down: ## Stop the throwaway database servers.
	hack/db-down.sh

.PHONY: demo
demo: ## The main job end to end on the embedded default (local control plane + SQLite).
	hack/demo.sh

##@ Build

.PHONY: build
build: ## Build the manager and the kubectl plugin into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/manager ./cmd
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/kubectl-shift ./cmd/kubectl-shift

.PHONY: run
run: manifests generate ## Run the manager against the current kubeconfig.
	go run ./cmd

.PHONY: docker-build
docker-build: ## Build the manager image.
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	docker push $(IMG)

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Write dist/install.yaml with the CRDs and the deployment.
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default > dist/install.yaml

##@ Deployment

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRDs into the current cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRDs from the current cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator to the current cluster.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator from the current cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

$(CONTROLLER_GEN):
	hack/go-install-tool.sh $@ sigs.k8s.io/controller-tools/cmd/controller-gen $(CONTROLLER_TOOLS_VERSION)

$(KUSTOMIZE):
	hack/go-install-tool.sh $@ sigs.k8s.io/kustomize/kustomize/v5 $(KUSTOMIZE_VERSION)

$(GOLANGCI_LINT):
	hack/go-install-tool.sh $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint $(GOLANGCI_LINT_VERSION)

$(HELM):
	hack/go-install-tool.sh $@ helm.sh/helm/v3/cmd/helm $(HELM_VERSION)

.PHONY: kustomize controller-gen golangci-lint helm
kustomize: $(KUSTOMIZE) ## Build kustomize into bin/.
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen into bin/.
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint into bin/.
helm: $(HELM) ## Build helm into bin/.
