#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine (as root): the README's test command
# and .ci/run both start here, so the two cannot drift apart.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  ffmpeg v4l-utils mosquitto mosquitto-clients chromium shellcheck openssl perl python3
  fonts-dejavu-core systemd iproute2 procps ca-certificates faketime util-linux
  # The Jetson producer stand-in runs on real GStreamer (x264enc: ugly, h264parse: bad).
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  # The power-cut library is compiled by its test.
  gcc libc6-dev
  # The emulated board (npm run test:board) and the loaded-machine check (stress-ng).
  qemu-user-static binfmt-support debootstrap systemd-container stress-ng
  # The outside fuzzer of test/integration/reliability-outside-fuzz.test.ts when radamsa is missing.
  zzuf
)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
# radamsa, the fuzzer issue 15 names, is not in Debian 12's archive: install it where the archive
# has it; the outside fuzz test uses zzuf otherwise (and says which one ran in its report).
if apt-cache show radamsa >/dev/null 2>&1; then
  apt-get install -y -qq --no-install-recommends radamsa
else
  echo "setup-machine: radamsa is not in this machine's apt archive; the outside fuzz test uses zzuf" >&2
fi
# promtool checks /metrics (test/integration/metrics.test.ts). Debian ships it only inside the
# prometheus package, whose install would also start a Prometheus server: take the one binary.
if ! command -v promtool >/dev/null 2>&1; then
  staging="$(mktemp -d)"
  # (apt warns that it downloads as root into a private folder: harmless)
  (cd "$staging" && apt-get download -qq prometheus)
  dpkg-deb --fsys-tarfile "$staging"/prometheus_*.deb | tar -x -C "$staging" ./usr/bin/promtool
  install -m 755 "$staging/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$staging"
fi
# The package starts its own broker on 1883 where systemd runs; the tests start theirs on free
# ports, and the agent's embedded broker needs 1883 itself.
if [[ -d /run/systemd/system ]]; then
  systemctl disable --now mosquitto.service 2>/dev/null || true
fi
pkill -x mosquitto 2>/dev/null || true
