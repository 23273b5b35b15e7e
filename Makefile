# gatehouse developer commands. "make help" lists them.
GO ?= go

.PHONY: help build release test lint e2e bench bench-inprocess bench-load bench-traefik bench-scale generate

# Build stamps for "gatehouse version": the nearest v* tag, else a Go
# pseudo-version of the commit (as scripts/release.sh makes), the commit,
# and the build time.
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || TZ=UTC git log -1 --abbrev=12 --date=format-local:%Y%m%d%H%M%S --format=v0.0.0-%cd-%h 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
STAMPS = $(if $(VERSION),-X main.version=$(VERSION)) $(if $(COMMIT),-X main.commit=$(COMMIT)) -X main.date=$(DATE)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

build: ## build ./gatehouse, stamped with version, commit and build date
	$(GO) build -trimpath -ldflags "$(STAMPS)" -o gatehouse ./cmd/gatehouse

release: ## linux/amd64 and arm64 archives and SHA256SUMS in dist/ (scripts/release.sh)
	scripts/release.sh

test: ## run every unit and integration test (needs Redis on 127.0.0.1:6379)
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -run 'Allocat' ./internal/...
	cd deploy/check && $(GO) test -count=1 ./...

lint: ## gofmt, go vet, staticcheck, buf lint and format, and generated code up to date
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd deploy/check && $(GO) vet ./...
	scripts/staticcheck.sh
	scripts/buf-lint.sh
	scripts/generate.sh --check

generate: ## regenerate gen/ from proto/ with buf (tools pinned in tools/go.mod)
	scripts/generate.sh

e2e: ## end-to-end suite with real nginx, Caddy, Traefik, an OpenID provider and Chromium
	bash scripts/e2e.sh

bench: ## Go benchmarks of the check path
	$(GO) test -run '^$$' -bench . -benchmem ./internal/authz/ ./internal/check/ ./internal/session/ ./internal/envoy/ ./internal/tracing/

bench-load: ## the shipped binary under wrk and gRPC load beside no-op servers and oauth2-proxy, same run, interleaved rounds (scripts/bench-load.sh)
	bash scripts/bench-load.sh

bench-inprocess: ## the adapters wired in one process (not the binary) beside no-op servers: forward-auth, ext_authz, revocation latency
	$(GO) run ./bench/httpload -d 10s -c 64,256
	$(GO) run ./bench/grpcload -c 64 -d 10s
	$(GO) run ./bench/revocation -n 200 -replicas 3

bench-traefik: ## wrk through the shipped Traefik config with and without ForwardAuth (builds Traefik on first use)
	bash scripts/bench-traefik.sh

bench-scale: ## 1M sessions in private Redis (standalone, Cluster): checks vs 1k, revocation latency, memory per session (~7 min)
	$(GO) run ./bench/scale
