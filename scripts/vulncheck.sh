#!/usr/bin/env bash
# Runs govulncheck (a Go tool pinned in tools/go.mod) over every package.
# It needs its vulnerability database from https://vuln.go.dev, so it is not
# part of make lint (a machine that only reaches the Go module proxy cannot
# run it); run it where that host is reachable, or point it at a local copy
# of the database:
#
#   scripts/vulncheck.sh
#   VULNDB=file:///path/to/vulndb scripts/vulncheck.sh
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
if [[ -n "${VULNDB:-}" ]]; then
	args+=(-db "$VULNDB")
fi
go tool -modfile=tools/go.mod govulncheck "${args[@]}" ./...
