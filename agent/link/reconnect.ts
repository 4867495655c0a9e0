/** The link's reconnect policy: exponential backoff with jitter, reset only after a stable connection. */
import { Backoff } from '../util/backoff.js';

/** Tuning of the reconnect delays. */
export interface ReconnectOptions {
  initialMs?: number;
  maxMs?: number;
  /** A connection that lasted this long counts as healthy and resets the backoff. */
  stableMs?: number;
  random?: () => number;
}

/**
 * Says how long to wait after each close. A broker that accepts and then drops us at once (ACL,
 * a duplicate client id elsewhere) keeps growing the delay instead of being hammered.
 */
export class ReconnectPolicy {
  private readonly backoff: Backoff;
  private connectedAt: number | null = null;

  constructor(private readonly options: ReconnectOptions = {}) {
    this.backoff = new Backoff({
      initialMs: options.initialMs ?? 1000,
      maxMs: options.maxMs ?? 60_000,
      factor: 2,
      jitter: 0.5,
      random: options.random,
    });
  }

  /** Records a successful CONNACK at time `now` (ms). */
  connected(now: number): void {
    this.connectedAt = now;
  }

  /** The delay before the next attempt after a close at time `now` (ms). */
  closed(now: number): number {
    if (this.connectedAt !== null && now - this.connectedAt >= (this.options.stableMs ?? 30_000)) {
      this.backoff.reset();
    }
    this.connectedAt = null;
    return Math.max(1, this.backoff.next());
  }

  /** Failed attempts since the last stable connection. */
  get failures(): number {
    return this.backoff.failures;
  }
}
