import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { PinoPretty as Pretty } from 'pino-pretty';
import { redactDeep } from './redact.js';

export type { Logger };

/**
 * The root logger, level from EDGE_AGENT_LOG_LEVEL. Modules take a child with their component
 * (and camera) bound. Under journald (or any pipe) every record is one JSON line, which
 * `journalctl -o cat | jq` reads; a technician running the agent on a terminal gets the same
 * records as readable lines instead (EDGE_AGENT_LOG_FORMAT=json|pretty overrides the guess).
 */
export function createRootLogger(
  level = process.env.EDGE_AGENT_LOG_LEVEL ?? 'info',
  format = logFormat(process.env.EDGE_AGENT_LOG_FORMAT, Boolean(process.stdout.isTTY)),
): Logger {
  const options = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    // Belt and braces: a secret must never reach the journal even if someone logs a config.
    redact: {
      paths: ['*.password', '*.apiKey', '*.token', '*.sig', 'config.mqtt', 'config.analysis', 'config.http'],
      censor: '[redacted]',
    },
    // And every URL in a record (a camera source, FFmpeg's arguments and errors) loses its password
    // and secret query values: the same redaction R/health, R/events and /api/status use.
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((arg) => redactDeep(arg)),
        );
      },
    },
  };
  if (format === 'json') return pino(options);
  // Loaded only for a terminal: under systemd it would be ~2 MB of memory never used (issue 20).
  const { PinoPretty } = createRequire(import.meta.url)('pino-pretty') as { PinoPretty: typeof Pretty };
  // Synchronous, in this thread: a worker-thread transport could lose the last lines of a crash.
  const pretty: DestinationStream = PinoPretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return pino(options, pretty);
}

/** `pretty` on a terminal, `json` otherwise, unless the environment says which. */
export function logFormat(given: string | undefined, isTty: boolean): 'json' | 'pretty' {
  if (given === 'json' || given === 'pretty') return given;
  return isTty ? 'pretty' : 'json';
}

/** A logger that discards everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
