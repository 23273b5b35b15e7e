#!/usr/bin/env bash
# Lints proto/ with buf (DEFAULT rules, see buf.yaml) and checks its
# formatting; buf runs as a Go tool pinned in tools/go.mod.
#
#   scripts/buf-lint.sh                   lint and format check
#   BUF_AGAINST=REF scripts/buf-lint.sh   also check for breaking changes
#                                         (FILE rules) against a git ref,
#                                         e.g. BUF_AGAINST=origin/main
set -euo pipefail
cd "$(dirname "$0")/.."

buf() { go tool -modfile=tools/go.mod buf "$@"; }

buf lint
if ! buf format --diff --exit-code; then
	echo "buf-lint: proto/ is not formatted; run: go tool -modfile=tools/go.mod buf format -w" >&2
	exit 1
fi
if [[ -n "${BUF_AGAINST:-}" ]]; then
	buf breaking --against ".git#ref=${BUF_AGAINST}"
fi
echo "buf-lint: proto/ passes buf lint and buf format"
