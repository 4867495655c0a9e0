import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The root logger: pino JSON lines on stdout (journald keeps them), level from
 * EDGE_AGENT_LOG_LEVEL. Modules take a child with their component (and camera) bound.
 */
export function createRootLogger(level = process.env.EDGE_AGENT_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Belt and braces: a secret must never reach the journal even if someone logs a config.
    redact: {
      paths: ['*.password', '*.apiKey', '*.token', '*.sig', 'config.mqtt', 'config.analysis', 'config.http'],
      censor: '[redacted]',
    },
  });
}

/** A logger that discards everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
