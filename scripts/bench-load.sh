#!/usr/bin/env bash
# Load benchmark of the shipped binary (bench/binary): builds `gatehouse
# serve` from this checkout (go build -trimpath) and oauth2-proxy v7.15.6
# from the Go module proxy (into the e2e build folder, once), then measures
# with wrk and a gRPC client, on loopback only, gatehouse beside no-op
# servers that receive the same request headers, interleaved over several
# rounds. Prints each round and the median and min-max of every ratio;
# never fails on timing. See docs/benchmarks.md.
#
# Usage: scripts/bench-load.sh [--setup-only] [bench/binary flags...]
#   e.g. scripts/bench-load.sh -d 5s -rounds 3 -c 64,256
#   --setup-only  install wrk and build oauth2-proxy, run nothing
#
# Needs Redis at 127.0.0.1:6379 (GATEHOUSE_TEST_REDIS overrides); its keys
# use a unique prefix and are deleted afterwards.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${GATEHOUSE_E2E_CACHE:-$HOME/.cache/gatehouse-e2e}"
O2P_VERSION=v7.15.6
O2P_BIN="$CACHE/bin/oauth2-proxy-$O2P_VERSION"
mkdir -p "$CACHE/bin"

log() { printf 'bench-load: %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ]; then
		log "wrk is missing (apt-get install -y wrk)"
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi

# oauth2-proxy, built from the Go module proxy (its go.mod has no replace
# directives, so go install works); never vendored into this repository.
if [ ! -x "$O2P_BIN" ]; then
	log "building oauth2-proxy $O2P_VERSION (a few minutes cold)"
	tmp="$(mktemp -d)"
	(cd "$tmp" && GOBIN="$tmp" go install -trimpath "github.com/oauth2-proxy/oauth2-proxy/v7@$O2P_VERSION")
	mv "$tmp/oauth2-proxy" "$O2P_BIN"
	rm -rf "$tmp"
fi

if [ "${1:-}" = "--setup-only" ]; then
	exit 0
fi

redis_addr="${GATEHOUSE_TEST_REDIS:-127.0.0.1:6379}"
log "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$ROOT"
exec go run ./bench/binary -redis "$redis_addr" -oauth2-proxy "$O2P_BIN" "$@"
