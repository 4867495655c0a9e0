/**
 * The status page's session: off loopback the page trades the bearer token, once, for a signed
 * expiring cookie (`HttpOnly; SameSite=Strict`), and cookie-authenticated requests that change
 * state must echo a CSRF token derived from that cookie (double submit). Failed token attempts
 * are limited per client address.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The session cookie's name. */
export const SESSION_COOKIE = 'edge_agent_session';
/** The header a cookie-authenticated state-changing request must carry (Bearer requests need not). */
export const CSRF_HEADER = 'x-csrf-token';
/** How long a session lasts; the page asks for the token again after it. */
export const SESSION_SECONDS = 12 * 3600;

function equalText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Issues and checks session cookies: `v1.<expiry epoch s>.<random>.<HMAC>`, keyed by the token
 * itself, so a new token ends every session and an agent restart ends none. Stateless but for
 * the cookies logged out before they expire.
 */
export class Sessions {
  private readonly key: Buffer;
  private readonly revoked = new Map<string, number>();

  constructor(
    token: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', 'edge-agent http session v1').update(token).digest();
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  /** A new session cookie value. */
  issue(): string {
    const expires = Math.floor(this.now() / 1000) + SESSION_SECONDS;
    const nonce = randomBytes(16).toString('base64url');
    return `v1.${expires}.${nonce}.${this.mac(`session\n${expires}\n${nonce}`)}`;
  }

  /** True for a cookie value this agent issued with this token, not expired and not logged out. */
  valid(value: string | undefined): value is string {
    const match = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
    if (!match || !value) return false;
    if (Number(match[1]) * 1000 <= this.now() || this.revoked.has(value)) return false;
    return equalText(match[3] as string, this.mac(`session\n${match[1]}\n${match[2]}`));
  }

  /** The CSRF token that goes with a session cookie. */
  csrfFor(value: string): string {
    return this.mac(`csrf\n${value}`);
  }

  /** True when `header` is the CSRF token of the session `value`. */
  csrfMatches(value: string, header: string | string[] | undefined): boolean {
    return typeof header === 'string' && equalText(header, this.csrfFor(value));
  }

  /** Ends a session before its expiry (logout). */
  revoke(value: string): void {
    const now = this.now();
    for (const [v, until] of this.revoked) if (until <= now) this.revoked.delete(v);
    if (this.revoked.size >= 10_000) return; // a flood of logouts must not grow memory; they expire anyway
    this.revoked.set(value, Number(value.split('.')[1]) * 1000);
  }
}

/** One cookie's value from a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie header for a session (`Secure` when the page came over TLS). */
export function sessionCookie(value: string, secure: boolean, maxAgeSeconds = SESSION_SECONDS): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie header that removes the session cookie. */
export function clearedCookie(secure: boolean): string {
  return sessionCookie('', secure, 0);
}

/**
 * Failed token attempts per client address: after `max` failures within `windowMs`, token
 * attempts from that address are answered 429 until the oldest failure leaves the window.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxAddresses = 4096,
  ) {}

  private recent(address: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(address) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(address);
    else this.failures.set(address, list);
    return list;
  }

  /** Seconds until `address` may try a token again; 0 when it may now. */
  retryAfterSeconds(address: string): number {
    const list = this.recent(address);
    if (list.length < this.max) return 0;
    return Math.max(1, Math.ceil(((list[list.length - this.max] as number) + this.windowMs - this.now()) / 1000));
  }

  /** Records one failed attempt from `address`. */
  fail(address: string): void {
    const list = this.recent(address);
    list.push(this.now());
    // Insertion order is age order: forget the oldest address rather than grow without bound.
    this.failures.delete(address);
    this.failures.set(address, list.slice(-this.max));
    if (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value as string);
  }
}
