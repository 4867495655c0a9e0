/** What every doctor check shares: its result shape and the machine it may look at. */
import type { AgentConfig } from '../config/types.js';
import type { Credentials } from '../config/load.js';
import type { CommandRunner } from '../util/run.js';

/** ok: fine; warn: works but look at it; fail: the agent cannot do its job (doctor exits 1). */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the checklist. */
export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What a technician should do, for warn and fail. */
  fix?: string;
}

import type { DiskSpace } from '../util/disk.js';

export type { DiskSpace };

/** Everything a check may touch, injectable so tests run on fixture trees and fakes. */
export interface DoctorContext {
  config: AgentConfig;
  /** Null when they could not be read (the credentials check says why). */
  credentials: Credentials | null;
  credentialsError: string | null;
  /** The folder secrets were read from ($CREDENTIALS_DIRECTORY or the credentials folder), if any. */
  credentialsDir?: string | null;
  configFile: string | null;
  configProblems: string[];
  run: CommandRunner;
  /** Whether a program is on PATH. */
  hasCommand: (name: string) => boolean;
  /** `/` on a board; a fixture tree in tests (for /sys, /dev, /run, /etc). */
  root: string;
  statfs: (path: string) => Promise<DiskSpace>;
  fetch: typeof fetch;
  /** Connects to the broker and disconnects; rejects with the reason. */
  mqttConnect: (config: AgentConfig, credentials: Credentials | null, timeoutMs: number) => Promise<void>;
  /** `vcgencmd get_throttled` output, or null where there is none (not a Pi). */
  vcgencmd: () => Promise<string | null>;
  /** Network timeouts (broker, Gemini); 5 s by default. */
  timeoutMs: number;
  /** `--trust-base-url`: the key may be sent to an analysis.baseUrl that is neither Google's nor loopback. */
  trustBaseUrl?: boolean;
}

/** One check: looks at one thing and says ok/warn/fail, never throws on purpose. */
export type DoctorCheck = (ctx: DoctorContext) => Promise<CheckResult | CheckResult[]>;

/** Result builders, so each check reads as a list of outcomes. */
export const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
export const warn = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'warn', detail, fix });
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'fail', detail, fix });

/** First line of a program's output, trimmed: FFmpeg and friends put the version there. */
export function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.trim();
}
