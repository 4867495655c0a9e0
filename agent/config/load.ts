/**
 * Where the config comes from and in which order: built-in defaults < the file < EDGE_AGENT_*
 * environment variables < `--set key.path=value`. The result is validated as a whole.
 */
import { existsSync } from 'node:fs';
import { ConfigError } from '../contract/errors.js';
import type { AgentConfig } from './types.js';
import { got, isPlainObject } from './checks.js';
import { readConfigFile } from './file.js';
import { type PathSegment, parseKeyPath, parseValueText, setPath, unknownPathProblem } from './paths.js';
import { newConvict, schemaLeaves } from './schema.js';
import { checkShape, validateConfig } from './validate.js';

export { loadCredentials, type Credentials, CREDENTIAL_NAMES } from './credentials.js';

/** Where a packaged install keeps its config. */
export const DEFAULT_CONFIG_PATH = '/etc/edge-agent/config.json';

/**
 * The config file to use: `--config`, else $EDGE_AGENT_CONFIG, else DEFAULT_CONFIG_PATH if it
 * exists, else null (built-in defaults, so a fresh machine runs without any file).
 */
export function resolveConfigPath(
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
  fallback: string = DEFAULT_CONFIG_PATH,
): string | null {
  if (explicit) return explicit;
  if (env.EDGE_AGENT_CONFIG) return env.EDGE_AGENT_CONFIG;
  return existsSync(fallback) ? fallback : null;
}

/**
 * The EDGE_AGENT_* variables that name config keys, turned into values. Convict applies them
 * (each leaf's `env`); we only parse the text first, since convict would coerce by the
 * default's type and read "30s" as 30. An empty variable counts as unset, as Compose files
 * and systemd drop-ins often leave `EDGE_AGENT_X=` behind.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const leaf of schemaLeaves().values()) {
    const value = env[leaf.env];
    if (value !== undefined && value !== '') out[leaf.env] = parseValueText(value, leaf.kind, leaf.nullable);
  }
  return out;
}

/** A parsed `--set` (or set-config) entry. */
export interface SetEntry {
  path: PathSegment[];
  value: unknown;
}

/** Parses `--set key.path=value` strings; values are JSON when they parse (see parseValueText). */
export function parseSetArgs(sets: readonly string[]): { entries: SetEntry[]; problems: string[] } {
  const entries: SetEntry[] = [];
  const problems: string[] = [];
  for (const arg of sets) {
    const eq = arg.indexOf('=');
    const path = eq > 0 ? parseKeyPath(arg.slice(0, eq).trim()) : null;
    if (path === null) {
      problems.push(
        `--set ${got(arg)} must look like key.path=value, e.g. mqtt.url=mqtt://broker:1883 or cameras[0].fps=15`,
      );
      continue;
    }
    const unknown = unknownPathProblem(path);
    if (unknown) {
      problems.push(unknown);
      continue;
    }
    const leaf = schemaLeaves().get(path.join('.'));
    const value = parseValueText(arg.slice(eq + 1), leaf?.kind ?? 'json', leaf?.nullable ?? false);
    entries.push({ path, value });
  }
  return { entries, problems };
}

/** Applies set entries to a plain config object (mutating it); returns the problems met. */
export function applySetEntries(target: Record<string, unknown>, entries: readonly SetEntry[]): string[] {
  const problems: string[] = [];
  for (const { path, value } of entries) {
    const problem = setPath(target, path, value);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** Options for loadConfig: the file (null for built-in defaults), `--set` strings, the environment. */
export interface LoadOptions {
  file: string | null;
  sets?: string[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads, merges and validates the config. Throws ConfigError listing every problem, one line
 * each, whether the file is missing, unparsable or wrong in any key.
 */
export function loadConfig(opts: LoadOptions): { config: AgentConfig; file: string | null } {
  const raw = opts.file === null ? {} : readConfigFile(opts.file);
  if (!isPlainObject(raw)) {
    throw new ConfigError([`config file ${opts.file} must hold a json object like {"mqtt": {...}}, got ${got(raw)}`]);
  }
  const { problems, clean } = checkShape(raw);
  const { entries, problems: setProblems } = parseSetArgs(opts.sets ?? []);
  problems.push(...setProblems);
  let merged: Record<string, unknown>;
  try {
    const cfg = newConvict(envOverrides(opts.env ?? process.env));
    cfg.load(clean); // file over defaults, then convict re-applies the environment over both
    merged = cfg.getProperties() as unknown as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError([...problems, `config could not be merged: ${(error as Error).message}`], { cause: error });
  }
  problems.push(...applySetEntries(merged, entries));
  return { config: validateConfig(merged, problems), file: opts.file };
}
