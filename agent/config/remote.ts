/**
 * The one definition of what a remote change (`set-config`, `R/config/desired`) may touch. An
 * allow-list: only the keys in REMOTE_KEYS change over MQTT as they are; every other key (the
 * ones that redirect the board or its secrets, or choose folders) needs a signed request, and a
 * few never change remotely at all. Remote changes also keep the disk and memory guards on.
 */
import { getPath } from './paths.js';
import { schemaLeaves } from './schema.js';
import type { AgentConfig, CameraConfig } from './types.js';

/** Who may change a key over MQTT: anyone the broker lets command us, a signed request only, or nobody. */
export type RemoteAccess = 'open' | 'signed' | 'local';

/**
 * Keys any remote change may set (subject to the floors below). Everything else is `signed`:
 * `mqtt.*` URLs and credentials, `*File` paths, `analysis.baseUrl`, `http.*`, `device.id`,
 * `mqtt.topicPrefix`, `dataDir`, `hls.dir`, `archive.dir`, and any key added later.
 */
export const REMOTE_KEYS: readonly string[] = [
  'cameras', // except file: sources (protectedKeys); a camera's analysis overrides are cost levers like analysis.fps
  'encoder.prefer',
  'encoder.bitrateKbps',
  'hls.segmentSeconds',
  'hls.listSize',
  'archive.segmentSeconds',
  'archive.maxAgeHours',
  'archive.minFreePercent',
  'mqtt.healthIntervalSeconds',
  'mqtt.configGateSeconds',
  // Not mqtt.homeAssistant.enabled: it puts retained camera pictures on the broker for every reader.
  'mqtt.homeAssistant.snapshotSeconds',
  'analysis.enabled',
  'analysis.provider',
  'analysis.model',
  'analysis.prompt',
  'analysis.maxPerDay',
  'analysis.skipWhenStill',
  'analysis.deferAfterMinutes',
  'analysis.dailyTokens',
  'analysis.dailyRequests',
  // Cost levers: they change what a request costs and what the model sees, never where anything goes.
  'analysis.fps',
  'analysis.resolution',
  'analysis.skipDuplicates',
  'analysis.duplicateMotion',
  'analysis.duplicateDistance',
];

/**
 * Keys that are never changed over MQTT, signed or not: they decide how much the other checks
 * are worth (plain-text transports, the signature form, the opt-out of this very list).
 */
export const LOCAL_ONLY_KEYS: readonly string[] = [
  'mqtt.allowInsecure',
  'analysis.allowInsecure',
  'mqtt.requireScopedSignatures',
  'mqtt.unsignedSensitiveChanges',
];

/**
 * Signed-only keys that anyone the broker lets command us may switch off: turning off camera
 * pictures on the broker only takes exposure away.
 */
export const OPEN_WHEN_OFF: readonly string[] = ['mqtt.homeAssistant.enabled'];

/** How a key may be changed over MQTT. */
export function remoteAccess(key: string): RemoteAccess {
  if (LOCAL_ONLY_KEYS.includes(key)) return 'local';
  return REMOTE_KEYS.includes(key) ? 'open' : 'signed';
}

/** A camera source that reads a local file: FFmpeg would open (and `snapshot` return) any media file the agent can read. */
export function isFileSource(source: string): boolean {
  return source.startsWith('file:') || source.startsWith('/');
}

/**
 * The floors remote changes keep, so a remote change cannot switch off the disk guard (free
 * space kept by retention) or fill RAM with a huge live window (`hls.dir` is a tmpfs on boards).
 * The config file may go below them; a remote change may not.
 */
export const REMOTE_LIMITS = {
  minFreePercent: 5,
  maxListSize: 20,
  /** hls.segmentSeconds × hls.listSize: seconds of live video held in `hls.dir`. */
  maxHlsWindowSeconds: 120,
} as const;

/**
 * The schema keys a `set` key path names, before any validation: `cameras[0].fps` → `cameras`,
 * `mqtt.url` → itself, a section (`mqtt`) → every key in it; unknown paths → none (validation
 * refuses them). Lets access be refused before a value is even looked at.
 */
export function keysNamed(path: string): string[] {
  const dotted = path.replace(/\[(\d+)\]/g, '.$1');
  const leaves = [...schemaLeaves().keys()];
  const leaf = leaves.find((k) => dotted === k || dotted.startsWith(`${k}.`));
  if (leaf !== undefined) return [leaf];
  return leaves.filter((k) => k.startsWith(`${dotted}.`));
}

/** The keys of a change that need more than an open remote request, by access: `cameras[i].source` for file sources. */
export function protectedKeys(
  before: AgentConfig,
  next: AgentConfig,
  changed: readonly string[],
): { signed: string[]; local: string[] } {
  const signed: string[] = [];
  const local: string[] = [];
  for (const key of changed) {
    if (OPEN_WHEN_OFF.includes(key) && getPath(next, key.split('.')) === false) continue;
    const access = remoteAccess(key);
    if (access === 'local') local.push(key);
    else if (access === 'signed') signed.push(key);
  }
  if (changed.includes('cameras')) signed.push(...newFileSources(before.cameras, next.cameras));
  return { signed, local };
}

function newFileSources(before: readonly CameraConfig[], next: readonly CameraConfig[]): string[] {
  const out: string[] = [];
  next.forEach((cam, i) => {
    if (!isFileSource(cam.source)) return;
    const old = before.find((c) => c.id === cam.id);
    if (old?.source !== cam.source) out.push(`cameras[${i}].source (a file: source)`);
  });
  return out;
}

/** The remote floors a change breaks, one line each; only keys the change touches are held to them. */
export function remoteLimitProblems(next: AgentConfig, changed: readonly string[]): string[] {
  const out: string[] = [];
  const { minFreePercent, maxListSize, maxHlsWindowSeconds } = REMOTE_LIMITS;
  const where = 'over mqtt (the config file may set it)';
  if (changed.includes('archive.minFreePercent') && next.archive.minFreePercent < minFreePercent) {
    out.push(
      `archive.minFreePercent must be at least ${minFreePercent} when set ${where}, got ${next.archive.minFreePercent}`,
    );
  }
  if (changed.includes('hls.listSize') && next.hls.listSize > maxListSize) {
    out.push(`hls.listSize must be at most ${maxListSize} when set ${where}, got ${next.hls.listSize}`);
  }
  const window = next.hls.segmentSeconds * next.hls.listSize;
  if ((changed.includes('hls.listSize') || changed.includes('hls.segmentSeconds')) && window > maxHlsWindowSeconds) {
    out.push(
      `hls.segmentSeconds × hls.listSize must be at most ${maxHlsWindowSeconds} s when set ${where}, got ${window}`,
    );
  }
  return out;
}
