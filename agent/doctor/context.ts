/** The real machine as a DoctorContext: config and secrets loaded, real runners and probes. */
import { existsSync } from 'node:fs';
import { findOnPath, runCommand } from '../util/run.js';
import { hostRoot } from '../../device/board.js';
import { systemVcgencmd } from '../../device/sensors.js';
import { loadConfig, loadCredentials, resolveConfigPath, type Credentials } from '../config/load.js';
import { ConfigError } from '../contract/errors.js';
import { diskSpace } from '../util/disk.js';
import type { AgentConfig } from '../config/types.js';
import { mqttConnect } from './mqttProbe.js';
import type { DoctorContext } from './types.js';

/** Where install.sh keeps secrets; systemd hands the agent a copy, the doctor reads them here. */
export const CREDENTIALS_SOURCE_DIR = '/etc/edge-agent-credentials';

/** What the CLI passes in. */
export interface DoctorContextOptions {
  config?: string;
  set?: string[];
  env?: NodeJS.ProcessEnv;
  root?: string;
  /** `--trust-base-url` (see checks/gemini.ts). */
  trustBaseUrl?: boolean;
}

function problemsOf(error: unknown): string[] {
  return error instanceof ConfigError ? error.problems : [(error as Error).message];
}

/** Loads what the checks need; a broken config or secret becomes a finding, never a crash. */
export function buildDoctorContext(opts: DoctorContextOptions = {}): DoctorContext {
  const env = opts.env ?? process.env;
  const configFile = resolveConfigPath(opts.config, env);
  let config: AgentConfig;
  let configProblems: string[] = [];
  try {
    config = loadConfig({ file: configFile, sets: opts.set ?? [], env }).config;
  } catch (error) {
    configProblems = problemsOf(error);
    config = loadConfig({ file: null, env: {} }).config;
  }
  // Outside the service there is no $CREDENTIALS_DIRECTORY: read the files systemd would load.
  const credEnv =
    !env.CREDENTIALS_DIRECTORY && existsSync(CREDENTIALS_SOURCE_DIR)
      ? { ...env, CREDENTIALS_DIRECTORY: CREDENTIALS_SOURCE_DIR }
      : env;
  let credentials: Credentials | null = null;
  let credentialsError: string | null = null;
  try {
    credentials = loadCredentials(config, credEnv);
  } catch (error) {
    credentialsError = problemsOf(error).join('; ');
  }
  return {
    config,
    credentials,
    credentialsError,
    credentialsDir: credEnv.CREDENTIALS_DIRECTORY || null,
    configFile,
    configProblems,
    run: runCommand,
    hasCommand: (name) => findOnPath(name, env.PATH ?? '') !== undefined,
    root: opts.root ?? hostRoot(env),
    statfs: diskSpace,
    fetch: globalThis.fetch,
    mqttConnect,
    vcgencmd: systemVcgencmd,
    timeoutMs: 5000,
    trustBaseUrl: opts.trustBaseUrl ?? false,
  };
}
