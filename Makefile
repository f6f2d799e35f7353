# Phoenix — see README.md. Every target runs on a fresh machine with Go, PostgreSQL and Redis.
SHELL    := /bin/bash
GO       ?= go
BIN      := $(CURDIR)/bin
COVERDIR := $(CURDIR)/.cover
FUNCTIONS := api controller generator analyzer gateway ingest deployer
# phoenix demo flags for make run, e.g. make run DEMO='--duration 5m --candidate process-priority-filter'
DEMO     ?=
# Static analysis and the security scan (offline from the Go module proxy; findings are fixed or
# justified in place with a #nosec comment that says why).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOSEC       ?= github.com/securego/gosec/v2/cmd/gosec@v2.30.0

.PHONY: run test build lint bench clean collector apiserver console validate-deploy

## run: build, start the platform and run a real experiment on this host, live, to its verdict
run: build collector
	$(BIN)/phoenix demo --collector $(BIN)/phoenix-collector $(DEMO)

## console: the web console from the npm registry with its lockfile (npm ci), built by Vite into
## functions/console/dist, which the API embeds
console:
	cd functions/console/web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

## build: the console, the CLI and one binary per function into bin/
build: console
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/phoenix ./cmd/phoenix
	@for f in $(FUNCTIONS); do echo "$(GO) build -o $(BIN)/$$f ./functions/$$f/cmd"; \
		$(GO) build -o $(BIN)/$$f ./functions/$$f/cmd || exit 1; done

## test: every test against the real PostgreSQL and Redis, then total statement coverage
# Coverage counts the tests and the binaries the end-to-end tests run (built with -cover).
# The collector is built once here for every suite that runs it (test/collector, test/e2e), and
# the Kubernetes API server and etcd for the suites that start them (test/kubeapi, test/cluster);
# phoenix validate all then checks the release artefacts (manifests, wiring, templates, rules,
# migrations).
test: build collector apiserver
	@rm -rf $(COVERDIR) && mkdir -p $(COVERDIR)
	PHOENIX_COLLECTOR=$(BIN)/phoenix-collector PHOENIX_KUBE_APISERVER=$(BIN)/kube-apiserver PHOENIX_ETCD=$(BIN)/etcd \
	PHOENIX_COVERDIR=$(COVERDIR) $(GO) test -count=1 -cover -coverpkg=./... ./... -args -test.gocoverdir=$(COVERDIR)
	cd deploy/collector && $(GO) test -count=1 ./...
	PHOENIX_COLLECTOR=$(BIN)/phoenix-collector $(BIN)/phoenix validate all
	@$(GO) tool covdata textfmt -i=$(COVERDIR) -o coverage.out
	@echo "total statement coverage: $$($(GO) tool cover -func=coverage.out | tail -1 | awk '{print $$NF}')"

## lint: formatting, vet, a tidy go.mod, staticcheck, the gosec security scan, and the deployment and monitoring checks (validate-deploy)
lint: validate-deploy
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(GOSEC) -quiet -exclude-generated ./...

## bench: every benchmark (statistics, password hashing, cold start)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN) $(COVERDIR) coverage.out

## collector: the Phoenix collector distribution (its own Go module) into bin/phoenix-collector
collector:
	cd deploy/collector && $(GO) build -o $(BIN)/phoenix-collector .

## apiserver: a real kube-apiserver and its etcd (their own Go module, deploy/apiserver) into
## bin/kube-apiserver and bin/etcd, for the tests that apply the deployment to a real API server
# Kubernetes' code reads its own version from these linker flags; unstamped ("v0.0.0-master") it
# fails its version checks at start. The first build on a machine is long — about 19 minutes of
# wall time on two cores (12 min of CPU, 2.8 GB of memory, 4.4 GB of build cache) — and later
# ones relink in seconds from the Go build cache.
KUBE_VERSION := v1.37.2
apiserver:
	cd deploy/apiserver && $(GO) build -ldflags "-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION)" \
		-o $(BIN)/ ./cmd/kube-apiserver ./cmd/etcd

## validate-deploy: every kustomization under deploy/ renders; promtool checks the scrape
## configuration and the rules and runs the rules' unit tests (promtool: apt-get install prometheus)
PROMTOOL ?= promtool
validate-deploy:
	@command -v kubectl >/dev/null || { echo "validate-deploy needs kubectl (with kustomize)"; exit 1; }
	@command -v $(PROMTOOL) >/dev/null || { echo "validate-deploy needs promtool: apt-get install -y prometheus (.ci/run installs it)"; exit 1; }
	@for k in $$(find deploy -name kustomization.yaml -not -path 'deploy/collector/*' | sort); do \
		kubectl kustomize "$$(dirname $$k)" >/dev/null || { echo "kubectl kustomize $$(dirname $$k) failed"; exit 1; }; done
	cd deploy/monitoring/prometheus && $(PROMTOOL) check rules rules/*.rules.yml && $(PROMTOOL) test rules tests/*.yml
	deploy/monitoring/check-config.sh $(PROMTOOL)
