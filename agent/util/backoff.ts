/** Exponential backoff with full jitter, capped: a fleet of boards must not retry in step. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** 0 = no jitter, 1 = anywhere between half and the whole delay. */
  jitter?: number;
  random?: () => number;
}

/** The delay before retry number `failures + 1`, after `failures` consecutive failures (0 = the first retry). */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  const { initialMs, maxMs, factor = 2, jitter = 0.5, random = Math.random } = options;
  const base = Math.min(maxMs, initialMs * factor ** failures);
  return Math.round(base * (1 - jitter * random()));
}

/** Tracks consecutive failures and says how long to wait before the next attempt. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.options);
    this.attempt += 1;
    return delay;
  }

  /** Failures counted since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  /** Forget past failures (after a run that lasted long enough to count as healthy). */
  reset(): void {
    this.attempt = 0;
  }
}
