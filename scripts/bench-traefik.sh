#!/usr/bin/env bash
# Traefik latency benchmark: the echo app through Traefik v3 (deploy/traefik)
# with and without the ForwardAuth middleware to gatehouse, measured by wrk
# with a real session cookie (from a login at the zitadel/oidc example
# provider), all on loopback. Prints req/s, p50, p99 and the ratios; never
# fails on timing. See e2e/traefik_bench_test.go and docs/benchmarks.md.
#
# Usage: scripts/bench-traefik.sh [-c CONNECTIONS] [-d DURATION] [-r ROUNDS]
#   -c  wrk connections (default 64)
#   -d  duration of each measured run (default 10s; plus 2 s warm-ups)
#   -r  rounds, each a run without then with the middleware (default 2)
#
# Installs or builds what is missing first (scripts/e2e.sh --setup-only);
# needs Redis at 127.0.0.1:6379 (GATEHOUSE_TEST_REDIS overrides).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
conns=64 dur=10s rounds=2
while getopts "c:d:r:" opt; do
	case "$opt" in
	c) conns="$OPTARG" ;;
	d) dur="$OPTARG" ;;
	r) rounds="$OPTARG" ;;
	*) sed -n '2,13p' "$0" >&2; exit 2 ;;
	esac
done

bash "$ROOT/scripts/e2e.sh" --setup-only
export GATEHOUSE_E2E_CACHE="${GATEHOUSE_E2E_CACHE:-$HOME/.cache/gatehouse-e2e}"
echo "bench-traefik: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cd "$ROOT"
GATEHOUSE_BENCH_CONNS="$conns" GATEHOUSE_BENCH_DURATION="$dur" GATEHOUSE_BENCH_ROUNDS="$rounds" \
	go test -tags e2e -count=1 -run '^$' -bench '^BenchmarkTraefik$' -benchtime 1x -timeout 15m -v ./e2e/
