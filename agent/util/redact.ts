/**
 * The one redaction of secrets carried in URLs, used wherever a URL (or a text that may hold one:
 * an FFmpeg error line, a log record) leaves the agent: the password of the user info
 * (`rtsp://admin:pw@cam/` → `rtsp://admin:[redacted]@cam/`) and the values of query parameters
 * whose names say they are secrets (`?password=`, `?token=`, `?key=`, `?sig=` …). Done on the text
 * rather than through `URL`, which would percent-encode the brackets and normalise the rest.
 */

/** What a hidden value reads as. */
export const REDACTED = '[redacted]';

// Query parameter names that carry secrets (IP cameras put credentials in the query too:
// `?user=admin&password=…`, `?token=…`, signed URLs' `sig`/`signature`, API keys).
const SECRET_PARAM = /pass|pwd|token|secret|key|auth|sig|cred|session|bearer/i;
// A URL inside any text: scheme://, then everything up to white space or a quote/bracket.
const URL_IN_TEXT = /\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>`]*/g;

/** One URL with its user info password and secret query values hidden; other text is left as is. */
function redactOne(url: string): string {
  const start = url.indexOf('://') + 3;
  const rest = url.slice(start);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  let out = url;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const colon = authority.slice(0, at).indexOf(':');
    if (colon >= 0) out = url.slice(0, start) + authority.slice(0, colon + 1) + REDACTED + url.slice(start + at);
  }
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const query = out.slice(q + 1, hash < 0 ? undefined : hash);
  const shown = query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq > 0 && SECRET_PARAM.test(pair.slice(0, eq)) ? `${pair.slice(0, eq + 1)}${REDACTED}` : pair;
    })
    .join('&');
  return out.slice(0, q + 1) + shown + (hash < 0 ? '' : out.slice(hash));
}

/** `text` (a URL, or any text holding URLs) with every URL's secrets hidden. */
export function redactSecrets(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, (match) => {
    // Punctuation right after a URL in a sentence ("…?token=t: connection refused") is not part of it.
    const tail = /[.,;:!?)\]]+$/.exec(match)?.[0] ?? '';
    return redactOne(match.slice(0, match.length - tail.length)) + tail;
  });
}

/**
 * A copy of a log argument with redactSecrets applied to every string in it, a few levels deep
 * (records are flat; FFmpeg's argument list is an array). Errors keep their type, code, stack and
 * `cause` chain.
 */
export function redactDeep(value: unknown, depth = 3): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth <= 0 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redactError(value, depth, new Map());
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth - 1));
  if (Buffer.isBuffer(value) || !isPlain(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth - 1)]));
}

/**
 * The error with every own property copied and redacted, `message`, `stack` and `cause` included
 * (they are not enumerable). The copy keeps the prototype, so pino still names its type
 * (`AgentError`, not `Error`), and a cause stays an error, so pino appends its message and stack.
 * `copies` maps each error of the chain to its copy: a chain that loops loops the same way, which
 * pino's serializer cuts short.
 */
function redactError(error: Error, depth: number, copies: Map<Error, Error>): Error {
  const done = copies.get(error);
  if (done) return done;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error;
  copies.set(error, copy);
  for (const key of Object.getOwnPropertyNames(error)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    let shown: unknown;
    if (key === 'cause' && value instanceof Error) shown = redactError(value, depth, copies);
    else if (key === 'message' || key === 'stack') shown = typeof value === 'string' ? redactSecrets(value) : value;
    else shown = redactDeep(value, depth - 1);
    const enumerable = Object.getOwnPropertyDescriptor(error, key)?.enumerable ?? false;
    Object.defineProperty(copy, key, { value: shown, enumerable, writable: true, configurable: true });
  }
  return copy;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
