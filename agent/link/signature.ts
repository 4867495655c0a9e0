/**
 * Signed commands (`mqtt.commandKeyFile`): HMAC-SHA256 over `<name>\n<ts>\n<canonical body>` (the
 * contract's form) or, scoped to one board and topic, `v2\n<device id>\n<topic>\n<name>\n<ts>\n<canonical body>`;
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

/** What a scoped (v2) signature binds a request to: one board and the topic it was published on. */
export interface SignatureScope {
  deviceId: string;
  /** `R/cmd/<name>` for a command, `R/config/desired` for a desired document. */
  topic: string;
}

/** The text that is signed for a command body (`sig` left out); with a scope, the v2 form. */
export function signedText(name: string, body: Record<string, unknown>, scope?: SignatureScope): string {
  const { sig: _sig, ...rest } = body;
  const legacy = `${name}\n${String(body.ts)}\n${canonicalJson(rest)}`;
  return scope ? `v2\n${scope.deviceId}\n${scope.topic}\n${legacy}` : legacy;
}

/** Returns the body with `sig` added: what a back end (or a test) sends; with a scope, the v2 form. */
export function signCommand(
  key: string | Buffer,
  name: string,
  body: Record<string, unknown>,
  scope?: SignatureScope,
): Record<string, unknown> {
  const sig = createHmac('sha256', key)
    .update(signedText(name, body, scope))
    .digest('hex');
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
  /** This board's device id, for scoped (v2) signatures; without it only the contract's form can match. */
  deviceId?: () => string;
  /** `mqtt.requireScopedSignatures`: only the v2 form is valid. */
  requireScoped?: () => boolean;
  /** Where the replay cache survives a restart (the store); without it a restart reopens the window. */
  persist?: {
    load(now: number): Iterable<[string, number]>;
    add(id: string, expires: number): void;
    prune(now: number): void;
  };
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

  /**
   * Throws AgentError('unauthorized') unless the body is validly signed, fresh and not replayed.
   * `topic` is where the request was published (needed for the scoped form).
   */
  verify(name: string, body: Record<string, unknown>, topic?: string): void {
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
      throw new AgentError(
        'unauthorized',
        `command ts is ${Math.round((now - tsMs) / 1000)} s off the agent clock (60 s allowed)`,
      );
    }
    if (!this.matches(key, name, body, sig, topic)) {
      throw new AgentError(
        'unauthorized',
        `command signature does not match${this.deps.requireScoped?.() ? ' (only the scoped v2 form is accepted)' : ''}`,
      );
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
  verifyDocument(name: string, body: Record<string, unknown>, topic?: string): boolean {
    const key = this.deps.key();
    const { sig } = body;
    if (key === null || typeof sig !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sig)) return false;
    return this.matches(key, name, body, sig, topic);
  }

  /** The scoped form when a topic and device id are known, else (unless required) the contract's form. */
  private matches(
    key: string | Buffer,
    name: string,
    body: Record<string, unknown>,
    sig: string,
    topic: string | undefined,
  ): boolean {
    const given = Buffer.from(sig, 'hex');
    const deviceId = this.deps.deviceId?.();
    const texts: string[] = [];
    if (topic !== undefined && deviceId !== undefined) texts.push(signedText(name, body, { deviceId, topic }));
    if (!this.deps.requireScoped?.()) texts.push(signedText(name, body));
    // Every candidate is computed and compared, so timing does not tell which form was tried.
    let ok = false;
    for (const text of texts) ok = timingSafeEqual(createHmac('sha256', key).update(text).digest(), given) || ok;
    return ok;
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
