/** Where the HTTP server binds and who may talk to it: `http.listen` parsing and the bearer check. */
import { timingSafeEqual, createHash } from 'node:crypto';
import { AgentError } from '../contract/errors.js';

/** A parsed `http.listen`. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or a bare `port` (loopback); throws a config error otherwise. */
export function parseListen(listen: string): ListenAddress {
  const bad = () =>
    new AgentError(
      'config_invalid',
      `http.listen must be host:port with a port 0-65535, got ${JSON.stringify(listen)}`,
    );
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(listen) ?? /^()()(\d{1,5})$/.exec(listen);
  if (!match) throw bad();
  const port = Number(match[3]);
  if (port > 65535) throw bad();
  return { host: match[1] || match[2] || '127.0.0.1', port };
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** True when the Authorization header carries exactly `Bearer <token>`; compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  // Hash both sides so the comparison takes the same time whatever the lengths are.
  const given = createHash('sha256').update(match[1]).digest();
  const wanted = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, wanted);
}
