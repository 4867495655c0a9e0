#!/bin/sh
# /usr/local/sbin/edge-agent-update (deploy/install.sh puts it there), run as root by
# edge-agent-update.service: runs deploy/lib/updater.mjs of the last release proven good
# (/opt/edge-agent/update/known-good: written by install.sh, and by the updater once a release
# passed its health gate), so a new release's own updater is never the one that has to undo it.
# Falls back to current, then previous, with each release's own Node.js, else the board's.
app="${EDGE_AGENT_APP_DIR:-/opt/edge-agent}"
good="$(cat "$app/update/known-good" 2>/dev/null)"
for rel in ${good:+"$app/$good"} "$app/current" "$app/previous"; do
  [ -f "$rel/deploy/lib/updater.mjs" ] || continue
  node="$rel/runtime/bin/node"
  [ -x "$node" ] || node="$(command -v node)" || continue
  "$node" -e 0 >/dev/null 2>&1 || continue
  # shellcheck disable=SC2093  # the first release whose updater runs takes over; the loop only looks for it
  exec "$node" "$rel/deploy/lib/updater.mjs" "$@"
done
echo "edge-agent-update: no release under $app with an updater that runs here" >&2
exit 1
