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
  constructor(
    message: string,
    fields: { retryable: boolean; retryAfterMs?: number | null; status?: number | null },
    options?: { cause?: unknown },
  ) {
    super('analysis_failed', message, options);
    this.name = 'AnalysisError';
    this.retryable = fields.retryable;
    this.retryAfterMs = fields.retryAfterMs ?? null;
    this.status = fields.status ?? null;
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
