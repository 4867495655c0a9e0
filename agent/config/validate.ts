/**
 * Validation of a whole config object: unknown keys, each key's format, the convict schema
 * itself, and the checks that span keys. Every problem is collected, so a technician fixes a
 * file in one pass; the result is always either a complete AgentConfig or a ConfigError.
 */
import path from 'node:path';
import { ConfigError } from '../contract/errors.js';
import type { AgentConfig } from './types.js';
import { withCameraDefaults } from './cameras.js';
import { got, isLoopback, isPlainObject, keyName, splitHostPort } from './checks.js';
import { getPath } from './paths.js';
import { insecureTransportProblems, secretsInConfig } from './transport.js';
import { configSchema, newConvict, schemaLeaves } from './schema.js';

/** What is left of a raw config after its shape was checked: only known keys, sections as objects. */
export interface Shaped {
  problems: string[];
  clean: Record<string, unknown>;
}

function isLeafNode(node: unknown): boolean {
  return isPlainObject(node) && 'default' in node;
}

/** What kind of value a key with this default takes, for a message. */
function expectedKind(fallback: unknown): string {
  if (Array.isArray(fallback)) return 'a list';
  if (fallback === null) return 'a string or null';
  if (typeof fallback === 'boolean') return 'true or false';
  return typeof fallback === 'number' ? 'a number' : 'a string';
}

function walkShape(
  raw: Record<string, unknown>,
  schema: Record<string, unknown>,
  path: string[],
  out: Shaped['problems'],
) {
  const clean: Record<string, unknown> = {};
  for (const name of Object.keys(raw)) {
    const key = keyName([...path, name]);
    const node = Object.prototype.hasOwnProperty.call(schema, name) ? schema[name] : undefined;
    if (node === undefined) {
      out.push(
        `${key} is not a known key; known keys${path.length ? ` in ${keyName(path)}` : ''}: ${Object.keys(schema).join(', ')}`,
      );
    } else if (
      isLeafNode(node) &&
      isPlainObject(raw[name]) &&
      Object.values(raw[name]).some((v) => typeof v === 'object' && v !== null)
    ) {
      // No key takes an object, and convict crashes walking one with objects inside
      // ("cannot read properties of undefined"): say what the key wants instead.
      out.push(`${key} must be ${expectedKind((node as { default: unknown }).default)}, got ${got(raw[name])}`);
    } else if (isLeafNode(node)) {
      // A camera may leave out source, size and rate; they come from the default camera.
      clean[name] = key === 'cameras' ? withCameraDefaults(raw[name]) : raw[name];
    } else if (!isPlainObject(raw[name])) {
      out.push(`${key} must be an object with ${Object.keys(node as object).join(', ')}, got ${got(raw[name])}`);
    } else {
      clean[name] = walkShape(raw[name], node as Record<string, unknown>, [...path, name], out);
    }
  }
  return clean;
}

/**
 * Checks that `raw` has only keys the schema knows and objects where the schema has sections,
 * and returns a copy holding just those: convict must never see a stray key (it would
 * crash walking `"hls": 5`, and silently drop `__proto__`).
 */
export function checkShape(raw: Record<string, unknown>): Shaped {
  const problems: string[] = [];
  const clean = walkShape(raw, configSchema() as unknown as Record<string, unknown>, [], problems);
  return { problems, clean };
}

/**
 * Problems that involve more than one key. A check runs only when each key it reads is valid on
 * its own (`valid`), so a bad value is reported once, not again as a nonsensical combination.
 */
export function crossFieldProblems(config: AgentConfig, valid: (key: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const hls = config.hls.segmentSeconds;
  const archive = config.archive.segmentSeconds;
  // Keyframes are forced every hls.segmentSeconds; an archive cut must land on one of them.
  if (!valid('hls.segmentSeconds') || !valid('archive.segmentSeconds')) {
    // reported already
  } else if (hls > archive) {
    out.push(`hls.segmentSeconds must not exceed archive.segmentSeconds (${archive}), got ${hls}`);
  } else if (archive % hls !== 0) {
    out.push(
      `archive.segmentSeconds must be a whole multiple of hls.segmentSeconds (${hls}) so cuts fall on keyframes, got ${archive}`,
    );
  }
  if (valid('hls.dir') && valid('archive.dir') && overlaps(config.hls.dir, config.archive.dir)) {
    // Old HLS segments are deleted and old archives pruned by different modules: sharing a tree
    // would let one delete the other's files.
    out.push(
      `archive.dir must not be hls.dir or contain it or lie inside it (${got(config.hls.dir)}), got ${got(config.archive.dir)}`,
    );
  }
  if (valid('hls.dir') && valid('dataDir') && contains(config.hls.dir, config.dataDir)) {
    // The HLS reset of a restarting camera deletes files in hls.dir (its own names only): never
    // let that folder be the agent's state folder or hold it. A folder inside dataDir is fine.
    out.push(`hls.dir must not be dataDir or contain it (${got(config.dataDir)}), got ${got(config.hls.dir)}`);
  }
  for (const key of ['dataDir', 'hls.dir', 'archive.dir'] as const) {
    const value = key === 'dataDir' ? config.dataDir : key === 'hls.dir' ? config.hls.dir : config.archive.dir;
    if (valid(key) && isSystemPath(value)) {
      out.push(
        `${key} must be a folder of its own, not a system folder or one inside /proc, /sys, /dev, /boot, /usr, /bin, /sbin or /lib, got ${got(value)}`,
      );
    }
  }
  const listen = splitHostPort(config.http.listen);
  if (listen && valid('http.tokenFile') && !isLoopback(listen.host) && config.http.tokenFile === null) {
    out.push(`http.tokenFile must be set when http.listen is off loopback (${got(config.http.listen)}), got null`);
  }
  // A broker password or API key must not cross the network in plain text (issue 15).
  if (
    [
      'mqtt.url',
      'mqtt.passwordFile',
      'analysis.baseUrl',
      'analysis.apiKeyFile',
      'mqtt.allowInsecure',
      'analysis.allowInsecure',
    ].every(valid)
  ) {
    out.push(...insecureTransportProblems(config, secretsInConfig(config)));
  }
  // TLS client authentication needs both halves; one alone fails only at connect time.
  if (valid('mqtt.cert') && valid('mqtt.key') && (config.mqtt.cert === null) !== (config.mqtt.key === null)) {
    const [missing, present] = config.mqtt.cert === null ? ['cert', 'key'] : ['key', 'cert'];
    out.push(`mqtt.${missing} must be set when mqtt.${present} is (tls client auth needs both), got null`);
  }
  return out;
}

// Folders of the system itself: the agent writes (and prunes, and resets) inside the folders it is
// given, so none of them may be one of these or lie in the kernel's, the devices' or the OS's trees.
// (/mnt, /media, /srv and /opt are left alone: a disk for the archives is often mounted right there.)
const SYSTEM_FOLDERS = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib64',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/sys',
  '/tmp',
  '/usr',
  '/var',
  '/var/lib',
  '/var/log',
  '/var/tmp',
]);
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/boot', '/usr', '/bin', '/sbin', '/lib'];

function isSystemPath(folder: string): boolean {
  const resolved = path.posix.resolve(folder);
  return SYSTEM_FOLDERS.has(resolved) || SYSTEM_TREES.some((tree) => resolved.startsWith(`${tree}/`));
}

/** True when `outer` is `inner` or one of the folders above it. */
function contains(outer: string, inner: string): boolean {
  const [o, i] = [path.posix.resolve(outer), path.posix.resolve(inner)];
  return o === i || o === '/' || i.startsWith(`${o}/`);
}

function overlaps(a: string, b: string): boolean {
  const [x, y] = [path.posix.resolve(a), path.posix.resolve(b)];
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`) || x === '/' || y === '/';
}

function lowerFirst(line: string): string {
  return line.charAt(0).toLowerCase() + line.slice(1);
}

/**
 * Validates a whole config object (defaults fill what it leaves out) and returns the effective
 * config, or throws a ConfigError listing every problem, one line each.
 */
export function validateConfig(raw: unknown, carried: string[] = []): AgentConfig {
  if (!isPlainObject(raw)) throw new ConfigError([...carried, `the config must be a json object, got ${got(raw)}`]);
  const { problems, clean } = checkShape(raw);
  problems.unshift(...carried);
  let values: AgentConfig;
  try {
    const cfg = newConvict();
    cfg.load(clean);
    values = cfg.getProperties();
    for (const leaf of schemaLeaves().values()) {
      problems.push(...leaf.check(getPath(values, leaf.key.split('.')), leaf.key));
    }
    if (problems.length === 0) {
      // Convict has the last word; our checks above only make its verdict readable.
      try {
        cfg.validate({ allowed: 'strict' });
      } catch (error) {
        problems.push(...(error as Error).message.split('\n').map(lowerFirst));
      }
    }
  } catch (error) {
    throw new ConfigError([...problems, `config could not be validated: ${(error as Error).message}`], {
      cause: error,
    });
  }
  const valid = (key: string) => !problems.some((line) => line.startsWith(`${key} `));
  problems.push(...crossFieldProblems(values, valid));
  if (problems.length > 0) throw new ConfigError(problems);
  return values;
}
