/**
 * Signed commands (`mqtt.commandKeyFile`): HMAC-SHA256 over `<name>\n<ts>\n<canonical body>`,
 * a 60-s window around the agent's clock, and every signature accepted at most once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AgentError } from '../contract/errors.js';
import { systemClock, type Clock } from '../util/clock.js';

/** JSON with keys sorted at every level and no white space: the form that is signed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The text that is signed for a command body (`sig` left out). */
export function signedText(name: string, body: Record<string, unknown>): string {
  const { sig: _sig, ...rest } = body;
  return `${name}\n${String(body.ts)}\n${canonicalJson(rest)}`;
}

/** Returns the body with `sig` added: what a back end (or a test) sends. */
export function signCommand(key: string | Buffer, name: string, body: Record<string, unknown>): Record<string, unknown> {
  const sig = createHmac('sha256', key).update(signedText(name, body)).digest('hex');
  return { ...body, sig };
}

/** Parses `ts`: epoch milliseconds (number or digit string) or an ISO-8601 string. */
export function parseTs(ts: unknown): number | null {
  if (typeof ts === 'number') return Number.isFinite(ts) ? ts : null;
  if (typeof ts !== 'string' || ts.length === 0 || ts.length > 40) return null;
  if (/^\d+$/.test(ts)) return Number(ts);
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? null : ms;
}

/** What the verifier needs. */
export interface SignatureVerifierDeps {
  /** The key from `mqtt.commandKeyFile`, or null when commands need no signature. */
  key: () => string | Buffer | null;
  clock?: Clock;
  windowMs?: number;
  /** Bound of the replay cache; only validly signed commands enter it. */
  maxEntries?: number;
  /** Where the replay cache survives a restart (the store); without it a restart reopens the window. */
  persist?: { load(now: number): Iterable<[string, number]>; add(id: string, expires: number): void; prune(now: number): void };
}

/** Checks signatures and remembers the ones seen within the window. */
export class SignatureVerifier {
  private readonly seen = new Map<string, number>();

  constructor(private readonly deps: SignatureVerifierDeps) {
    const now = (deps.clock ?? systemClock).now();
    for (const [id, expires] of deps.persist?.load(now) ?? []) this.seen.set(id, expires);
  }

  /** Whether a key is configured (and so signatures are required). */
  enabled(): boolean {
    return this.deps.key() !== null;
  }

  /** Throws AgentError('unauthorized') unless the body is validly signed, fresh and not replayed. */
  verify(name: string, body: Record<string, unknown>): void {
    const key = this.deps.key();
    if (key === null) return;
    const now = (this.deps.clock ?? systemClock).now();
    const window = this.deps.windowMs ?? 60_000;
    const { sig, ts } = body;
    if (typeof sig !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sig)) {
      throw new AgentError('unauthorized', 'command signature missing or not 64 hex digits');
    }
    const tsMs = parseTs(ts);
    if (tsMs === null) throw new AgentError('unauthorized', 'command ts missing or not ISO-8601 / epoch ms');
    if (Math.abs(now - tsMs) > window) {
      throw new AgentError('unauthorized', `command ts is ${Math.round((now - tsMs) / 1000)} s off the agent clock (60 s allowed)`);
    }
    const expected = createHmac('sha256', key).update(signedText(name, body)).digest();
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) {
      throw new AgentError('unauthorized', 'command signature does not match');
    }
    this.prune(now);
    const id = sig.toLowerCase();
    if (this.seen.has(id)) throw new AgentError('unauthorized', 'command replayed');
    if (this.seen.size >= (this.deps.maxEntries ?? 10_000)) {
      throw new AgentError('unauthorized', 'too many signed commands within the window');
    }
    // Kept until its ts leaves the window: after that the staleness check refuses it anyway.
    this.seen.set(id, tsMs + window);
    // Stored before the command runs, so a crash right after cannot let it run twice.
    this.deps.persist?.add(id, tsMs + window);
  }

  /** Verifies a retained document's signature only: its version, not a time window, stops replays. */
  verifyDocument(name: string, body: Record<string, unknown>): boolean {
    const key = this.deps.key();
    const { sig } = body;
    if (key === null || typeof sig !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sig)) return false;
    const expected = createHmac('sha256', key).update(signedText(name, body)).digest();
    return timingSafeEqual(expected, Buffer.from(sig, 'hex'));
  }

  private prune(now: number): void {
    let pruned = false;
    for (const [id, expires] of this.seen) {
      if (expires < now) {
        this.seen.delete(id);
        pruned = true;
      }
    }
    if (pruned) this.deps.persist?.prune(now);
  }
}
