# shellcheck shell=bash
# Helpers shared by deploy/install.sh: logging, idempotent file writes, and system commands that
# a --root install (tests, image builds) must not run against the live machine.

# shellcheck disable=SC2034  # read by install.sh and lib/unit.sh
CHANGED=0
ROOT="${ROOT:-}"

log() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() {
  printf 'install: error: %s\n' "$*" >&2
  exit 1
}
changed() {
  CHANGED=1
  log "changed: $*"
}

# A path on the target system (under --root when given).
p() { printf '%s%s' "$ROOT" "$1"; }

# True when installing into a throwaway root: no users, no chown, no apt, no live systemd.
root_mode() { [[ -n "$ROOT" ]]; }

# mkdir with mode and owner, reporting only when something changed.
ensure_dir() {
  local dir="$1" mode="$2" owner="$3"
  local target
  target="$(p "$dir")"
  if [[ ! -d "$target" ]]; then
    mkdir -p "$target"
    changed "created $dir"
  fi
  if [[ "$(stat -c '%a' "$target")" != "${mode#0}" ]]; then
    chmod "$mode" "$target"
    changed "mode $mode on $dir"
  fi
  ensure_owner "$dir" "$owner"
}

# chown only on a live install (the user does not exist in a --root tree).
ensure_owner() {
  local path="$1" owner="$2"
  root_mode && return 0
  if [[ "$(stat -c '%U:%G' "$path")" != "$owner" ]]; then
    # -h: a link planted where a file or folder should be is changed itself, never its target.
    chown -h "$owner" "$path"
    changed "owner $owner on $path"
  fi
}

# Writes stdin to a target path only if the content differs: re-runs must change nothing.
write_if_changed() {
  local dest="$1" mode="$2"
  local target tmp
  target="$(p "$dest")"
  tmp="$(mktemp)"
  cat >"$tmp"
  if [[ -f "$target" ]] && cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
    return 1
  fi
  mkdir -p "$(dirname "$target")"
  install -m "$mode" "$tmp" "$target"
  rm -f "$tmp"
  changed "wrote $dest"
  return 0
}

# Removes a file if present, reporting the change.
remove_file() {
  local target
  target="$(p "$1")"
  if [[ -e "$target" || -L "$target" ]]; then
    rm -f "$target"
    changed "removed $1"
  fi
}

# Points a symlink at a target only when it points elsewhere, in one rename: a reader (systemd
# starting the unit, the CLI) never finds the link missing or half-made.
ensure_link() {
  local link="$1" to="$2"
  local target
  target="$(p "$link")"
  if [[ "$(readlink "$target" 2>/dev/null || true)" != "$to" ]]; then
    ln -sfn "$to" "$target.tmp-$$"
    mv -Tf "$target.tmp-$$" "$target"
    changed "$link -> $to"
  fi
}

# A board's family for drop-ins: jetson, pi or other (looked up under --root too, for tests).
board_family() {
  if [[ -e "$(p /etc/nv_tegra_release)" ]] || grep -qs 'nvidia,tegra' "$(p /proc/device-tree/compatible)"; then
    echo jetson
  elif grep -qs 'raspberrypi' "$(p /proc/device-tree/compatible)"; then
    echo pi
  else
    echo other
  fi
}

# True when a group exists on the target system.
group_exists() {
  if root_mode; then
    grep -qs "^$1:" "$(p /etc/group)"
  else
    getent group "$1" >/dev/null
  fi
}
