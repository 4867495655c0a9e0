#!/bin/sh
# bin/edge-agent of a release (deploy/pack.sh puts it there): runs the agent with the release's
# own Node.js runtime when it ships one (arm64, x64), else the board's node (armhf, which
# install.sh checks is 22.13 or newer). exec: under systemd the main PID is the agent itself.
release="$(dirname "$(dirname "$(readlink -f "$0")")")"
node="$release/runtime/bin/node"
[ -x "$node" ] || node="$(command -v node)" || {
  echo "edge-agent: no Node.js: this release ships none for this architecture; install Node.js 22 LTS or newer" >&2
  exit 1
}
# EDGE_AGENT_NODE_FLAGS: V8 flags Node takes only on its command line (the unit sets them); split
# on spaces on purpose.
# shellcheck disable=SC2086
exec "$node" ${EDGE_AGENT_NODE_FLAGS:-} "$release/dist/agent/cli.js" "$@"
