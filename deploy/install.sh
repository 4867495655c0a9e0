#!/usr/bin/env bash
# Installs or upgrades edge-camera-agent on a board (Raspberry Pi OS bookworm arm64/armhf,
# Ubuntu-based JetPack 5/6) from a release made by deploy/pack.sh. Offline: nothing is fetched
# or compiled (apt-get only for ffmpeg & co., skipped by --no-apt). Idempotent.
#
#   sudo deploy/install.sh [--from DIR|TARBALL] [--no-apt] [--no-start] [--root DIR] [--release-key FILE ...]
#   sudo deploy/install.sh --rollback          # back to the release running before the last switch
#   sudo deploy/install.sh --uninstall [--purge]
#
# A release that is refused, or whose unit does not start, leaves the running one running.
# Keeps config (/etc/edge-agent) and data (/var/lib/edge-agent); --purge removes them too.
# --root DIR installs into a throwaway tree (tests, image builds): no apt, user or systemctl.
# --release-key FILE (repeatable) installs an Ed25519 public key the board's updater trusts for
# signed updates, into /etc/edge-agent/release-keys/ (README "Updates").
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/lib/common.sh
source "$HERE/lib/common.sh"
# shellcheck source=deploy/lib/runtime.sh
source "$HERE/lib/runtime.sh"

APP=/opt/edge-agent
UNIT=/etc/systemd/system/edge-agent.service
UPDATE_UNITS=(edge-agent-update.service edge-agent-update.path)
UPDATE_LAUNCHER=/usr/local/sbin/edge-agent-update
DROPINS=/etc/systemd/system/edge-agent.service.d
# Secrets live outside /etc/edge-agent, which the agent owns (set-config rewrites its config
# file there): inside it, the agent user could swap the folder for a link that root (this
# script's chmod/chown, systemd's LoadCredential=) then follows. Up to 0.x they were in
# OLD_CREDS; migrate_credentials moves them.
CREDS=/etc/edge-agent-credentials
OLD_CREDS=/etc/edge-agent/credentials
CRED_NAMES=(mqtt-password gemini-api-key http-token command-key mqtt-technician)
USER_NAME=edge-agent
KEEP_RELEASES=3
FROM="$(cd "$HERE/.." && pwd)"
CLEANUP=()
trap '((${#CLEANUP[@]})) && rm -rf "${CLEANUP[@]}"' EXIT
ACTION=install
APT=1
START=1
PURGE=0
# --root only: install a release for another architecture (building a board image on a PC).
ANY_ARCH=0
RELEASE_KEYS=()
KEYS_DIR=/etc/edge-agent/release-keys

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) FROM="$2"; shift 2 ;;
    --root) ROOT="$(cd "$2" && pwd)"; shift 2 ;;
    --no-apt) APT=0; shift ;;
    --no-start) START=0; shift ;;
    --keep) KEEP_RELEASES="$2"; shift 2 ;;
    --rollback) ACTION=rollback; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --any-arch) ANY_ARCH=1; shift ;;
    --release-key) RELEASE_KEYS+=("$2"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

# Refuses a release this board cannot run, before anything on the board changes. A release
# with its own runtime needs nothing; an armhf one needs the board's Node.js >= 22.13.
check_release() {
  local src="$1" arch runtime
  [[ -f "$src/package.json" && -f "$src/dist/agent/cli.js" ]] || die "$src is not a built release (needs package.json and dist/agent/cli.js; run deploy/pack.sh)"
  [[ -d "$src/node_modules" ]] || die "$src has no node_modules: build the release with deploy/pack.sh (nothing is fetched on the board)"
  local version
  version="$(release_field "$src" VERSION)"
  [[ -n "$version" ]] || version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$src/package.json" | head -n 1)"
  # Part of a path root deletes under: a version like ".." or "../x" must never get there.
  [[ "$version" =~ ^[0-9][0-9A-Za-z.+_-]*$ && "$version" != *..* ]] || die "release version '$version' is not a version (digits first; letters, digits, . + _ -)"
  RELEASE_VERSION="$version"
  arch="$(release_field "$src" ARCH)"
  runtime="$(release_field "$src" RUNTIME)"
  if [[ -n "$arch" && "$arch" != "$(machine_arch)" ]]; then
    { ((ANY_ARCH)) && root_mode; } || die "this release is for $arch but this board is $(machine_arch): use edge-agent-<version>-linux-$(machine_arch).tar.gz"
    warn "a release for $arch installed into --root on $(machine_arch) (--any-arch): its runtime is not tried here"
    return 0
  fi
  if [[ -n "$runtime" && "$runtime" != none ]]; then
    "$src/runtime/bin/node" -e 0 >/dev/null 2>&1 || die "the release's Node.js runtime does not run on this board ($src/runtime/bin/node)"
    return 0
  fi
  local version
  version="$(node -p 'process.versions.node' 2>/dev/null || echo none)"
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=13)?0:1)' 2>/dev/null; then
    die "this release ships no Node.js runtime (32-bit ARM: the npm registry has no Node 22+ for it) and needs the board's Node.js 22.13 or newer (found: $version).
  Recommended: 64-bit Raspberry Pi OS and the arm64 release, which brings its own Node.js.
  Otherwise unpack the official Node.js 22 linux-armv7l tarball into /usr/local."
  fi
}

# One field of a release's release.env (empty for a release from before release.env).
release_field() {
  sed -n "s/^$2=//p" "$1/release.env" 2>/dev/null | head -n 1
}

apt_packages() {
  ((APT)) || return 0
  if root_mode; then
    log "skip (--root): apt-get install"
    return 0
  fi
  local pkgs=(ffmpeg v4l-utils mosquitto-clients curl)
  # rpicam-vid for CSI cameras; the -lite build has no preview window (headless boards).
  [[ "$(board_family)" == pi ]] && pkgs+=(rpicam-apps-lite)
  local missing=()
  for pkg in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  changed "apt installed ${missing[*]}"
}

ensure_user() {
  if root_mode; then
    log "skip (--root): user $USER_NAME"
    return 0
  fi
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/edge-agent --no-create-home \
      --shell /usr/sbin/nologin --comment 'edge camera agent' "$USER_NAME"
    changed "created user $USER_NAME"
  fi
  local group
  for group in video render; do
    group_exists "$group" || continue
    if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx "$group"; then
      usermod -aG "$group" "$USER_NAME"
      changed "added $USER_NAME to $group"
    fi
  done
}

ensure_dirs() {
  local owner="$USER_NAME:$USER_NAME"
  ensure_dir /var/lib/edge-agent 0750 "$owner"
  # The agent owns its config dir: set-config persists the file (atomic rename needs the dir).
  ensure_dir /etc/edge-agent 0750 "$owner"
  # Secrets stay root-only; systemd reads them (LoadCredential=) and hands the agent a copy.
  [[ -L "$(p "$CREDS")" ]] && die "$CREDS is a symbolic link; it must be a root-owned folder: nothing changed"
  ensure_dir "$CREDS" 0700 root:root
  migrate_credentials
  ensure_dir "$APP/releases" 0755 root:root
}

# True for a path owned by root (in a --root tree, where nothing is chowned, always).
root_owned() { root_mode || [[ "$(stat -c '%u' "$1")" == 0 ]]; }

# Moves the secrets of an older install from OLD_CREDS (inside the agent's folder) to CREDS.
# Nothing there is trusted that the agent user could have made: only regular files (never
# links) owned by root, in a real root-owned folder; anything else is named and left alone.
migrate_credentials() {
  local old new name src refused=0
  old="$(p "$OLD_CREDS")"
  new="$(p "$CREDS")"
  [[ -e "$old" || -L "$old" ]] || return 0
  if [[ -L "$old" || ! -d "$old" ]] || ! root_owned "$old"; then
    warn "$OLD_CREDS is not a root-owned folder (a link, or made by another user): nothing taken from it; put the secrets in $CREDS/ and remove it"
    return 0
  fi
  for name in "${CRED_NAMES[@]}"; do
    src="$old/$name"
    [[ -e "$src" || -L "$src" ]] || continue
    if [[ -L "$src" || ! -f "$src" ]] || ! root_owned "$src"; then
      warn "$OLD_CREDS/$name is not a regular root-owned file: not moved"
      refused=1
    elif [[ -e "$new/$name" ]]; then
      warn "$CREDS/$name already exists: kept it, the old $OLD_CREDS/$name is dropped"
    else
      # cat, not cp: the new file is made here with our mode, never a copy of the old one's.
      (umask 077 && cat -- "$src" >"$new/$name.tmp") && mv -f -- "$new/$name.tmp" "$new/$name"
      root_mode || chown root:root "$new/$name"
      changed "moved credential $name to $CREDS/"
    fi
  done
  if ((refused)); then
    warn "kept $OLD_CREDS for you to check"
  else
    rm -rf -- "$old"
    changed "removed $OLD_CREDS (secrets now in $CREDS/)"
  fi
}

# Each --release-key must be an Ed25519 public key, checked before anything changes. A private
# key is refused outright: Node would happily derive the public half, and the secret would be left
# on the board.
check_release_keys() {
  ((${#RELEASE_KEYS[@]})) || return 0
  local key node=""
  if [[ -x "$SOURCE/runtime/bin/node" ]] && "$SOURCE/runtime/bin/node" -e 0 >/dev/null 2>&1; then
    node="$SOURCE/runtime/bin/node"
  elif command -v node >/dev/null; then
    node=node
  fi
  for key in "${RELEASE_KEYS[@]}"; do
    [[ -f "$key" && -r "$key" ]] || die "--release-key: cannot read $key"
    grep -q 'PRIVATE KEY' "$key" && die "--release-key $key is a private key: install its public half (openssl pkey -in $key -pubout -out release.pub); nothing changed"
    if [[ -n "$node" && -f "$SOURCE/deploy/lib/manifest.mjs" ]]; then
      "$node" "$SOURCE/deploy/lib/manifest.mjs" check-key "$key" >/dev/null 2>&1 || die "--release-key $key is not an Ed25519 public key in PEM; nothing changed"
    else
      grep -q -- '-----BEGIN PUBLIC KEY-----' "$key" || die "--release-key $key is not a public key in PEM; nothing changed"
    fi
  done
}

# The keys the updater trusts. The folder sits in the agent's own /etc/edge-agent, so it and its
# files are root's and writable only by root: the updater refuses anything else (the agent user
# could have made it), and the agent's unit mounts it read-only so it cannot be renamed away.
install_release_keys() {
  ((${#RELEASE_KEYS[@]})) || return 0
  local key name
  [[ -L "$(p "$KEYS_DIR")" ]] && die "$KEYS_DIR is a symbolic link; it must be a root-owned folder: nothing changed"
  ensure_dir "$KEYS_DIR" 0755 root:root
  for key in "${RELEASE_KEYS[@]}"; do
    name="$(basename "$key")"
    name="${name%.pem}"
    name="${name%.pub}.pem"
    write_if_changed "$KEYS_DIR/$name" 0644 <"$key" || true
    ensure_owner "$(p "$KEYS_DIR/$name")" root:root
  done
}

# Records the release now running as proven good: the update launcher runs its updater.
mark_known_good() {
  ensure_dir "$APP/update" 0755 root:root
  write_if_changed "$APP/update/known-good" 0644 < <(readlink "$(p "$APP/current")") || true
}

# `edge-agent-update` (root): the launcher edge-agent-update.service runs.
install_update_launcher() {
  local src
  src="$(p "$APP/current")/deploy/lib/update-launcher.sh"
  [[ -f "$src" ]] || return 0
  write_if_changed "$UPDATE_LAUNCHER" 0755 <"$src" || true
}

# Sets SOURCE to the release to install, as a directory: unpacks a tarball (one top-level folder).
find_source() {
  if [[ -d "$FROM" ]]; then
    SOURCE="$FROM"
    return 0
  fi
  [[ -f "$FROM" ]] || die "no release at $FROM"
  local tmp
  tmp="$(mktemp -d)"
  CLEANUP+=("$tmp")
  tar -xzf "$FROM" -C "$tmp" || die "cannot unpack $FROM"
  local tops=("$tmp"/*)
  if ((${#tops[@]} == 1)) && [[ -d "${tops[0]}" ]]; then SOURCE="${tops[0]}"; else SOURCE="$tmp"; fi
}

# What a release holds; a checkout's dev node_modules, tests and sources are never copied.
RELEASE_ITEMS=(release.env package.json package-lock.json bin runtime dist agent systemd deploy README.md node_modules)

# Unpacks the release beside the others, checks it, and only then switches `current` to it.
# Until the switch nothing the running agent uses has changed; a failure stops before it.
install_release() {
  local src="$SOURCE" version dest incoming item
  version="$RELEASE_VERSION"
  dest="$(p "$APP/releases/$version")"
  incoming="$(p "$APP/releases/.incoming-$version")"
  rm -rf "$incoming"
  CLEANUP+=("$incoming")
  mkdir -p "$incoming"
  for item in "${RELEASE_ITEMS[@]}"; do
    [[ -e "$src/$item" ]] || continue
    [[ "$item" == node_modules && -d "$src/.git" ]] && continue
    cp -a "$src/$item" "$incoming/"
  done
  verify_release "$incoming"
  if [[ -d "$dest" ]] && diff -rq "$incoming" "$dest" >/dev/null 2>&1; then
    rm -rf "$incoming"
  else
    if [[ -d "$dest" ]]; then
      # The same version rebuilt. Moved aside rather than deleted, so a running agent keeps its files.
      rm -rf "$dest.replaced"
      mv "$dest" "$dest.replaced"
      CLEANUP+=("$dest.replaced")
    fi
    mv "$incoming" "$dest"
    changed "installed release $version"
  fi
  switch_current "releases/$version"
  prune_releases
}

# The new release must read this board's config before it replaces the running one: a release
# that refuses the config would not start.
verify_release() {
  local rel="$1" cfg
  cfg="$(p /etc/edge-agent/config.json)"
  [[ -f "$cfg" ]] || return 0
  release_runs "$rel" || return 0
  local out
  out="$("$rel/bin/edge-agent" config check "$cfg" 2>&1)" || die "the new release rejects /etc/edge-agent/config.json; nothing changed:
$out"
}

# True when this machine can run the release's CLI (not so for a foreign arch under --root).
release_runs() {
  [[ -x "$1/bin/edge-agent" ]] && "$1/bin/edge-agent" version >/dev/null 2>&1
}

# Moves `current` to a release, remembering the one it replaces as `previous` for --rollback.
switch_current() {
  local to="$1" now
  now="$(readlink "$(p "$APP/current")" 2>/dev/null || true)"
  [[ "$now" == "$to" ]] && return 0
  SWITCHED_FROM="$now"
  SWITCHED_PREVIOUS="$(readlink "$(p "$APP/previous")" 2>/dev/null || true)"
  [[ -n "$now" ]] && ensure_link "$APP/previous" "$now"
  ensure_link "$APP/current" "$to"
}

# Undoes switch_current after the new release failed to start: both links as they were.
undo_switch() {
  [[ -n "${SWITCHED_FROM:-}" ]] || return 1
  ensure_link "$APP/current" "$SWITCHED_FROM"
  if [[ -n "$SWITCHED_PREVIOUS" ]]; then ensure_link "$APP/previous" "$SWITCHED_PREVIOUS"; else remove_file "$APP/previous"; fi
}

# Keeps current, previous and the newest others, up to KEEP_RELEASES.
prune_releases() {
  local current previous dir name kept=0
  current="$(basename "$(readlink "$(p "$APP/current")")")"
  previous="$(basename "$(readlink "$(p "$APP/previous")" 2>/dev/null || echo none)")"
  while IFS= read -r dir; do
    name="$(basename "$dir")"
    if [[ "$name" == "$current" || "$name" == "$previous" ]]; then continue; fi
    kept=$((kept + 1))
    if ((kept > KEEP_RELEASES - 2)); then
      rm -rf "$dir"
      changed "pruned release $name"
    fi
  done < <(find "$(p "$APP/releases")" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -name '*.replaced' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
}

write_config() {
  local cfg=/etc/edge-agent/config.json
  if [[ -e "$(p "$cfg")" ]]; then
    return 0
  fi
  write_if_changed "$cfg" 0640 <"$(p "$APP/current")/deploy/config.board.json" || true
  ensure_owner "$cfg" "$USER_NAME:$USER_NAME"
}

# `edge-agent doctor|status|config|probe` for technicians, always the current release.
install_cli() {
  write_if_changed /usr/local/bin/edge-agent 0755 < <(printf '#!/bin/sh\n# Installed by edge-agent deploy/install.sh\nexec %s/current/bin/edge-agent "$@"\n' "$APP") || true
}

# shellcheck source=deploy/lib/unit.sh
source "$HERE/lib/unit.sh"

case "$ACTION" in
  install)
    find_source
    check_release "$SOURCE"
    check_release_keys
    apt_packages
    ensure_user
    ensure_dirs
    install_release_keys
    install_release
    write_config
    install_cli
    install_update_launcher
    install_unit
    ((START_FAILED)) && back_out_release
    install_updater_units
    mark_known_good
    ;;
  rollback)
    rollback
    mark_known_good
    ;;
  uninstall) uninstall ;;
esac

if ((CHANGED)); then log "done"; else log "no changes"; fi
