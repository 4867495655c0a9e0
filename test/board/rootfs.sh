#!/usr/bin/env bash
# Builds (once) and caches a Debian 12 root file system for an emulated board, as a tarball:
#
#   test/board/rootfs.sh [--arch arm64|armhf|amd64]    # prints the tarball's path
#
# debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus from the Debian archive this
# host's apt uses, then, inside, what deploy/install.sh would apt-get (ffmpeg v4l-utils
# mosquitto-clients curl, --no-install-recommends) so the test installs with --no-apt. Foreign
# architectures run through qemu-user (binfmt_misc, F flag). Cached in $EDGE_AGENT_BOARD_CACHE
# (default /var/cache/edge-agent-board) and never rebuilt while the tarball is there: idempotent,
# and safe to run twice at once (flock).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=test/board/lib.sh
source "$HERE/lib.sh"

ARCH=arm64
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    *) fail "usage: test/board/rootfs.sh [--arch arm64|armhf|amd64]" ;;
  esac
done
[[ $EUID -eq 0 ]] || fail "needs root (debootstrap, chroot)"

OUT="$(rootfs_tarball "$ARCH")"
if [[ -s "$OUT" ]]; then
  printf '%s\n' "$OUT"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock-$ARCH"
flock 9
if [[ -s "$OUT" ]]; then # built by another run while we waited
  printf '%s\n' "$OUT"
  exit 0
fi

ensure_tools
ensure_binfmt "$ARCH"
MIRROR="$(detect_mirror)"
BUILD="$CACHE/build-$ARCH"
cleanup() {
  # Whatever the chroot step left mounted, then the half-built tree.
  if [[ -d "$BUILD" ]]; then
    findmnt -rn -o TARGET | grep -F "$BUILD/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$BUILD"
  fi
}
trap cleanup EXIT
cleanup
started=$SECONDS

say "debootstrap $SUITE $ARCH from $MIRROR (minbase + systemd, systemd-sysv, dbus)"
debootstrap --arch="$ARCH" --variant=minbase --include=systemd,systemd-sysv,dbus \
  "$SUITE" "$BUILD" "$MIRROR" >"$CACHE/debootstrap-$ARCH.log" 2>&1 ||
  { tail -30 "$CACHE/debootstrap-$ARCH.log" >&2; fail "debootstrap failed (log: $CACHE/debootstrap-$ARCH.log)"; }
say "debootstrap done in $((SECONDS - started)) s"

# What deploy/install.sh apt-gets on a board (the test installs with --no-apt).
PACKAGES=(ffmpeg v4l-utils mosquitto-clients curl ca-certificates)
# Raspberry Pi OS has libatomic1, which the official armv7l Node.js binaries need.
[[ "$ARCH" == armhf ]] && PACKAGES+=(libatomic1)
say "apt-get install ${PACKAGES[*]} inside"
# shellcheck disable=SC2016 # expanded by the inner bash
unshare -m --propagation private bash -c '
  set -e
  R="$1"; shift
  mount -t proc proc "$R/proc"
  mount --rbind /dev "$R/dev"
  mount -t sysfs sysfs "$R/sys"
  mount -t tmpfs tmpfs "$R/tmp"
  chroot "$R" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 apt-get update -q
  chroot "$R" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 apt-get install -y -q --no-install-recommends "$@"
  chroot "$R" apt-get clean
' _ "$BUILD" "${PACKAGES[@]}" >"$CACHE/apt-$ARCH.log" 2>&1 ||
  { tail -30 "$CACHE/apt-$ARCH.log" >&2; fail "apt-get inside the rootfs failed (log: $CACHE/apt-$ARCH.log)"; }
rm -rf "$BUILD"/var/lib/apt/lists/*
say "packages done at $((SECONDS - started)) s"

# A board's identity, and a boot that suits a container: no getty on the console, no machine id
# (systemd makes a transient one each boot).
echo board >"$BUILD/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 board\n' >"$BUILD/etc/hosts"
: >"$BUILD/etc/machine-id"
ln -sf /lib/systemd/system/multi-user.target "$BUILD/etc/systemd/system/default.target"
for unit in console-getty.service getty@.service systemd-firstboot.service; do
  ln -sf /dev/null "$BUILD/etc/systemd/system/$unit"
done

# Under qemu-user, systemd cannot set up LoadCredential= (the unit fails with exit 243,
# CREDENTIALS) nor PrivateNetwork=: stock units using them get a drop-in reset, in foreign
# rootfs only (the native one keeps the full sandbox, which the test proves there).
if [[ -n "$(qemu_name "$ARCH")" ]]; then
  while IFS= read -r file; do
    unit="$(basename "$file")"
    dir="$BUILD/etc/systemd/system/$unit.d"
    mkdir -p "$dir"
    {
      echo '# test/board/rootfs.sh: not possible under qemu-user'
      echo '[Service]'
      grep -q '^LoadCredential=' "$file" && echo 'LoadCredential='
      grep -q '^PrivateNetwork=' "$file" && echo 'PrivateNetwork=no'
    } >"$dir/qemu-user.conf"
    say "qemu-user reset for $unit: $(grep -E '^(LoadCredential|PrivateNetwork)=' "$file" | cut -d= -f1 | sort -u | tr '\n' ' ')"
  done < <(grep -lE '^(LoadCredential|PrivateNetwork)=' "$BUILD"/lib/systemd/system/*.service 2>/dev/null || true)
fi

tmp="$OUT.part"
tar --numeric-owner --xattrs --acls -czf "$tmp" -C "$BUILD" .
mv "$tmp" "$OUT"
say "rootfs $ARCH cached in $OUT ($(du -h "$OUT" | cut -f1), $((SECONDS - started)) s)"
printf '%s\n' "$OUT"
