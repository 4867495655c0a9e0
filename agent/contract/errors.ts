/** The one error type of the agent: a literal code, a lower-case message, the cause chained. */
export type AgentErrorCode =
  | 'config_invalid'
  | 'bad_request'
  | 'unauthorized'
  | 'local_only'
  | 'not_found'
  | 'unknown_command'
  | 'pipeline_exit'
  | 'pipeline_stalled'
  | 'encoder_failed'
  | 'source_unavailable'
  | 'archive_failed'
  | 'analysis_failed'
  | 'restart_required'
  | 'config_reverted'
  | 'busy'
  | 'unsupported'
  | 'internal';

/** Base error: every failure the agent reports carries a code and, where there was one, its cause. */
export class AgentError extends Error {
  readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }
}

/** A config problem: names the key, the bad value and what is allowed. */
export class ConfigError extends AgentError {
  readonly problems: string[];
  constructor(problems: string[], options?: { cause?: unknown }) {
    super('config_invalid', problems.join('\n'), options);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Why a run ended, as the supervisor decides on it: a stall or a camera problem (the camera is
 * lost), an encoder that cannot run (the next one is tried), or any other exit (plain backoff).
 */
export type PipelineExitCode = 'pipeline_stalled' | 'source_unavailable' | 'encoder_failed' | 'pipeline_exit';

/** FFmpeg (or its capture producer) ended or stalled; carries what a technician needs to see why. */
export class PipelineExitError extends AgentError {
  declare readonly code: PipelineExitCode;
  readonly camera: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderrTail: string;
  readonly runSeconds: number;
  constructor(
    fields: { camera: string; exitCode: number | null; signal: string | null; stderrTail: string; runSeconds: number },
    message: string,
    code: PipelineExitCode = 'pipeline_exit',
  ) {
    super(code, message);
    this.name = 'PipelineExitError';
    this.camera = fields.camera;
    this.exitCode = fields.exitCode;
    this.signal = fields.signal;
    this.stderrTail = fields.stderrTail;
    this.runSeconds = fields.runSeconds;
  }
}
