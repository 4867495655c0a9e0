# shellcheck shell=bash
# Shared by test/board/rootfs.sh and test/board/boot.sh: host tools, qemu-user binfmt, the
# Debian mirror this host's apt uses (never a hostname written in the repo).

CACHE="${EDGE_AGENT_BOARD_CACHE:-/var/cache/edge-agent-board}"
SUITE=bookworm

say() { printf 'board: %s\n' "$*" >&2; }
fail() {
  printf 'board: error: %s\n' "$*" >&2
  exit 1
}

# Installs the host tools once (apt, only what is missing).
ensure_tools() {
  local missing=() pkg
  for pkg in qemu-user-static binfmt-support debootstrap systemd-container; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# qemu's binfmt name for a Debian architecture ("" for the host's own).
qemu_name() {
  case "$1" in
    arm64) echo aarch64 ;;
    armhf) echo arm ;;
    amd64) echo "" ;;
    *) fail "unknown architecture $1" ;;
  esac
}

# Registers qemu-<cpu> with binfmt_misc, with the F flag (the interpreter is opened at
# registration, so it works inside a chroot or container that has no qemu binary).
ensure_binfmt() {
  local cpu
  cpu="$(qemu_name "$1")"
  [[ -n "$cpu" ]] || return 0
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [[ -e "/proc/sys/fs/binfmt_misc/qemu-$cpu" ]] || update-binfmts --enable "qemu-$cpu" >&2
  grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$cpu" || update-binfmts --enable "qemu-$cpu" >&2
  grep -q '^flags: .*F' "/proc/sys/fs/binfmt_misc/qemu-$cpu" ||
    fail "binfmt qemu-$cpu lacks the F flag: $(grep flags "/proc/sys/fs/binfmt_misc/qemu-$cpu")"
}

# The Debian archive URI apt uses on this host (deb822 sources or one-line sources.list).
# EDGE_AGENT_BOARD_MIRROR overrides.
detect_mirror() {
  if [[ -n "${EDGE_AGENT_BOARD_MIRROR:-}" ]]; then
    printf '%s' "$EDGE_AGENT_BOARD_MIRROR"
    return 0
  fi
  local file uri=""
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$file" ]] || continue
    # First stanza whose Suites names the suite itself (not -security) and is not a security archive.
    uri="$(awk -v suite="$SUITE" '
      BEGIN { RS=""; FS="\n" }
      {
        u=""; s=""; t=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); u = a[1] }
          if ($i ~ /^Suites:/) { s = " " $i " " }
          if ($i ~ /^Types:/) { t = $i }
        }
        if (t ~ /deb([ \t]|$)/ && s ~ (" " suite " ") && u !~ /security/ && u != "") { print u; exit }
      }' "$file")"
    [[ -n "$uri" ]] && break
  done
  if [[ -z "$uri" ]]; then
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v suite="$SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == suite && $i !~ /security/) { print $i; exit } }')"
  fi
  [[ -n "$uri" ]] || fail "no Debian $SUITE archive found in /etc/apt/sources.list(.d); set EDGE_AGENT_BOARD_MIRROR"
  printf '%s' "$uri"
}

# The cached rootfs tarball for an architecture.
rootfs_tarball() {
  local revision="$ROOTFS_REVISION"
  [[ "$1" == armhf ]] && revision="$ROOTFS_REVISION_ARMHF"
  printf '%s/rootfs-%s-%s-v%s.tar.gz' "$CACHE" "$SUITE" "$1" "$revision"
}

# Bump when rootfs.sh changes what goes into the image (old tarballs are then left unused).
ROOTFS_REVISION=1
ROOTFS_REVISION_ARMHF=2 # + libatomic1
