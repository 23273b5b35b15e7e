#!/usr/bin/env bash
# Release archives: gatehouse for linux/amd64 and linux/arm64, each in
#   dist/gatehouse-<version>-linux-<arch>.tar.gz
# (the binary, README.md, LICENSE if there is one, deploy/systemd/), and
# dist/SHA256SUMS over them.
#
# The archives are built from a commit (git archive), not from the working
# tree, so uncommitted changes never reach a release, and reproducibly: the
# same commit and Go toolchain give byte-identical archives (-trimpath,
# -buildvcs=false with the commit stamped by -X, no build ID, the commit
# time as build date and as every file's time, sorted tar entries with
# numeric owners, gzip -n).
#
# Usage: scripts/release.sh [REF]        (default HEAD)
# Environment:
#   VERSION  the version to stamp (default: the v* tag at REF, else
#            v0.0.0-<commit time>-<12-hex commit>, a Go pseudo-version)
#   ARCHES   the architectures (default "amd64 arm64")
#   DIST     the output folder (default dist/ in the checkout)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REF="${1:-HEAD}"
ARCHES="${ARCHES:-amd64 arm64}"
DIST="${DIST:-$ROOT/dist}"
GO="${GO:-go}"

COMMIT="$(git rev-parse --verify "$REF^{commit}")"
EPOCH="$(git log -1 --format=%ct "$COMMIT")"
DATE="$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
if [ -z "${VERSION:-}" ]; then
	VERSION="$(git describe --tags --match 'v*' --exact-match "$COMMIT" 2>/dev/null ||
		echo "v0.0.0-$(date -u -d "@$EPOCH" +%Y%m%d%H%M%S)-${COMMIT:0:12}")"
fi
case "$VERSION" in
v[0-9]*) ;;
*) echo "release: VERSION=$VERSION: want a v-prefixed semantic version, e.g. v1.2.3" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git archive --format=tar "$COMMIT" | tar -x -C "$work/"
src="$work"

mkdir -p "$DIST"
rm -f "$DIST"/gatehouse-*-linux-*.tar.gz "$DIST/SHA256SUMS"
ldflags="-s -w -buildid= -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE"
for arch in $ARCHES; do
	name="gatehouse-$VERSION-linux-$arch"
	stage="$work/stage/$name"
	mkdir -p "$stage/deploy/systemd"
	echo "release: building $name" >&2
	(cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOFLAGS= \
		"$GO" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$stage/gatehouse" ./cmd/gatehouse)
	cp "$src/README.md" "$stage/"
	[ -f "$src/LICENSE" ] && cp "$src/LICENSE" "$stage/"
	cp "$src/deploy/systemd/gatehouse.service" "$src/deploy/systemd/README.md" "$stage/deploy/systemd/"
	tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
		--mode='u+rwX,go+rX,go-w' --format=gnu -C "$work/stage" -cf - "$name" |
		gzip -9 -n >"$DIST/$name.tar.gz"
done
(cd "$DIST" && sha256sum gatehouse-"$VERSION"-linux-*.tar.gz >SHA256SUMS)
echo "release: $VERSION ($COMMIT) in $DIST:" >&2
cat "$DIST/SHA256SUMS" >&2
