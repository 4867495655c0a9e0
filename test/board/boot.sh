#!/usr/bin/env bash
# Boots an emulated board: a cached Debian rootfs (test/board/rootfs.sh) unpacked into a work
# folder and booted with real systemd as PID 1 by systemd-nspawn (qemu-user for arm64/armhf).
# The host has no systemd (so no machined): commands reach the board through nsenter.
#
#   test/board/boot.sh start DIR [--arch arm64|armhf|amd64] [-- NSPAWN-ARGS...]
#       unpacks into DIR/root, boots, waits until systemd says running/degraded; prints the
#       board's PID 1 (host view). NSPAWN-ARGS e.g. --tmpfs=/mnt/ssd:mode=0755
#   test/board/boot.sh exec DIR [--] COMMAND...      runs COMMAND inside (all namespaces)
#   test/board/boot.sh unpack DIR [--arch A]         only unpacks into DIR/root (no boot)
#   test/board/boot.sh chroot DIR [--] COMMAND...    runs COMMAND in DIR/root through chroot
#       (own mount namespace with /proc, /dev, /sys, /tmp): for a board that is not booted
#   test/board/boot.sh stop DIR                      powers off (kills after 60 s), unmounts,
#       removes DIR and the payload/ and supervisor/ cgroups nspawn --keep-unit leaves behind
#
# nspawn runs without --private-network: the board shares the host's network namespace, so
# its 127.0.0.1 is the host's (the test reaches the agent and the agent the host's broker).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=test/board/lib.sh
source "$HERE/lib.sh"

BOARD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

leader() { cat "$1/leader.pid" 2>/dev/null; }

board_exec() {
  local dir="$1" pid
  shift
  pid="$(leader "$dir")"
  [[ -n "$pid" && -d "/proc/$pid" ]] || fail "board in $dir is not running"
  exec nsenter -t "$pid" -m -u -i -n -p -C -r -w \
    env -i PATH="$BOARD_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# The board's PID 1: nspawn's child that runs in another PID namespace.
find_leader() {
  local nspawn="$1" child
  for child in $(pgrep -P "$nspawn" || true); do
    if [[ "$(readlink "/proc/$child/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]]; then
      echo "$child"
      return 0
    fi
  done
  return 1
}

unpack() {
  local dir="$1" arch="$2" tarball t0=$SECONDS
  tarball="$("$HERE/rootfs.sh" --arch "$arch")"
  ensure_binfmt "$arch"
  mkdir -p "$dir/root"
  tar --numeric-owner --xattrs --acls -xzpf "$tarball" -C "$dir/root"
  say "unpacked $arch rootfs in $((SECONDS - t0)) s"
}

board_chroot() {
  local dir="$1"
  shift
  [[ -d "$dir/root/etc" ]] || fail "no rootfs unpacked in $dir"
  # shellcheck disable=SC2016 # expanded by the inner bash
  exec unshare -m --propagation private bash -c '
    set -e
    R="$1"; shift
    mount -t proc proc "$R/proc"
    mount --rbind /dev "$R/dev"
    mount -t sysfs sysfs "$R/sys"
    mount -t tmpfs tmpfs "$R/tmp"
    exec chroot "$R" "$@"
  ' _ "$dir/root" env -i PATH="$BOARD_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

start() {
  local dir="$1"
  shift
  local arch=arm64 extra=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --arch) arch="$2"; shift 2 ;;
      --) shift; extra=("$@"); break ;;
      *) fail "start: unknown option $1" ;;
    esac
  done
  unpack "$dir" "$arch"
  local name
  name="board-$arch-$$"
  echo "$name" >"$dir/name"
  # --system-call-filter: nspawn denies the @clock calls without CAP_SYS_TIME, even a read-only
  # adjtimex(), so timedated (and `edge-agent doctor`'s clock check) could never see the kernel's
  # NTP state; a board's root has no such filter. Setting the clock still needs CAP_SYS_TIME.
  setsid systemd-nspawn -D "$dir/root" --machine="$name" --register=no --keep-unit --console=pipe \
    --link-journal=no --resolv-conf=off --timezone=off --system-call-filter='adjtimex clock_adjtime' \
    -b "${extra[@]}" \
    </dev/null >"$dir/console.log" 2>&1 &
  local nspawn=$!
  echo "$nspawn" >"$dir/nspawn.pid"
  local deadline=$((SECONDS + 30)) pid=""
  while ((SECONDS < deadline)); do
    pid="$(find_leader "$nspawn" || true)"
    [[ -n "$pid" ]] && break
    kill -0 "$nspawn" 2>/dev/null || { cat "$dir/console.log" >&2; fail "systemd-nspawn exited"; }
    sleep 0.2
  done
  [[ -n "$pid" ]] || { cat "$dir/console.log" >&2; fail "no PID 1 in the board after 30 s"; }
  echo "$pid" >"$dir/leader.pid"
  # Booted: systemd answers and is past starting (running, or degraded when a unit failed).
  local state="" boot=$SECONDS
  deadline=$((SECONDS + ${EDGE_AGENT_BOARD_BOOT_TIMEOUT:-300}))
  while ((SECONDS < deadline)); do
    kill -0 "$nspawn" 2>/dev/null || { tail -40 "$dir/console.log" >&2; fail "systemd-nspawn exited during boot"; }
    state="$("$0" exec "$dir" systemctl is-system-running 2>/dev/null || true)"
    [[ "$state" == running || "$state" == degraded ]] && break
    sleep 0.5
  done
  [[ "$state" == running || "$state" == degraded ]] || { tail -40 "$dir/console.log" >&2; fail "board not booted after $((SECONDS - boot)) s (state: ${state:-no answer})"; }
  say "booted $arch ($state) in $((SECONDS - boot)) s, PID 1 is $pid on the host"
  if [[ "$state" == degraded ]]; then "$0" exec "$dir" systemctl --failed --no-legend >&2 || true; fi
  echo "$pid"
}

# Removes the cgroup folders systemd-nspawn --keep-unit made for its payload and supervisor,
# in every hierarchy, once empty (depth first; a non-empty one is left and reported).
clean_cgroups() {
  local base dir
  for base in /sys/fs/cgroup/*/; do
    for dir in "$base"payload "$base"supervisor; do
      [[ -d "$dir" ]] || continue
      find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      [[ -d "$dir" ]] && say "cgroup $dir not empty, left"
    done
  done
  return 0
}

stop() {
  local dir="$1" nspawn
  nspawn="$(cat "$dir/nspawn.pid" 2>/dev/null || true)"
  if [[ -n "$nspawn" ]] && kill -0 "$nspawn" 2>/dev/null; then
    # `systemctl poweroff` inside. (SIGTERM to nspawn -b sends PID 1 SIGRTMIN+4, which qemu-user
    # does not deliver as such: a foreign board never powered off that way.)
    "$0" exec "$dir" systemctl poweroff --no-block >/dev/null 2>&1 || kill -TERM "$nspawn" 2>/dev/null || true
    local deadline=$((SECONDS + ${EDGE_AGENT_BOARD_STOP_TIMEOUT:-60}))
    while kill -0 "$nspawn" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$nspawn" 2>/dev/null; then
      say "board did not power off in time: killing it"
      local pid
      pid="$(leader "$dir")"
      if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
      kill -KILL "$nspawn" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while kill -0 "$nspawn" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    fi
  fi
  # nspawn's mounts live in its own namespace; anything still mounted under DIR is ours.
  findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  clean_cgroups
  if [[ -d "$dir" ]]; then rm -rf --one-file-system "$dir"; fi
}

[[ $EUID -eq 0 ]] || fail "needs root"
cmd="${1:-}"
shift || true
case "$cmd" in
  start) start "$(realpath -m "$1")" "${@:2}" ;;
  exec)
    d="$1"
    shift
    [[ "${1:-}" == -- ]] && shift
    board_exec "$(realpath -m "$d")" "$@"
    ;;
  stop) stop "$(realpath -m "$1")" ;;
  unpack)
    d="$1"
    a=arm64
    [[ "${2:-}" == --arch ]] && a="$3"
    unpack "$(realpath -m "$d")" "$a"
    ;;
  chroot)
    d="$1"
    shift
    [[ "${1:-}" == -- ]] && shift
    board_chroot "$(realpath -m "$d")" "$@"
    ;;
  clean-cgroups) clean_cgroups ;;
  *) fail "usage: boot.sh start|exec|unpack|chroot|stop DIR ..." ;;
esac
