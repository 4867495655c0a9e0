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
  local rel name lines="" want
  rel="$(p "$APP/current")"

  # render exists on Pi 5 / x86 only, and a SupplementaryGroups= naming a missing group fails the unit.
  want=no; group_exists render && want=yes
  dropin groups.conf "$want" < <(printf '[Service]\nSupplementaryGroups=render\n')

  # A LoadCredential= whose source is missing fails the unit: one line per file that exists.
  for name in "${CRED_NAMES[@]}"; do
    [[ -s "$(p "$CREDS/$name")" && ! -L "$(p "$CREDS/$name")" ]] && lines+="LoadCredential=$name:$CREDS/$name"$'\n'
  done
  want=no; [[ -n "$lines" ]] && want=yes
  dropin credentials.conf "$want" < <(printf '[Service]\n%s' "$lines")

  # The release's bin/edge-agent picks its Node: the node.conf of releases that ran the board's
  # node directly must go.
  dropin node.conf no </dev/null

  # Without node-unix-socket's native binary the agent notifies through a perl helper, which
  # is not the main PID (agent/systemd/notify.ts explains why not systemd-notify).
  want=yes
  [[ -f "$rel/node_modules/node-unix-socket/package.json" ]] && want=no
  dropin notify.conf "$want" < <(printf '[Service]\nNotifyAccess=all\n')

  write_paths_dropin "$rel"

  # Jetson: nvarguscamerasrc talks to nvargus-daemon through /tmp/argus_socket, which a
  # private /tmp hides. Everything else keeps PrivateTmp=yes.
  want=no; [[ "$(board_family)" == jetson ]] && want=yes
  dropin jetson.conf "$want" < <(printf '[Service]\nPrivateTmp=no\n')

  local dir
  dir="$(p "$DROPINS")"
  [[ -d "$dir" ]] && rmdir --ignore-fail-on-non-empty "$dir"
  return 0
}

# ProtectSystem=strict leaves only the unit's own folders writable. Folders the config names
# elsewhere (an archive.dir on a USB SSD) are created for the service user and listed in
# paths.conf; "-" keeps a missing mount from failing the whole unit (the agent then says the
# folder is not writable). A config changed later by hand needs this installer run again.
write_paths_dropin() {
  local rel="$1" cfg dirs dir lines=""
  cfg="$(p /etc/edge-agent/config.json)"
  [[ -f "$cfg" ]] || return 0
  if ! dirs="$(EDGE_AGENT_CONFIG='' "$rel/bin/edge-agent" config paths --config "$cfg" 2>/dev/null)"; then
    warn "cannot read the folders $cfg names with this release here; paths.conf left as it was"
    return 0
  fi
  while IFS= read -r dir; do
    case "$dir" in
      '' | /var/lib/edge-agent | /var/lib/edge-agent/* | /etc/edge-agent | /etc/edge-agent/* | /run/edge-agent | /run/edge-agent/*) continue ;;
      /*) ;;
      *) warn "relative folder '$dir' in $cfg is not made writable"; continue ;;
    esac
    ensure_dir "$dir" 0750 "$USER_NAME:$USER_NAME"
    lines+="ReadWritePaths=-$dir"$'\n'
  done <<<"$dirs"
  local want=no
  [[ -n "$lines" ]] && want=yes
  dropin paths.conf "$want" < <(printf '[Service]\n%s' "$lines")
}

# START_FAILED=1 when the restarted unit did not come up (install.sh then backs out).
START_FAILED=0

install_unit() {
  local before=$CHANGED
  CHANGED=0
  write_if_changed "$UNIT" 0644 <"$(p "$APP/current")/systemd/edge-agent.service" || true
  local name
  # The updater's units (releases before 0.2 have none: those already installed stay).
  for name in "${UPDATE_UNITS[@]}"; do
    [[ -f "$(p "$APP/current")/systemd/$name" ]] || continue
    write_if_changed "/etc/systemd/system/$name" 0644 <"$(p "$APP/current")/systemd/$name" || true
  done
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
    # Type=notify: restart returns once the agent said READY=1, or fails when it did not.
    if systemctl restart edge-agent.service; then
      log "restarted edge-agent.service"
    else
      START_FAILED=1
    fi
  fi
}

# Enables the updater's units (the path unit watches for the agent's requests; the service also
# runs at boot to finish or undo an interrupted update) and starts watching. After the agent's own
# restart: the updater is no part of whether this install worked.
install_updater_units() {
  [[ -f "$(p /etc/systemd/system/edge-agent-update.path)" ]] || return 0
  if root_mode; then
    if command -v systemctl >/dev/null && [[ ! -L "$(p /etc/systemd/system/paths.target.wants/edge-agent-update.path)" ]]; then
      systemctl --root="$ROOT" --quiet enable "${UPDATE_UNITS[@]}"
      changed "enabled ${UPDATE_UNITS[*]}"
    fi
    return 0
  fi
  if ! systemctl --quiet is-enabled edge-agent-update.path; then
    systemctl --quiet enable "${UPDATE_UNITS[@]}"
    changed "enabled ${UPDATE_UNITS[*]}"
  fi
  ((START)) || return 0
  systemctl --quiet is-active edge-agent-update.path || systemctl start edge-agent-update.path
}

# The new release did not start: the one that was running goes back, with its own unit, and
# is started again. Exits non-zero: the install failed and changed nothing that stays.
back_out_release() {
  local failed
  failed="$(readlink "$(p "$APP/current")")"
  undo_switch || die "edge-agent.service did not start with $failed and there is no release to go back to (journalctl -u edge-agent)"
  START_FAILED=0
  install_unit
  ((START_FAILED)) && die "edge-agent.service did not start with $failed, nor after going back to $(readlink "$(p "$APP/current")") (journalctl -u edge-agent)"
  die "edge-agent.service did not start with $failed (journalctl -u edge-agent); back on $(readlink "$(p "$APP/current")"), running"
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
  if ! root_mode; then
    systemctl disable --now edge-agent-update.path edge-agent-update.service 2>/dev/null || true
  elif command -v systemctl >/dev/null; then
    systemctl --root="$ROOT" --quiet disable "${UPDATE_UNITS[@]}" 2>/dev/null || true
  fi
  remove_file "$UNIT"
  local name
  for name in "${UPDATE_UNITS[@]}"; do remove_file "/etc/systemd/system/$name"; done
  grep -qs 'edge-agent-update.service' "$(p "$UPDATE_LAUNCHER")" && remove_file "$UPDATE_LAUNCHER"
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
    for dir in /var/lib/edge-agent /etc/edge-agent "$CREDS" /run/edge-agent; do
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
    log "kept /etc/edge-agent (config), $CREDS (secrets) and /var/lib/edge-agent (archives); --purge removes them"
  fi
}
