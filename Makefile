# gatehouse developer commands. "make help" lists them.
GO ?= go

.PHONY: help build test lint e2e bench generate

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build ./gatehouse
	$(GO) build -trimpath -o gatehouse ./cmd/gatehouse

test: ## run every unit and integration test (needs Redis on 127.0.0.1:6379)
	$(GO) test -race -count=1 -timeout 15m ./...

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

e2e: ## run the end-to-end suite with real nginx, Caddy, Traefik, an OIDC provider and Chromium
	bash scripts/e2e.sh

bench: ## Go benchmarks of the check path
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
