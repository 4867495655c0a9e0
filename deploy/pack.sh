#!/usr/bin/env bash
# Builds a release tarball for boards: edge-agent-<version>.tar.gz holding one folder
# edge-agent-<version>/ with package.json, package-lock.json, dist/, systemd/, deploy/, README.md.
# node_modules is left out on purpose: better-sqlite3 and the notify module are per-architecture,
# so install.sh runs `npm ci --omit=dev` on the board itself.
#
#   deploy/pack.sh [--out DIR] [--no-build]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/.." && pwd)"
OUT="$SRC"
BUILD=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "usage: deploy/pack.sh [--out DIR] [--no-build]" >&2; exit 2 ;;
  esac
done

cd "$SRC"
((BUILD)) && npm run --silent build
[[ -f dist/agent/cli.js ]] || { echo "pack: dist/agent/cli.js missing; run npm run build" >&2; exit 1; }

version="$(node -p 'require("./package.json").version')"
name="edge-agent-$version"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
items=(package.json package-lock.json dist systemd deploy)
[[ -f README.md ]] && items+=(README.md)
cp -a "${items[@]}" "$stage/$name/"
# Source maps stay (stack traces from the field point at TypeScript lines); tests never ship.
find "$stage/$name/dist" -path '*/test/*' -delete 2>/dev/null || true
mkdir -p "$OUT"
tar -czf "$OUT/$name.tar.gz" -C "$stage" --owner=0 --group=0 "$name"
echo "$OUT/$name.tar.gz"
