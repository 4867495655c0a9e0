/** The analysis module's error: says whether trying again can help, and when. */
import { AgentError } from '../contract/errors.js';

/** A failed step of an analysis job. */
export class AnalysisError extends AgentError {
  /** True for 429, 5xx, time-outs and network trouble; false for what a retry cannot fix. */
  readonly retryable: boolean;
  /** The wait the API asked for (RetryInfo.retryDelay), if it gave one. */
  readonly retryAfterMs: number | null;
  /** HTTP status, when the API answered. */
  readonly status: number | null;
  /** The API could not be reached at all (refused, reset, no route, no name): the board or the API is offline. */
  readonly offline: boolean;
  constructor(
    message: string,
    fields: { retryable: boolean; retryAfterMs?: number | null; status?: number | null; offline?: boolean },
    options?: { cause?: unknown },
  ) {
    super('analysis_failed', message, options);
    this.name = 'AnalysisError';
    this.retryable = fields.retryable;
    this.retryAfterMs = fields.retryAfterMs ?? null;
    this.status = fields.status ?? null;
    this.offline = fields.offline ?? false;
  }
}

/** A job that ends skipped, not failed: `analysis.skipped` with `reason` and `details` on the event. */
export class SkipError extends AnalysisError {
  constructor(
    message: string,
    readonly reason: string,
    readonly details: { distance?: number; sameAs?: string } = {},
  ) {
    super(message, { retryable: false });
    this.name = 'SkipError';
  }
}

/** The archive was deleted (by retention) before it could be analysed. */
export class ArchiveGoneError extends SkipError {
  constructor(file: string) {
    super(`archive ${file} no longer exists`, 'retention');
    this.name = 'ArchiveGoneError';
  }
}

/** A still clip whose scene matches the last clip of its camera the model analysed (duplicates.ts). */
export class DuplicateClipError extends SkipError {
  constructor(file: string, distance: number, sameAs: string) {
    super(
      `archive ${file} is still and its scene matches ${sameAs} (${distance} of 256 comparisons changed)`,
      'duplicate',
      { distance, sameAs },
    );
    this.name = 'DuplicateClipError';
  }
}

/** The model's answer did not match the schema (retried once, then reported). */
export class MalformedAnswerError extends AnalysisError {
  constructor(message: string) {
    super(message, { retryable: false });
    this.name = 'MalformedAnswerError';
  }
}

/** The job was interrupted by stop(); it resumes at the next start, no attempt counted. */
export class AbortedError extends AnalysisError {
  constructor() {
    super('analysis interrupted by stop', { retryable: true });
    this.name = 'AbortedError';
  }
}
