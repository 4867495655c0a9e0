#!/usr/bin/env bash
# Installs or upgrades edge-camera-agent on a board (Raspberry Pi OS bookworm arm64/armhf,
# Ubuntu-based JetPack 5/6). Idempotent: a second run with the same release changes nothing.
#
#   sudo deploy/install.sh [--from DIR|TARBALL] [--no-apt] [--no-start] [--root DIR]
#   sudo deploy/install.sh --rollback          # back to the previous release
#   sudo deploy/install.sh --uninstall [--purge]
#
# Keeps config (/etc/edge-agent) and data (/var/lib/edge-agent) on upgrade and uninstall;
# --purge removes them too. --root DIR installs into a throwaway tree (tests, image builds):
# no apt, no user, no chown, no live systemctl there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/lib/common.sh
source "$HERE/lib/common.sh"

APP=/opt/edge-agent
UNIT=/etc/systemd/system/edge-agent.service
DROPINS=/etc/systemd/system/edge-agent.service.d
CREDS=/etc/edge-agent/credentials
USER_NAME=edge-agent
KEEP_RELEASES=3
FROM="$(cd "$HERE/.." && pwd)"
ACTION=install
APT=1
START=1
PURGE=0

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

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
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

check_node() {
  local major
  major="$(node_major)"
  if ((major < 20)); then
    die "Node.js 20 or newer is required (found: ${major/#0/none}). Install Node.js 22 LTS:
  Raspberry Pi OS / Ubuntu (JetPack): add NodeSource's Node.js 22.x apt repository, then
  'apt-get install nodejs'; or unpack the official linux-arm64 / linux-armv7l 22.x tarball
  into /usr/local. 22 is the last line with official armv7 (32-bit Pi OS) builds."
  fi
  ((major >= 22)) || warn "Node.js $major works but 22 LTS is recommended on boards (20 is past end of life)"
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
  ensure_dir "$CREDS" 0700 root:root
  ensure_dir "$APP/releases" 0755 root:root
}

# The release to install, as a directory: unpacks a tarball (one top-level folder) if given one.
release_source() {
  if [[ -d "$FROM" ]]; then
    printf '%s' "$FROM"
    return 0
  fi
  [[ -f "$FROM" ]] || die "no release at $FROM"
  local tmp
  tmp="$(mktemp -d)"
  tar -xzf "$FROM" -C "$tmp"
  local tops=("$tmp"/*)
  if ((${#tops[@]} == 1)) && [[ -d "${tops[0]}" ]]; then printf '%s' "${tops[0]}"; else printf '%s' "$tmp"; fi
}

# What a release holds; a checkout's dev node_modules, tests and sources are never copied.
RELEASE_ITEMS=(package.json package-lock.json dist systemd deploy README.md node_modules)

install_release() {
  local src version dest tmp item
  src="$(release_source)"
  [[ -f "$src/package.json" && -f "$src/dist/agent/cli.js" ]] || die "$src is not a built release (needs package.json and dist/agent/cli.js; run deploy/pack.sh)"
  version="$(node -p 'require(process.argv[1]).version' "$src/package.json")"
  dest="$(p "$APP/releases/$version")"
  tmp="$(p "$APP/releases/.incoming-$version")"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for item in "${RELEASE_ITEMS[@]}"; do
    [[ -e "$src/$item" ]] || continue
    [[ "$item" == node_modules && -d "$src/.git" ]] && continue
    cp -a "$src/$item" "$tmp/"
  done
  if [[ -d "$dest" ]] && diff -rq --exclude=node_modules "$tmp" "$dest" >/dev/null 2>&1; then
    rm -rf "$tmp"
  else
    # Same version rebuilt: keep its node_modules when the lock file did not change.
    if [[ -d "$dest/node_modules" && ! -d "$tmp/node_modules" ]] && cmp -s "$dest/package-lock.json" "$tmp/package-lock.json"; then
      mv "$dest/node_modules" "$tmp/node_modules"
    fi
    rm -rf "$dest"
    mv "$tmp" "$dest"
    changed "installed release $version"
  fi
  if [[ ! -d "$dest/node_modules" ]]; then
    log "npm ci --omit=dev in $APP/releases/$version"
    (cd "$dest" && npm ci --omit=dev --no-audit --no-fund)
    changed "node_modules for $version"
  fi
  switch_current "releases/$version"
  prune_releases
}

# Moves `current` to a release, remembering the old one as `previous` for --rollback.
switch_current() {
  local to="$1" now
  now="$(readlink "$(p "$APP/current")" 2>/dev/null || true)"
  [[ "$now" == "$to" ]] && return 0
  [[ -n "$now" ]] && ensure_link "$APP/previous" "$now"
  ensure_link "$APP/current" "$to"
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
  done < <(find "$(p "$APP/releases")" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)
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
  local node
  node="$(command -v node)"
  write_if_changed /usr/local/bin/edge-agent 0755 < <(printf '#!/bin/sh\n# Installed by edge-agent deploy/install.sh\nexec %s %s/current/dist/agent/cli.js "$@"\n' "$node" "$APP") || true
}

# shellcheck source=deploy/lib/unit.sh
source "$HERE/lib/unit.sh"

case "$ACTION" in
  install)
    check_node
    apt_packages
    ensure_user
    ensure_dirs
    install_release
    write_config
    install_cli
    install_unit
    ;;
  rollback) rollback ;;
  uninstall) uninstall ;;
esac

if ((CHANGED)); then log "done"; else log "no changes"; fi
