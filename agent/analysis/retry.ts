/**
 * What a failed try means: when the job tries again, whether the whole queue waits with it, or
 * that it is given up. A 429 (the project's quota, shared by the whole fleet) and an unreachable
 * API are nobody's fault in this job: they hold every job and never use up its tries, so a long
 * outage or a 429 storm only delays a result (README "Analysis that never holds up an alert").
 */
import { backoffDelay } from '../util/backoff.js';
import { AnalysisError, MalformedAnswerError } from './errors.js';

/** How failed tries are spaced and when the queue gives up on a job. */
export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** Tries (counting the first) before a retryable failure becomes `analysis.failed`. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 5_000, maxMs: 15 * 60_000, maxAttempts: 8 };

/** The verdict on one failed try. */
export type RetryDecision =
  { retry: true; attempts: number; delayMs: number } | { retry: false; attempts: number; reason: string };

/** The queue-wide hold and the per-job retry arithmetic. */
export class RetryGate {
  private pausedUntil = 0;
  private pausedFor: 'rate-limit' | 'offline' = 'rate-limit';
  /** Queue-holding failures in a row: their backoff grows with this, not with a job's tries. */
  private streak = 0;
  private readonly policy: RetryPolicy;

  constructor(
    policy: Partial<RetryPolicy> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.policy = { ...DEFAULT_RETRY, ...policy };
  }

  /** What holds every job now (a 429, or the API unreachable), or null. */
  held(now: number): 'rate-limit' | 'offline' | null {
    return now < this.pausedUntil ? this.pausedFor : null;
  }

  /** When the hold ends (ms; in the past when none). */
  get until(): number {
    return this.pausedUntil;
  }

  /** A try succeeded: the next hold starts its backoff afresh. */
  succeeded(): void {
    this.streak = 0;
  }

  /** Decides about a job that failed after `attemptsBefore` counted tries. */
  failed(error: AnalysisError, attemptsBefore: number, now: number): RetryDecision {
    const holdsQueue = error.status === 429 || error.offline;
    const attempts = holdsQueue ? attemptsBefore : attemptsBefore + 1;
    if (!error.retryable || error instanceof MalformedAnswerError || attempts >= this.policy.maxAttempts) {
      return {
        retry: false,
        attempts,
        reason: error.retryable ? `gave up after ${attempts} tries: ${error.message}` : error.message,
      };
    }
    if (holdsQueue) this.streak += 1;
    const delayMs = this.delay(holdsQueue ? this.streak : attempts, error.retryAfterMs);
    if (holdsQueue) {
      this.pausedUntil = now + delayMs;
      this.pausedFor = error.status === 429 ? 'rate-limit' : 'offline';
    }
    return { retry: true, attempts, delayMs };
  }

  /** Backoff with jitter; an API-given delay is honoured (plus up to 10 % so a fleet does not return in step). */
  private delay(attempts: number, retryAfterMs: number | null): number {
    if (retryAfterMs !== null) return Math.round(retryAfterMs * (1 + 0.1 * this.random()));
    return backoffDelay(attempts - 1, {
      initialMs: this.policy.initialMs,
      maxMs: this.policy.maxMs,
      random: this.random,
    });
  }
}
