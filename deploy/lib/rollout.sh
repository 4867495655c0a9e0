# shellcheck shell=bash
# shellcheck disable=SC2034  # BATCH_FAILED, OK and FAILED are read by deploy/rollout
# The workings of deploy/rollout: reading the fleet, planning batches, and one board's
# install → wait healthy → (roll back) sequence. Uses rollout's variables.

HOSTS=()
declare -A DEVICE_IDS=()
BATCHES=()
BATCH_FAILED=0

# Key-only SSH, no prompts (a roll-out must never hang on a host key or password question).
SSH_OPTS=(-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=10)
on_board() {
  local host="$1"
  shift
  # shellcheck disable=SC2029  # the command is built here on purpose, quoted for the remote shell
  ssh "${SSH_OPTS[@]}" "$host" "$@"
}

# The version in the tarball's package.json (the release folder name install.sh will use).
release_version() {
  tar -xzOf "$1" --wildcards --no-wildcards-match-slash '*/package.json' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).version))'
}

# Fills HOSTS and DEVICE_IDS from `[user@]host [device-id]` lines.
read_hosts() {
  local host id
  while read -r host id _; do
    [[ -z "$host" || "$host" == \#* ]] && continue
    HOSTS+=("$host")
    DEVICE_IDS["$host"]="$id"
  done <"$1"
}

# BATCHES[0] is the canary alone, then the others BATCH at a time (space-separated).
plan_batches() {
  local canary="${CANARY:-${HOSTS[0]}}" rest=() host line="" n=0
  printf '%s\n' "${HOSTS[@]}" | grep -qxF -- "$canary" || { echo "rollout: canary $canary is not in the host list" >&2; exit 2; }
  BATCHES=("$canary")
  for host in "${HOSTS[@]}"; do [[ "$host" != "$canary" ]] && rest+=("$host"); done
  for host in "${rest[@]}"; do
    line+="${line:+ }$host"
    n=$((n + 1))
    if ((n == BATCH)); then
      BATCHES+=("$line")
      line="" n=0
    fi
  done
  [[ -n "$line" ]] && BATCHES+=("$line")
  return 0
}

# Staging on the board is a private folder made by mktemp -d (0700, unguessable): a fixed
# /tmp name would let another local user plant the tarball or a link there first.
STAGE_TEMPLATE=/tmp/edge-agent-stage.XXXXXXXXXX
stage_command() { printf 'mktemp -d %s' "$STAGE_TEMPLATE"; }
# True for what stage_command prints on a board, nothing else (the path goes into commands).
valid_stage() { [[ "$1" =~ ^/tmp/edge-agent-stage\.[A-Za-z0-9]{10}$ ]]; }
remote_tar() { printf '%s/edge-agent-%s.tar.gz' "$1" "$VERSION"; }

# Refuses a version that is not one: it goes into paths and commands on every board.
check_version() {
  [[ "$1" =~ ^[0-9][0-9A-Za-z.+_-]*$ && "$1" != *..* ]] || { echo "rollout: release version '$1' is not a version (digits first; letters, digits, . + _ -)" >&2; exit 2; }
}

# What happens on one board, for --dry-run.
print_board_commands() {
  local host="$1" id="$2" tar
  tar="$(remote_tar '<stage>')"
  echo "  ssh $host '$(stage_command)'   # prints <stage>"
  echo "  ssh $host 'cat > $tar' < $RELEASE"
  echo "  ssh $host '$(install_command '<stage>')'"
  echo "  wait up to ${TIMEOUT}s: ssh $host 'curl -fsS http://$HTTP/healthz'"
  case "$STATUS_VIA" in
    none) ;;
    board) echo "    and ssh $host \"$(board_sub) -t '$PREFIX/$id/status' -C 1 -W 5\" is online with version $VERSION" ;;
    *) echo "    and mosquitto_sub -L $STATUS_VIA/$PREFIX/$id/status (from here) is online with version $VERSION" ;;
  esac
  echo "  on failure: ssh $host 'sudo bash /opt/edge-agent/current/deploy/install.sh --rollback'"
}

# Unpacks the release's own installer in the private stage and runs it against the tarball (no
# apt on upgrades); the stage goes whatever happens.
install_command() {
  local stage="$1" tar
  tar="$(remote_tar "$stage")"
  # shellcheck disable=SC2016  # $? and $rc are for the board's shell
  printf 'tar -xzf %s -C %s && sudo bash %s/*/deploy/install.sh --from %s --no-apt; rc=$?; rm -rf %s; exit $rc' \
    "$tar" "$stage" "$stage" "$tar" "$stage"
}

# mosquitto_sub against the board's embedded broker, which needs a login (issue 15): the
# technicians' password from the credentials folder, else the one the agent made in its dataDir;
# read on the board with sudo, so it never crosses the network or lands in a log.
board_sub() {
  printf '%s' "mosquitto_sub -h 127.0.0.1 -u technician -P \"\$(sudo sh -c 'cat /etc/edge-agent-credentials/mqtt-technician 2>/dev/null || cat /var/lib/edge-agent/mqtt-technician')\""
}

# The retained R/status payload, read on the board or from here.
read_status() {
  local host="$1" topic="$PREFIX/$2/status"
  case "$STATUS_VIA" in
    none) echo '{"state":"online","version":"'"$VERSION"'"}' ;;
    board) on_board "$host" "$(board_sub) -t '$topic' -C 1 -W 5" ;;
    *) mosquitto_sub -L "$STATUS_VIA/$topic" -C 1 -W 5 ;;
  esac
}

# Healthy: /healthz answers 200 and R/status says online with the new version (a retained
# "online" from the old process must not count).
board_healthy() {
  local host="$1" id="$2" status
  on_board "$host" "curl -fsS http://$HTTP/healthz" >/dev/null 2>&1 || return 1
  status="$(read_status "$host" "$id" 2>/dev/null)" || return 1
  [[ "$status" == *'"state":"online"'* && "$status" == *"\"version\":\"$VERSION\""* ]]
}

wait_healthy() {
  local host="$1" id="$2" deadline
  deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    board_healthy "$host" "$id" && return 0
    sleep "$INTERVAL"
  done
  return 1
}

# One board, start to end; prints one result line and records it in $WORK/<host>.
deploy_board() {
  local host="$1" id="${DEVICE_IDS[$1]:-}" log="$WORK/$1.log"
  {
    [[ -n "$id" ]] || id="$(on_board "$host" hostname)" || { echo failed >"$WORK/$host"; return; }
    local stage
    stage="$(on_board "$host" "$(stage_command)")" || stage=""
    if ! valid_stage "$stage"; then
      echo "  $host: could not make a private staging folder (mktemp -d); nothing installed"
      echo failed >"$WORK/$host"
      return
    fi
    if ! on_board "$host" "cat > $(remote_tar "$stage")" <"$RELEASE" || ! on_board "$host" "$(install_command "$stage")"; then
      # install.sh backs out a release that does not start by itself: a --rollback now would
      # go one release further back than the one running.
      echo "  $host: install failed; the board keeps the release it was running"
      echo failed >"$WORK/$host"
      return
    fi
    if wait_healthy "$host" "$id"; then
      echo ok >"$WORK/$host"
      echo "  $host: ok ($VERSION)"
      return
    fi
    echo "  $host: not healthy within ${TIMEOUT}s, rolling back"
    if on_board "$host" 'sudo bash /opt/edge-agent/current/deploy/install.sh --rollback'; then
      echo "  $host: rolled back"
    else
      echo "  $host: ROLLBACK FAILED, needs a technician"
    fi
    echo failed >"$WORK/$host"
  } 2>>"$log"
}

# Runs one batch in parallel and sorts its boards into OK / FAILED.
run_batch() {
  local hosts=() host
  read -r -a hosts <<<"$1"
  BATCH_FAILED=0
  for host in "${hosts[@]}"; do deploy_board "$host" & done
  wait
  for host in "${hosts[@]}"; do
    if [[ "$(cat "$WORK/$host" 2>/dev/null)" == ok ]]; then
      OK+=("$host")
    else
      FAILED+=("$host")
      BATCH_FAILED=1
      [[ -s "$WORK/$host.log" ]] && sed "s/^/    $host: /" "$WORK/$host.log" >&2
    fi
  done
  return 0
}
