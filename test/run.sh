#!/usr/bin/env bash
# `npm test`: type-check, build, then every test file under test/unit and test/integration.
# The files that mostly wait on the wall clock (a dead camera watched past the watchdog's bound,
# broker outages, config and update health gates, deferral deadlines, kill-and-restart) and the
# MQTT files that run a broker and no camera run in a lane of their own, one file at a time,
# beside the rest (two at a time): they use little CPU, so on two cores that takes minutes off
# the run. Three files at once is the most these two cores take: every layout with a fourth (a
# second lane, three busy jobs) was no faster and broke timing bounds (an MQTT duplicate too
# many, the power-cut loss, archive.finished's 2 s). The lane's files are chosen so it ends with
# the busy pool (README "Testing" lists the runs behind this). Given file arguments
# (`npm test -- file`), runs just those.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# Both are tsc, one core each.
npm run --silent typecheck &
typecheck=$!
npm run --silent build || exit 1
wait "$typecheck" || exit 1
# The agent under test is the build just made (test/helpers/cli.ts): as a board runs it, and it
# starts on half the CPU of the source through tsx.
export EDGE_AGENT_TEST_BUILT=1
if (($#)); then exec npx tap "$@"; fi
# tap rebuilds its test class when .taprc's plugins differ from the installed build (a fresh
# npm ci): done once here, because two tap runs started together would both rebuild it and
# leave it half-written.
npx tap build >/dev/null || exit 1
shopt -s globstar
lanes=(
  "test/integration/update.test.ts test/integration/update-kill.test.ts test/integration/analysis-deferred.test.ts test/integration/watchdog-dead-camera.test.ts test/integration/reliability-link.test.ts test/integration/config-desired.test.ts test/integration/startup-order.test.ts test/integration/mqtt-packet-limit.test.ts test/integration/mqtt-outbox.test.ts test/integration/mqtt-commands.test.ts test/integration/mqtt-security.test.ts test/integration/embedded-broker-auth.test.ts test/integration/fleet.test.ts test/integration/fleet-status.test.ts"
)
waiting=" ${lanes[*]} "
busy=()
for file in test/unit/**/*.test.ts test/integration/**/*.test.ts; do
  [[ "$waiting" == *" $file "* ]] || busy+=("$file")
done
logs=()
pids=()
trap 'rm -f "${logs[@]}"' EXIT
for lane in "${lanes[@]}"; do
  logs+=("$(mktemp)")
  # shellcheck disable=SC2086 # a lane is a list of paths without spaces
  # No coverage (integration files collect none): a lane must not clear or report .tap/coverage
  # while the busy pool writes it.
  # With EDGE_AGENT_TEST_NODE_VERSIONS (CI: "22 24") the lane then runs test/node-versions.sh.
  {
    npx tap --jobs=1 --disable-coverage $lane
    lane_status=$?
    if [[ -n "${EDGE_AGENT_TEST_NODE_VERSIONS:-}" ]]; then
      # shellcheck disable=SC2086 # a list of versions
      bash test/node-versions.sh --serial $EDGE_AGENT_TEST_NODE_VERSIONS || lane_status=1
    fi
    exit "$lane_status"
  } >"${logs[-1]}" 2>&1 &
  pids+=($!)
done
npx tap "${busy[@]}"
status=$?
for i in "${!lanes[@]}"; do
  wait "${pids[$i]}" || status=1
  echo "== waiting lane $((i + 1)) (run beside the rest)"
  cat "${logs[$i]}"
done
exit "$status"
