#!/usr/bin/env bash
# End-to-end suite: installs or builds what is missing, then runs
#   go test -tags e2e ./e2e/...
# against real nginx, Caddy, Traefik and HAProxy started from deploy/, the zitadel/oidc
# example OpenID provider, two gatehouse replicas on the real Redis and
# headless Chromium, plus fault tests (Redis stopped, killed and restarted,
# a replica killed, under load) on a private redis-server, and failover
# tests (a Sentinel and a Cluster master SIGKILLed under load). Everything
# listens on loopback; the provider runs in a private network namespace
# (needs root, or CAP_SYS_ADMIN, for unshare -n).
#
# Usage: scripts/e2e.sh [--setup-only]
#   --setup-only  install and build the tools, check Redis, run nothing
#                 (scripts/bench-traefik.sh uses it)
#
# Environment:
#   GATEHOUSE_E2E_CACHE   build folder for Traefik and the provider
#                         (default ~/.cache/gatehouse-e2e; outside the module)
#   GATEHOUSE_TEST_REDIS  Redis address (default 127.0.0.1:6379)
#   GATEHOUSE_E2E_KEEP    a directory to keep configs and logs in
#   E2E_RUN               a -run pattern, e.g. 'TestEndToEnd/nginx' or 'TestFaults'
#   GATEHOUSE_E2E_BIN     a prebuilt gatehouse binary (default: built from
#                         this checkout)
#
# Cost: Traefik's first build takes ~8 minutes on 2 cores; with warm caches
# the whole run takes about 1.5 minutes (browser flows ~1 minute, fault
# tests ~15 s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${GATEHOUSE_E2E_CACHE:-$HOME/.cache/gatehouse-e2e}"
TRAEFIK_VERSION=v3.6.12
OP_VERSION=v3.52.0
TRAEFIK_BIN="$CACHE/bin/traefik-$TRAEFIK_VERSION"
OP_BIN="$CACHE/bin/zitadel-oidc-example-$OP_VERSION"
export GATEHOUSE_E2E_CACHE="$CACHE"
mkdir -p "$CACHE/bin"

log() { printf 'e2e: %s\n' "$*" >&2; }

# 1. Debian packages.
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ "${#need[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		log "missing packages: ${need[*]} (run as root, or apt-get install -y ${need[*]})"
		exit 1
	fi
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
# The Debian packages start system services; the suite runs its own copies.

# 2. Traefik, built from the Go module proxy in the build folder. Its go.mod
#    has replace directives, so `go install pkg@version` refuses it: build it
#    as the main module from the downloaded source instead.
if [ ! -x "$TRAEFIK_BIN" ]; then
	log "building Traefik $TRAEFIK_VERSION (about 8 minutes cold)"
	src_dir="$(cd "$CACHE" && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	work="$CACHE/src/traefik-$TRAEFIK_VERSION"
	rm -rf "$work"
	mkdir -p "$CACHE/src"
	cp -r "$src_dir" "$work"
	chmod -R u+w "$work"
	(cd "$work" && go build -trimpath -o "$TRAEFIK_BIN.tmp" ./cmd/traefik)
	mv "$TRAEFIK_BIN.tmp" "$TRAEFIK_BIN"
fi

# 3. The zitadel/oidc example OpenID provider.
if [ ! -x "$OP_BIN" ]; then
	log "building the zitadel/oidc example provider $OP_VERSION"
	tmp="$(mktemp -d)"
	(cd "$tmp" && GOBIN="$tmp" go install "github.com/zitadel/oidc/v3/example/server@$OP_VERSION")
	mv "$tmp/server" "$OP_BIN"
	rm -rf "$tmp"
fi

# 4. playwright-core (drives the Debian Chromium; downloads no browser).
if [ ! -d "$ROOT/e2e/browser/node_modules/playwright-core" ]; then
	log "installing playwright-core"
	(cd "$ROOT/e2e/browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

# 5. Redis must be up; the suite fails (never skips) without it.
redis_addr="${GATEHOUSE_TEST_REDIS:-127.0.0.1:6379}"
if command -v redis-cli >/dev/null 2>&1; then
	redis-cli -h "${redis_addr%:*}" -p "${redis_addr##*:}" ping >/dev/null ||
		{ log "Redis at $redis_addr is not answering"; exit 1; }
fi

if [ "${1:-}" = "--setup-only" ]; then
	exit 0
fi

# 6. Run.
start=$(date +%s)
cd "$ROOT"
status=0
go test -tags e2e -count=1 -timeout 15m -v ${E2E_RUN:+-run "$E2E_RUN"} ./e2e/... || status=$?
log "finished in $(( $(date +%s) - start ))s (exit $status)"
exit "$status"
