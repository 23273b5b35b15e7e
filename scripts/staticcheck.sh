#!/usr/bin/env bash
# Runs staticcheck (a Go tool pinned in tools/go.mod, settings in
# staticcheck.conf) over every package but the generated gen/ tree, tests
# included. Part of make lint.
#
#   scripts/staticcheck.sh
set -euo pipefail
cd "$(dirname "$0")/.."

mod=$(go list -m)
mapfile -t pkgs < <(go list ./... | grep -v "^$mod/gen/")
go tool -modfile=tools/go.mod staticcheck "${pkgs[@]}"
echo "staticcheck: clean"
