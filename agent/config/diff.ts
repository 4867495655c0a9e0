/**
 * What a config change touches. On `set-config` main.ts restarts only the modules whose slice
 * changed, as mediamtx does on reload: changing the broker must not interrupt a recording.
 */
import { isPlainObject } from './checks.js';
import type { AgentConfig, CameraConfig } from './types.js';

/**
 * A part of the agent a change can touch. `device` means the agent's identity or shared state
 * changed (device.id, dataDir, or a key this table does not know): restart everything.
 * `health` is applied in place (the publisher's timer), never a restart.
 */
export type ModuleName = 'pipeline' | 'archive' | 'mqtt' | 'analysis' | 'http' | 'device' | 'health';

/**
 * Keys a running agent cannot take over without a restart: device.id (the broker identity, the
 * topics of retained status, desired and reported), dataDir (the open store, lock and outbox) and
 * archive.dir (partial recordings, pending analysis jobs and the catalog all live in the old tree).
 */
export const RESTART_REQUIRED_KEYS = ['device.id', 'dataDir', 'archive.dir'] as const;

// Which keys a remote change may touch (and which need a signature) is remote.ts's one list.

/** Structural equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

function walk(a: unknown, b: unknown, prefix: string, out: string[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) walk(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`, out);
  } else if (!jsonEqual(a, b)) {
    // Lists (cameras, encoder.prefer) count as one value: a camera edit restarts the pipeline
    // module, which compares cameras by id itself (see changedCameras and planChange).
    out.push(prefix);
  }
}

/** Dotted key paths whose values differ between two configs, in schema order (`hls.segmentSeconds`, `cameras`). */
export function changedKeys(a: AgentConfig, b: AgentConfig): string[] {
  const out: string[] = [];
  walk(a, b, '', out);
  return out;
}

/** A camera entry as its pipeline sees it: without its analysis overrides, which only the analysis module reads. */
function capturePart(camera: CameraConfig | undefined): Omit<CameraConfig, 'analysis'> | undefined {
  if (!camera) return undefined;
  const { analysis: _analysis, ...rest } = camera;
  return rest;
}

/** Camera ids added, removed or changed between two configs (a renamed camera is both); analysis overrides alone change none. */
export function changedCameras(a: AgentConfig, b: AgentConfig): string[] {
  const before = new Map(a.cameras.map((c) => [c.id, c]));
  const after = new Map(b.cameras.map((c) => [c.id, c]));
  const ids = new Set([...before.keys(), ...after.keys()]);
  return [...ids].filter((id) => !jsonEqual(capturePart(before.get(id)), capturePart(after.get(id))));
}

/** Whether any camera's `analysis` overrides differ (cameras matched by id). */
function cameraAnalysisChanged(a: AgentConfig, b: AgentConfig): boolean {
  const before = new Map(a.cameras.map((c) => [c.id, c.analysis]));
  const after = new Map(b.cameras.map((c) => [c.id, c.analysis]));
  return [...new Set([...before.keys(), ...after.keys()])].some((id) => !jsonEqual(before.get(id), after.get(id)));
}

// Longest matching prefix wins. Directories appear under every module that reads or writes them:
// FFmpeg writes HLS and the in-progress archive, the HTTP server serves both.
const TABLE: [prefix: string, modules: ModuleName[]][] = [
  ['device', ['device']],
  ['dataDir', ['device']],
  ['cameras', ['pipeline']],
  ['encoder', ['pipeline']],
  ['hls', ['pipeline']],
  ['hls.dir', ['pipeline', 'http']],
  // The cut cadence is part of FFmpeg's arguments (forced keyframes, segment times).
  ['archive.segmentSeconds', ['pipeline']],
  ['archive', ['archive']],
  ['archive.dir', ['pipeline', 'archive', 'http']],
  ['mqtt', ['mqtt']],
  // Read by the publisher at each tick; the link itself does not care.
  ['mqtt.healthIntervalSeconds', ['health']],
  // Read by the config service at each change.
  ['mqtt.configGateSeconds', []],
  // Applied in place by the Home Assistant discovery on config.changed; the link stays up.
  ['mqtt.homeAssistant', []],
  ['analysis', ['analysis']],
  ['http', ['http']],
  // The live view is a third output of every FFmpeg command as well as a path of the server.
  ['http.liveView', ['pipeline', 'http']],
];

/** The modules to restart for a set of changed keys (as changedKeys returns them). */
export function affectedModules(keys: Iterable<string>): Set<ModuleName> {
  const out = new Set<ModuleName>();
  for (const key of keys) {
    let best: [string, ModuleName[]] | undefined;
    for (const row of TABLE) {
      const [prefix] = row;
      const hit = key === prefix || key.startsWith(`${prefix}.`) || key.startsWith(`${prefix}[`);
      if (hit && (!best || prefix.length > best[0].length)) best = row;
    }
    for (const m of best?.[1] ?? (['device'] as ModuleName[])) out.add(m);
  }
  return out;
}

/** What one change restarts: the modules, and for the pipeline either every camera or only some. */
export interface ChangePlan {
  keys: string[];
  modules: Set<ModuleName>;
  /** Cameras to stop and start again (added, removed or edited ones), or 'all'. */
  cameras: 'all' | string[];
}

/** Keys and modules a change from `a` to `b` touches; a cameras-only edit restarts only those cameras. */
export function planChange(a: AgentConfig, b: AgentConfig): ChangePlan {
  const keys = changedKeys(a, b);
  const modules = affectedModules(keys);
  // The motion branch is part of every FFmpeg command: turning analysis on or off restarts them all.
  if (a.analysis.enabled !== b.analysis.enabled) modules.add('pipeline');
  const pipelineKeys = keys.filter((k) => affectedModules([k]).has('pipeline') || k === 'analysis.enabled');
  const camerasOnly = pipelineKeys.every((k) => k === 'cameras');
  const cameras = camerasOnly ? changedCameras(a, b) : 'all';
  if (keys.includes('cameras') && cameraAnalysisChanged(a, b)) modules.add('analysis');
  // Only a camera's analysis overrides changed: no recording is interrupted for them.
  if (pipelineKeys.length > 0 && camerasOnly && cameras.length === 0) modules.delete('pipeline');
  return { keys, modules, cameras };
}
