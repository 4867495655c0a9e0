/**
 * What the agent reads and writes of an update. The root updater (deploy/lib/updater.mjs) owns
 * `<app>/update/state.json` (the agent only reads it); the agent owns its request and its health
 * verdict in its dataDir (the updater only reads them, never following a link).
 */
import { readFile, readlink } from 'node:fs/promises';
import { arch } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UpdateState } from '../contract/messages.js';
import { writeFileAtomic } from '../util/files.js';

/** States after which the updater has nothing left to do. */
export const FINAL_STATES: ReadonlySet<string> = new Set(['done', 'rolled-back', 'failed']);

/** The part of the updater's state file the agent uses. */
export interface RootUpdateState {
  state: UpdateState;
  version: string | null;
  reason: string | null;
  attempt: string | null;
  /** The health gate's terms, from `verifying-health` on. */
  gate?: { cameras: string[]; mqtt: boolean; deadline?: number; gateSeconds?: number };
  ts?: string;
}

/** The file names of one board. */
export interface UpdatePaths {
  /** `/opt/edge-agent`: releases/, current, previous, update/state.json. */
  app: string;
  request: string;
  health: string;
}

/** The update files for a dataDir; the app folder from `appDir` (see installedAppDir). */
export function updatePaths(app: string, dataDir: string): UpdatePaths {
  return { app, request: path.join(dataDir, 'update-request.json'), health: path.join(dataDir, 'update-health.json') };
}

/**
 * The folder the running release was installed under (`/opt/edge-agent` for
 * `/opt/edge-agent/releases/<v>/dist/agent/update/state.js`), `$EDGE_AGENT_APP_DIR` if set, or
 * null when the agent runs from a checkout: then it cannot be updated.
 */
export function installedAppDir(env: NodeJS.ProcessEnv = process.env, moduleUrl = import.meta.url): string | null {
  if (env.EDGE_AGENT_APP_DIR) return env.EDGE_AGENT_APP_DIR;
  const release = path.resolve(path.dirname(fileURLToPath(moduleUrl)), '../../..');
  return path.basename(path.dirname(release)) === 'releases' ? path.dirname(path.dirname(release)) : null;
}

/** This machine's architecture as releases name it (arm64, armhf, x64). */
export function machineArch(): string {
  const a = arch();
  return a === 'arm' ? 'armhf' : a;
}

/** The updater's state, or null when there never was an update (or the file is unreadable). */
export async function readRootState(app: string): Promise<RootUpdateState | null> {
  try {
    const value = JSON.parse(await readFile(path.join(app, 'update/state.json'), 'utf8')) as RootUpdateState | null;
    return value && typeof value === 'object' && typeof value.state === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** The version `<app>/previous` points at, or null. */
export async function previousVersion(app: string): Promise<string | null> {
  const target = await readlink(path.join(app, 'previous')).catch(() => null);
  return target ? path.basename(target) : null;
}

/** The version `<app>/current` points at, or null. */
export async function currentVersion(app: string): Promise<string | null> {
  const target = await readlink(path.join(app, 'current')).catch(() => null);
  return target ? path.basename(target) : null;
}

/** Writes JSON whole or not at all into the agent's own folder. */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value)}\n`, 0o644);
}
