/**
 * Who may ask what: the Host check, the bearer token or session cookie off loopback, CSRF for
 * cookie-authenticated requests that change state, and the session endpoint the page logs in
 * with (`/api/session`). The server asks this module and writes what it answers.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { errorReply, type JsonReply } from './api.js';
import { HostCheck, type HostFacts } from './hosts.js';
import { bearerMatches, isLoopback } from './listen.js';
import {
  clearedCookie,
  CSRF_HEADER,
  FailureLimiter,
  readCookie,
  SESSION_COOKIE,
  SESSION_SECONDS,
  sessionCookie,
  Sessions,
} from './session.js';

/** A reply with the extra headers it needs (Set-Cookie, Retry-After, WWW-Authenticate). */
export interface AccessReply extends JsonReply {
  headers?: Record<string, string>;
}

/** The outcome of checking one request's credentials. */
export type Access =
  { ok: true; via: 'open' | 'bearer' | 'cookie'; session?: string } | { ok: false; reply: AccessReply };

/** What the access rules depend on. */
export interface AccessOptions {
  listenHost: string;
  /** The bearer token, or null; only used off loopback. */
  token: string | null;
  allowedHosts: readonly string[];
  now?: () => number;
  hostFacts?: HostFacts;
}

const MAX_BODY_BYTES = 4096;

function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** The rules for one HttpServer configuration. */
export class AccessControl {
  /** True when requests need the token (the server is bound off loopback). */
  readonly required: boolean;
  private readonly hosts: HostCheck;
  private readonly sessions: Sessions | null;
  private readonly limiter: FailureLimiter;

  constructor(private readonly opts: AccessOptions) {
    this.required = !isLoopback(opts.listenHost) && opts.token !== null;
    this.hosts = new HostCheck(opts.listenHost, opts.allowedHosts, opts.hostFacts, opts.now);
    this.sessions = this.required ? new Sessions(opts.token as string, opts.now) : null;
    this.limiter = new FailureLimiter(5, 60_000, opts.now);
  }

  /** Null when the Host header names this agent, else the 421 to send (DNS rebinding). */
  hostProblem(req: IncomingMessage): AccessReply | null {
    if (this.hosts.allows(req.headers.host)) return null;
    const host = JSON.stringify(String(req.headers.host).slice(0, 100));
    return errorReply(
      421,
      'bad_request',
      `host ${host} is not a name of this agent; add it to http.allowedHosts to allow it`,
    );
  }

  /** True when the request came over TLS, or through a proxy on this machine that says it did. */
  secure(req: IncomingMessage): boolean {
    if ((req.socket as TLSSocket).encrypted) return true;
    return req.headers['x-forwarded-proto'] === 'https' && isLoopback(clientAddress(req));
  }

  private tooMany(req: IncomingMessage): AccessReply | null {
    const wait = this.limiter.retryAfterSeconds(clientAddress(req));
    if (wait === 0) return null;
    return {
      ...errorReply(429, 'rate_limited', `too many failed token attempts; try again in ${wait} s`),
      headers: { 'Retry-After': String(wait) },
    };
  }

  private unauthorized(req: IncomingMessage, staleCookie: boolean): AccessReply {
    const headers: Record<string, string> = { 'WWW-Authenticate': 'Bearer' };
    // A cookie of an older token or an expired session: drop it so the page asks for the token.
    if (staleCookie) headers['Set-Cookie'] = clearedCookie(this.secure(req));
    return {
      ...errorReply(401, 'unauthorized', 'a valid Authorization: Bearer token or session cookie is required'),
      headers,
    };
  }

  /** Checks the bearer token or the session cookie; a wrong token counts against the client's address. */
  check(req: IncomingMessage): Access {
    if (!this.required || !this.sessions) return { ok: true, via: 'open' };
    if (req.headers.authorization !== undefined) {
      const limited = this.tooMany(req);
      if (limited) return { ok: false, reply: limited };
      if (bearerMatches(req.headers.authorization, this.opts.token as string)) return { ok: true, via: 'bearer' };
      this.limiter.fail(clientAddress(req));
      return { ok: false, reply: this.unauthorized(req, false) };
    }
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (this.sessions.valid(cookie)) return { ok: true, via: 'cookie', session: cookie };
    return { ok: false, reply: this.unauthorized(req, cookie !== undefined && cookie !== '') };
  }

  /** Null when a request may change state: Bearer and open requests may; a cookie needs the CSRF header. */
  csrfProblem(req: IncomingMessage, access: Access): AccessReply | null {
    if (!access.ok || access.via !== 'cookie' || !this.sessions) return null;
    if (this.sessions.csrfMatches(access.session as string, req.headers[CSRF_HEADER])) return null;
    return errorReply(
      403,
      'forbidden',
      `a cookie-authenticated ${req.method} needs the ${CSRF_HEADER} header of its session`,
    );
  }

  /** `/api/session`: GET says whether the caller is in; POST `{"token"}` logs in; DELETE logs out. */
  async session(req: IncomingMessage): Promise<AccessReply> {
    if (req.method === 'GET' || req.method === 'HEAD') return this.sessionState(this.check(req));
    if (req.method === 'POST') return this.login(req);
    if (req.method === 'DELETE') return this.logout(req);
    return {
      ...errorReply(405, 'bad_request', `method ${req.method} not allowed`),
      headers: { Allow: 'GET, HEAD, POST, DELETE' },
    };
  }

  private sessionState(access: Access): AccessReply {
    const csrf =
      access.ok && access.via === 'cookie' && this.sessions ? this.sessions.csrfFor(access.session as string) : null;
    const reply: AccessReply = { status: 200, body: { required: this.required, authenticated: access.ok, csrf } };
    if (!access.ok && access.reply.headers?.['Set-Cookie'])
      reply.headers = { 'Set-Cookie': access.reply.headers['Set-Cookie'] };
    return reply;
  }

  private async login(req: IncomingMessage): Promise<AccessReply> {
    if (!this.required || !this.sessions) return this.sessionState({ ok: true, via: 'open' });
    // A cross-site form can post text/plain or form data, never application/json without CORS.
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      return errorReply(415, 'bad_request', 'the token must be sent as application/json: {"token": "..."}');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host))
      return errorReply(403, 'forbidden', 'cross-origin login refused');
    const limited = this.tooMany(req);
    if (limited) return limited;
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null) return errorReply(413, 'bad_request', `body larger than ${MAX_BODY_BYTES} bytes`);
    let token: unknown;
    try {
      token = (JSON.parse(body) as { token?: unknown } | null)?.token;
    } catch {
      token = undefined;
    }
    if (typeof token !== 'string' || token === '')
      return errorReply(400, 'bad_request', 'body must be {"token": "<the http token>"}');
    if (!bearerMatches(`Bearer ${token}`, this.opts.token as string)) {
      this.limiter.fail(clientAddress(req));
      return errorReply(401, 'unauthorized', 'wrong token');
    }
    const value = this.sessions.issue();
    const expiresAt = new Date((this.opts.now ?? Date.now)() + SESSION_SECONDS * 1000).toISOString();
    return {
      status: 200,
      body: { required: true, authenticated: true, csrf: this.sessions.csrfFor(value), expiresAt },
      headers: { 'Set-Cookie': sessionCookie(value, this.secure(req)) },
    };
  }

  private logout(req: IncomingMessage): AccessReply {
    const access = this.check(req);
    if (!access.ok) return access.reply;
    const csrf = this.csrfProblem(req, access);
    if (csrf) return csrf;
    if (access.via === 'cookie') this.sessions?.revoke(access.session as string);
    return {
      status: 200,
      body: { required: this.required, authenticated: false, csrf: null },
      headers: { 'Set-Cookie': clearedCookie(this.secure(req)) },
    };
  }
}

/** True when an Origin header names the host the request was sent to. */
export function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    const url = new URL(origin);
    return (
      host !== undefined &&
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.host.toLowerCase() === host.toLowerCase()
    );
  } catch {
    return false;
  }
}

/** The request body as text, or null when it passes `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
