#!/usr/bin/env bash
# Regenerates gen/ from proto/ with buf and the protoc-gen-go and
# protoc-gen-go-grpc plugins, all run as Go tools pinned in tools/go.mod
# (nothing is installed by hand). Generated code is committed; never edit it.
#
#   scripts/generate.sh           regenerate gen/
#   scripts/generate.sh --check   regenerate into a temporary directory and fail
#                                 if the committed gen/ differs from it
set -euo pipefail
cd "$(dirname "$0")/.."

buf() { go tool -modfile=tools/go.mod buf "$@"; }

case "${1:-}" in
"")
	buf generate
	echo "generate: gen/ is up to date with proto/"
	;;
--check)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	buf generate -o "$tmp"
	if ! diff -ru gen "$tmp/gen"; then
		echo "generate --check: gen/ differs from what proto/ generates; run scripts/generate.sh and commit gen/" >&2
		exit 1
	fi
	echo "generate --check: gen/ matches proto/"
	;;
*)
	echo "usage: scripts/generate.sh [--check]" >&2
	exit 2
	;;
esac
