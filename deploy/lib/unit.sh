# shellcheck shell=bash
# The systemd side of deploy/install.sh: the unit, its board-specific drop-ins, enable/restart,
# rollback and uninstall. Sourced after lib/common.sh; uses install.sh's variables.

# Writes one drop-in when wanted (content on stdin), removes it when not: stale drop-ins from an
# earlier run (a credential since deleted) must not linger and fail the unit.
dropin() {
  local name="$1" wanted="$2"
  if [[ "$wanted" == yes ]]; then
    write_if_changed "$DROPINS/$name" 0644 || true
  else
    cat >/dev/null
    remove_file "$DROPINS/$name"
  fi
}

write_dropins() {
  local rel node name lines="" want
  rel="$(p "$APP/current")"

  # render exists on Pi 5 / x86 only, and a SupplementaryGroups= naming a missing group fails the unit.
  want=no; group_exists render && want=yes
  dropin groups.conf "$want" < <(printf '[Service]\nSupplementaryGroups=render\n')

  # A LoadCredential= whose source is missing fails the unit: one line per file that exists.
  for name in mqtt-password gemini-api-key http-token command-key; do
    [[ -s "$(p "$CREDS/$name")" ]] && lines+="LoadCredential=$name:$CREDS/$name"$'\n'
  done
  want=no; [[ -n "$lines" ]] && want=yes
  dropin credentials.conf "$want" < <(printf '[Service]\n%s' "$lines")

  # The unit runs /usr/bin/node; a board with Node elsewhere (/usr/local, nvm) gets its path.
  node="$(command -v node)"
  want=no; [[ "$node" != /usr/bin/node ]] && want=yes
  dropin node.conf "$want" < <(printf '[Service]\nExecStart=\nExecStart=%s %s/current/dist/agent/cli.js run --config /etc/edge-agent/config.json\n' \
    "$node" "$APP")

  # Without node-unix-socket's prebuilt binary the agent notifies through a perl helper, which
  # is not the main PID (agent/util/notify.ts explains why not systemd-notify).
  want=no
  # (By absolute path: a bare require would also search parent folders' node_modules.)
  node -e 'require(process.argv[1])' "$rel/node_modules/node-unix-socket" >/dev/null 2>&1 || want=yes
  dropin notify.conf "$want" < <(printf '[Service]\nNotifyAccess=all\n')

  # Jetson: nvarguscamerasrc talks to nvargus-daemon through /tmp/argus_socket, which a
  # private /tmp hides. Everything else keeps PrivateTmp=yes.
  want=no; [[ "$(board_family)" == jetson ]] && want=yes
  dropin jetson.conf "$want" < <(printf '[Service]\nPrivateTmp=no\n')

  local dir
  dir="$(p "$DROPINS")"
  [[ -d "$dir" ]] && rmdir --ignore-fail-on-non-empty "$dir"
  return 0
}

install_unit() {
  local before=$CHANGED
  CHANGED=0
  write_if_changed "$UNIT" 0644 <"$(p "$APP/current")/systemd/edge-agent.service" || true
  write_dropins
  local unit_changed=$CHANGED
  CHANGED=$((before | CHANGED))
  if root_mode; then
    # Offline enable works on a tree: it only makes the wants symlink.
    if command -v systemctl >/dev/null && [[ ! -L "$(p /etc/systemd/system/multi-user.target.wants/edge-agent.service)" ]]; then
      systemctl --root="$ROOT" --quiet enable edge-agent.service
      changed "enabled edge-agent.service"
    fi
    return 0
  fi
  ((unit_changed)) && systemctl daemon-reload
  if ! systemctl --quiet is-enabled edge-agent.service; then
    systemctl --quiet enable edge-agent.service
    changed "enabled edge-agent.service"
  fi
  ((START)) || return 0
  if ((CHANGED)) || ! systemctl --quiet is-active edge-agent.service; then
    systemctl restart edge-agent.service
    log "restarted edge-agent.service"
  fi
}

rollback() {
  local previous current
  previous="$(readlink "$(p "$APP/previous")" 2>/dev/null || true)"
  current="$(readlink "$(p "$APP/current")" 2>/dev/null || true)"
  [[ -n "$previous" && -d "$(p "$APP/$previous")" ]] || die "no previous release to roll back to"
  ensure_link "$APP/current" "$previous"
  ensure_link "$APP/previous" "$current"
  # The older release's own unit file goes back too.
  install_unit
}

uninstall() {
  if ! root_mode; then
    systemctl disable --now edge-agent.service 2>/dev/null || true
  elif command -v systemctl >/dev/null; then
    systemctl --root="$ROOT" --quiet disable edge-agent.service 2>/dev/null || true
  fi
  remove_file "$UNIT"
  grep -qs 'edge-agent deploy/install.sh' "$(p /usr/local/bin/edge-agent)" && remove_file /usr/local/bin/edge-agent
  if [[ -d "$(p "$DROPINS")" ]]; then
    rm -rf "$(p "$DROPINS")"
    changed "removed $DROPINS"
  fi
  root_mode || systemctl daemon-reload
  if [[ -d "$(p "$APP")" ]]; then
    rm -rf "$(p "$APP")"
    changed "removed $APP"
  fi
  if ((PURGE)); then
    local dir
    for dir in /var/lib/edge-agent /etc/edge-agent /run/edge-agent; do
      if [[ -e "$(p "$dir")" ]]; then
        rm -rf "$(p "$dir")"
        changed "purged $dir"
      fi
    done
    if ! root_mode && id "$USER_NAME" >/dev/null 2>&1; then
      userdel "$USER_NAME"
      changed "removed user $USER_NAME"
    fi
  else
    log "kept /etc/edge-agent (config, credentials) and /var/lib/edge-agent (archives); --purge removes them"
  fi
}
