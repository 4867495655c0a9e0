#!/usr/bin/env bash
# `npm test`: type-check, build, then every test file under test/unit and test/integration.
# The files that mostly wait on the wall clock or on the broker (a dead camera watched for two
# minutes, broker outages, config and update health gates, deferral deadlines, kill-and-restart)
# run one at a time in a pool of their own beside the rest (two at a time): they use little CPU,
# so on two cores that takes minutes off the run; one at a time, because several run agents on
# the embedded broker's fixed port. The 3-minute soak runs in a lane of its own from the start:
# among the busy files tap (which orders files by name) started it last, and the run waited for
# it. Given file arguments (`npm test -- test/unit/x.test.ts`), runs just those.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
npm run --silent typecheck || exit 1
npm run --silent build || exit 1
if (($#)); then exec npx tap "$@"; fi
# tap rebuilds its test class when .taprc's plugins differ from the installed build (a fresh
# npm ci): done once here, because two tap runs started together would both rebuild it and
# leave it half-written.
npx tap build >/dev/null || exit 1
shopt -s globstar
soak=test/integration/reliability-soak.test.ts
waiting=(
  test/integration/watchdog-dead-camera.test.ts
  test/integration/reliability-link.test.ts
  test/integration/config-desired.test.ts
  test/integration/startup-order.test.ts
  test/integration/analysis-deferred.test.ts
  test/integration/update.test.ts
  test/integration/update-kill.test.ts
)
busy=()
for file in test/unit/**/*.test.ts test/integration/**/*.test.ts; do
  [[ " ${waiting[*]} $soak " == *" $file "* ]] || busy+=("$file")
done
side_log="$(mktemp)"
soak_log="$(mktemp)"
trap 'rm -f "$side_log" "$soak_log"' EXIT
npx tap "$soak" >"$soak_log" 2>&1 &
soak_pid=$!
npx tap --jobs=1 "${waiting[@]}" >"$side_log" 2>&1 &
side=$!
npx tap "${busy[@]}"
main_status=$?
wait "$side"
side_status=$?
wait "$soak_pid"
soak_status=$?
echo "== the waiting files (run beside the rest)"
cat "$side_log"
echo "== the soak (run beside the rest)"
cat "$soak_log"
exit $((main_status || side_status || soak_status))
