/**
 * The update module (README "Updates"): `ReleaseUpdates` takes requests and reports on
 * `R/release`; `UpdateGate` is the new release's health gate. Built here from narrow functions
 * so agent.ts only hands over what the module may use.
 */
import path from 'node:path';
import type { ReleaseMessage } from '../contract/messages.js';
import type { CameraStats } from '../contract/services.js';
import type { Logger } from '../util/logger.js';
import { UpdateGate } from './gate.js';
import { parseUpdateRequest } from './release.js';
import { installedAppDir, readRootState, updatePaths, writeJsonAtomic } from './state.js';
import { ReleaseUpdates, type DesiredReleaseMemory } from './updates.js';

export { ReleaseUpdates, UpdateGate };

/** What the module needs from the agent. */
export interface UpdateModuleDeps {
  version: string;
  /** The config file the agent runs with: the release keys are in `release-keys/` beside it. */
  configFile: string | null;
  dataDir: () => string;
  stats: () => CameraStats[];
  hlsDir: (camera: string) => string;
  mqttConnected: () => boolean;
  roundTrip: () => Promise<string | null>;
  publish: (message: ReleaseMessage) => void;
  memory: { load(): DesiredReleaseMemory | null; save(value: DesiredReleaseMemory): void };
  signingRequired: () => boolean;
  desiredSigned: (doc: Record<string, unknown>) => boolean;
  startedAt: number;
  log: Logger;
}

/** The update module of one agent. */
export interface UpdateModule {
  updates: ReleaseUpdates;
  gate: UpdateGate;
  /** The `update` command's handler (commands/types.ts UpdateControl). */
  control: { request(body: Record<string, unknown>): ReturnType<ReleaseUpdates['request']> };
}

/** Builds both halves; `start()` them after the link and the pipelines. */
export function createUpdateModule(deps: UpdateModuleDeps): UpdateModule {
  const app = installedAppDir();
  // /etc/edge-agent/release-keys on a board; beside the config file in a test tree.
  const keyDir = path.join(deps.configFile ? path.dirname(deps.configFile) : '/etc/edge-agent', 'release-keys');
  const fresh = (s: CameraStats) => s.lastFrameAgeSeconds !== null && s.lastFrameAgeSeconds <= 5;
  const updates = new ReleaseUpdates({
    version: deps.version,
    app,
    dataDir: deps.dataDir,
    keyDir,
    baseline: () => ({
      cameras: deps
        .stats()
        .filter(fresh)
        .map((s) => s.camera),
      mqtt: deps.mqttConnected(),
    }),
    publish: deps.publish,
    memory: deps.memory,
    signingRequired: deps.signingRequired,
    desiredSigned: deps.desiredSigned,
    log: deps.log,
  });
  const gate = new UpdateGate({
    version: deps.version,
    readState: () => (app ? readRootState(app) : Promise.resolve(null)),
    stats: deps.stats,
    hlsDir: deps.hlsDir,
    roundTrip: deps.roundTrip,
    writeVerdict: (verdict) => writeJsonAtomic(updatePaths(app ?? '', deps.dataDir()).health, verdict),
    startedAt: deps.startedAt,
    log: deps.log,
  });
  return { updates, gate, control: { request: (body) => updates.request(parseUpdateRequest(body)) } };
}
