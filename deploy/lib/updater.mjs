#!/usr/bin/env node
// The board's updater, run as root by edge-agent-update.service: when the agent leaves a request
// (/var/lib/edge-agent/update-request.json, watched by edge-agent-update.path) and at every boot
// (to finish or undo an update a power cut interrupted). The steps: deploy/lib/update/machine.mjs
// and the README's "Updates: the steps".
//
//   updater.mjs [--root DIR] [--data-dir DIR] [--service-hook CMD]
//   updater.mjs --status [--root DIR]            print the update state
//
// --root DIR       a throwaway tree instead of / (tests, like install.sh --root)
// --data-dir DIR   the agent's dataDir (default /var/lib/edge-agent), where its request and health verdict are
// --service-hook   a command answering `restart` and `status` (MainPID=, NRestarts=, ActiveState= lines)
//                  instead of systemctl on edge-agent.service (tests)
// EDGE_AGENT_UPDATE_GATE_SECONDS (120) and EDGE_AGENT_UPDATE_STABLE_SECONDS (60): the health gate.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_SETTINGS, runUpdater } from './update/machine.mjs';
import { boardOps, boardPaths } from './update/ops.mjs';

function seconds(name, fallback) {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: '' },
    'data-dir': { type: 'string', default: '/var/lib/edge-agent' },
    'service-hook': { type: 'string' },
    status: { type: 'boolean', default: false },
  },
});
const root = values.root.replace(/\/+$/, '');

if (values.status) {
  process.stdout.write(await readFile(boardPaths(root).state, 'utf8').catch(() => 'no update yet\n'));
} else {
  const ops = boardOps({ root, dataDir: values['data-dir'], hook: values['service-hook'] });
  const settings = {
    ...DEFAULT_SETTINGS,
    gateSeconds: seconds('EDGE_AGENT_UPDATE_GATE_SECONDS', DEFAULT_SETTINGS.gateSeconds),
    stableSeconds: seconds('EDGE_AGENT_UPDATE_STABLE_SECONDS', DEFAULT_SETTINGS.stableSeconds),
  };
  const state = await runUpdater(ops, settings);
  if (state)
    process.stdout.write(`update: ${state.state} ${state.version ?? ''}${state.reason ? `: ${state.reason}` : ''}\n`);
}
