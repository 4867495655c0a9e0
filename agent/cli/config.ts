/**
 * `edge-agent config check FILE`, `edge-agent config print [--config FILE] [--set k=v ...]` and
 * `edge-agent config paths [--config FILE]`.
 * Exit 0 when the config is valid, 2 when it is not (each problem on its own line on stderr).
 */
import { ConfigError } from '../contract/errors.js';
import { loadConfig, resolveConfigPath } from '../config/load.js';
import { redactConfig } from '../config/redact.js';
import type { CliOptions } from './options.js';

const USAGE = `usage: edge-agent config check FILE
       edge-agent config print [--config FILE] [--set key.path=value ...]
       edge-agent config paths [--config FILE]
`;

/** Where the command writes; tests pass their own. */
export interface ConfigIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIo: ConfigIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

function reportProblems(error: unknown, io: ConfigIo): number {
  if (!(error instanceof ConfigError)) throw error;
  io.stderr(error.problems.map((line) => `${line}\n`).join(''));
  return 2;
}

/**
 * Validates one file on its own: no environment overrides and no `--set`, because a technician
 * checks the file they are about to install, not this shell's variables.
 */
function check(options: CliOptions, io: ConfigIo): number {
  const file = options.positionals[1] ?? options.config;
  if (!file || options.positionals.length > 2) {
    io.stderr(USAGE);
    return 2;
  }
  try {
    loadConfig({ file, env: {} });
  } catch (error) {
    return reportProblems(error, io);
  }
  io.stdout(`config ok: ${file}\n`);
  return 0;
}

/** Prints the effective config the agent would run with: file, environment and `--set` merged. */
function print(options: CliOptions, io: ConfigIo): number {
  if (options.positionals.length > 1) {
    io.stderr(USAGE);
    return 2;
  }
  try {
    const file = resolveConfigPath(options.config, io.env);
    const { config } = loadConfig({ file, sets: options.set, env: io.env });
    io.stdout(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
    return 0;
  } catch (error) {
    return reportProblems(error, io);
  }
}

/**
 * The folders the agent writes, one per line: what a sandbox must leave writable. The installer
 * turns those outside the unit's own folders into ReadWritePaths= (an archive.dir on a USB SSD).
 */
function paths(options: CliOptions, io: ConfigIo): number {
  try {
    const file = resolveConfigPath(options.config, io.env);
    const { config } = loadConfig({ file, sets: options.set, env: io.env });
    const dirs = new Set([config.dataDir, config.archive.dir, config.hls.dir]);
    io.stdout([...dirs].map((dir) => `${dir}\n`).join(''));
    return 0;
  } catch (error) {
    return reportProblems(error, io);
  }
}

/** `edge-agent config <check|print|paths>`: returns the exit status. */
export async function configCommand(options: CliOptions, io: ConfigIo = processIo): Promise<number> {
  switch (options.positionals[0]) {
    case 'check':
      return check(options, io);
    case 'print':
      return print(options, io);
    case 'paths':
      return paths(options, io);
    default:
      io.stderr(USAGE);
      return 2;
  }
}
