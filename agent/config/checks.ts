/**
 * Small value checks the config schema is built from. Each returns the problems it finds as
 * whole lines ("<key> must be <what is allowed>, got <value>"), so one bad file yields one line
 * per mistake instead of convict's single run-on error.
 */
import { PRODUCER_ENCODERS } from '../../device/encoders/ladder.js';
import { redactSecrets } from '../util/redact.js';

/** Checks one value found at `key`; returns one line per problem, none when the value is fine. */
export type Check = (value: unknown, key: string) => string[];

const MAX_SHOWN = 80;

/** Renders a user's value for a message: JSON, on one line, shortened, url passwords hidden. */
export function got(value: unknown): string {
  if (value === undefined) return 'nothing';
  // JSON would print Infinity and NaN as null, hiding what was actually given.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  // Messages reach stderr and MQTT replies: never echo a password typed into a url.
  text = redactSecrets(text);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

/** Renders a key path (after `prefix`) as `cameras[0].fps`; odd key names are quoted so a line stays one line. */
export function keyName(path: readonly (string | number)[], prefix = ''): string {
  let out = prefix;
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** A plain JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One problem line in the house style. */
export function problem(key: string, allowed: string, value: unknown): string {
  return `${key} must be ${allowed}, got ${got(value)}`;
}

/** An integer in [min, max]; `even` for frame sizes, since 4:2:0 chroma needs even dimensions. */
export function intRange(min: number, max: number, opts: { even?: boolean } = {}): Check {
  const what = `${opts.even ? 'an even' : 'an'} integer between ${min} and ${max}`;
  return (value, key) => {
    const ok =
      typeof value === 'number' &&
      Number.isInteger(value) &&
      value >= min &&
      value <= max &&
      (!opts.even || value % 2 === 0);
    return ok ? [] : [problem(key, what, value)];
  };
}

/** A finite number in [min, max]; `aboveMin` leaves out min itself (a frame rate of 0 samples nothing). */
export function numberRange(min: number, max: number, opts: { aboveMin?: boolean } = {}): Check {
  const what = `a number ${opts.aboveMin ? 'above' : 'from'} ${min} ${opts.aboveMin ? 'up to' : 'to'} ${max}`;
  return (value, key) => {
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (opts.aboveMin ? value > min : value >= min) &&
      value <= max;
    return ok ? [] : [problem(key, what, value)];
  };
}

/** true or false. */
export const bool: Check = (value, key) => (typeof value === 'boolean' ? [] : [problem(key, 'true or false', value)]);

/** One of a fixed list of strings. */
export function oneOf(values: readonly string[]): Check {
  const what = values.length === 1 ? `"${values[0]}"` : `one of ${values.map((v) => `"${v}"`).join(', ')}`;
  return (value, key) => (typeof value === 'string' && values.includes(value) ? [] : [problem(key, what, value)]);
}

/** A string matching `pattern`, described as `what`; `nullable` also accepts null (unset). */
export function text(what: string, pattern: RegExp, opts: { nullable?: boolean; maxLength?: number } = {}): Check {
  const maxLength = opts.maxLength ?? 4096;
  const allowed = opts.nullable ? `null or ${what}` : what;
  return (value, key) => {
    if (opts.nullable && value === null) return [];
    const ok = typeof value === 'string' && value.length <= maxLength && pattern.test(value);
    return ok ? [] : [problem(key, allowed, value)];
  };
}

// A NUL byte cannot be part of a Linux path; everything else is the file system's business.
const PATH = /^[^\0]+$/;

/** An absolute directory path: the agent runs as a service whose working directory means nothing. */
export const absoluteDir: Check = text('an absolute path', /^\/[^\0]*$/);

/**
 * A file path or null. Relative names are allowed because systemd credentials are looked up by
 * name in $CREDENTIALS_DIRECTORY (see credentials.ts).
 */
export const optionalFile: Check = text('a file path', PATH, { nullable: true });

/** True when `value` parses as a URL whose scheme is one of `schemes` and which names a host. */
export function isUrlWithHost(value: string, schemes: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return schemes.includes(url.protocol.replace(/:$/, '')) && url.hostname !== '';
}

/** null, or a URL with one of `schemes` and a host. */
export function optionalUrl(schemes: readonly string[]): Check {
  const what = `null or a ${schemes.map((s) => `${s}://`).join(' or ')} url with a host`;
  return (value, key) =>
    value === null || (typeof value === 'string' && isUrlWithHost(value, schemes)) ? [] : [problem(key, what, value)];
}

/** `mqtt.url`: the embedded broker or a central one reached over TCP, TLS or WebSockets. */
export const mqttUrl: Check = (value, key) =>
  value === 'embedded' || (typeof value === 'string' && isUrlWithHost(value, ['mqtt', 'mqtts', 'ws', 'wss']))
    ? []
    : [problem(key, '"embedded" or an mqtt://, mqtts://, ws:// or wss:// url with a host', value)];

/** Splits `host:port` (IPv6 in brackets); null when it is not of that shape. */
export function splitHostPort(value: string): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[2]);
  // Port 0 lets tests bind an ephemeral port; anything past 65535 is not a port.
  if (port > 65535) return null;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** `http.listen`: host:port, the host an IPv4 address, a host name or a bracketed IPv6 address. */
export const hostPort: Check = (value, key) =>
  typeof value === 'string' && splitHostPort(value) !== null
    ? []
    : [problem(key, 'host:port, e.g. "127.0.0.1:8080" or "[::1]:8080", with a port up to 65535', value)];

/** True for addresses only this machine can reach, where the status page needs no token. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `encoder.prefer`: "auto" or a non-empty list of distinct FFmpeg encoder names. */
export const encoderPrefer: Check = (value, key) => {
  const allowed = '"auto" or a non-empty list of distinct ffmpeg encoder names like ["h264_v4l2m2m", "libx264"]';
  if (value === 'auto') return [];
  if (!Array.isArray(value) || value.length === 0 || value.length > 16) return [problem(key, allowed, value)];
  const out: string[] = [];
  value.forEach((name, i) => {
    if (typeof name !== 'string' || !(/^[a-z0-9_]{1,64}$/.test(name) || PRODUCER_ENCODERS.has(name))) {
      out.push(
        problem(
          `${key}[${i}]`,
          `an ffmpeg encoder name of lower-case letters, digits and _, or a camera-side encoder (${[...PRODUCER_ENCODERS].join(', ')})`,
          name,
        ),
      );
    } else if (value.indexOf(name) !== i) {
      out.push(`${key}[${i}] must not repeat an encoder already listed, got ${got(name)} again`);
    }
  });
  return out;
};

/** `http.allowedHosts`: up to 32 distinct DNS names or IP addresses the status page may be reached by. */
export const hostNames: Check = (value, key) => {
  const allowed =
    'a list of up to 32 host names or IP addresses like ["cam-gate.example.net", "10.0.0.7"], without ports';
  if (!Array.isArray(value) || value.length > 32) return [problem(key, allowed, value)];
  const out: string[] = [];
  value.forEach((name, i) => {
    if (
      typeof name !== 'string' ||
      !/^(?:[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}\.?)*|[0-9a-fA-F:.]{2,45})$/.test(name) ||
      name.length > 253
    ) {
      out.push(problem(`${key}[${i}]`, 'a host name or IP address without port or brackets', name));
    }
  });
  return out;
};

/** null (unset) or an integer in [min, max]. */
export function optionalInt(min: number, max: number): Check {
  const whole = intRange(min, max);
  return (value, key) =>
    value === null || whole(value, key).length === 0
      ? []
      : [problem(key, `null or an integer between ${min} and ${max}`, value)];
}
