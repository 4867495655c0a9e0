/**
 * The config side of the MQTT `set-config` command: check a change against the running config,
 * then write it into the config file so it survives a restart. The file must never be left
 * half-written or invalid: a board loses power whenever someone pulls the plug.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../contract/errors.js';
import { writeFileAtomic } from '../util/files.js';
import type { AgentConfig } from './types.js';
import { got, isPlainObject } from './checks.js';
import { parseConfigText } from './file.js';
import { type PathSegment, getPath, parseKeyPath, setPath, unknownPathProblem } from './paths.js';
import { validateConfig } from './validate.js';

interface ParsedSets {
  entries: { path: PathSegment[]; value: unknown }[];
  problems: string[];
}

function parseSets(sets: unknown): ParsedSets {
  const entries: ParsedSets['entries'] = [];
  const problems: string[] = [];
  if (!isPlainObject(sets) || Object.keys(sets).length === 0) {
    return {
      entries,
      problems: [`set must be an object of key paths to values like {"hls.listSize": 8}, got ${got(sets)}`],
    };
  }
  for (const [key, value] of Object.entries(sets)) {
    const parsed = parseKeyPath(key);
    const unknown =
      parsed === null
        ? `${JSON.stringify(key)} is not a key path like mqtt.url or cameras[0].fps`
        : unknownPathProblem(parsed);
    if (unknown || parsed === null) problems.push(unknown ?? '');
    else entries.push({ path: parsed, value });
  }
  return { entries, problems };
}

function apply(target: Record<string, unknown>, entries: ParsedSets['entries'], seed?: AgentConfig): string[] {
  const problems: string[] = [];
  for (const { path: p, value } of entries) {
    // A file that leaves `cameras` to the default has no list to index into: start from the
    // list the agent is actually using, so `cameras[0].fps` edits the camera, not a blank one.
    const listKey = p.slice(
      0,
      Math.max(
        0,
        p.findIndex((s) => typeof s === 'number'),
      ),
    );
    if (seed && listKey.length > 0 && getPath(target, listKey) === undefined) {
      setPath(target, listKey, structuredClone(getPath(seed, listKey)));
    }
    const problem = setPath(target, p, structuredClone(value));
    if (problem) problems.push(problem);
  }
  return problems;
}

/**
 * The running config with `sets` (key path → value) applied, validated as a whole. Throws
 * ConfigError naming every problem; `config` itself is never modified.
 */
export function applySets(config: AgentConfig, sets: Record<string, unknown>): AgentConfig {
  const { next, problems } = mergeSets(config, sets);
  return validateConfig(next, problems);
}

/** `sets` applied to a copy of `config`, not yet validated: what the change asks for, as sent. */
export function mergeSets(
  config: AgentConfig,
  sets: Record<string, unknown>,
): { next: Record<string, unknown>; problems: string[] } {
  const { entries, problems } = parseSets(sets);
  const next = structuredClone(config) as unknown as Record<string, unknown>;
  problems.push(...apply(next, entries));
  return { next, problems };
}

async function readOwnContent(file: string): Promise<{ content: Record<string, unknown>; mode: number | null }> {
  let text: string;
  let mode: number | null = null;
  try {
    text = await fsp.readFile(file, 'utf8');
    mode = (await fsp.stat(file)).mode & 0o7777;
  } catch (error) {
    // Running on built-in defaults: the first set-config creates the file.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { content: {}, mode };
    throw new ConfigError([`config file ${file} cannot be read: ${(error as Error).message.toLowerCase()}`], {
      cause: error,
    });
  }
  const content = parseConfigText(text, file);
  if (!isPlainObject(content))
    throw new ConfigError([`config file ${file} must hold a json object, got ${got(content)}`]);
  return { content, mode };
}

// Two set-config commands in flight must not both read the old file and lose one change.
const queues = new Map<string, Promise<unknown>>();

/** A config file's next content, checked and ready to be written. */
export interface PreparedConfigFile {
  file: string;
  content: Record<string, unknown>;
  mode: number;
}

/**
 * Applies `sets` to the config file's own content (not the defaults it leaves out) and checks the
 * result is a valid config, without writing anything. Throws ConfigError when it would be invalid.
 */
export async function prepareConfigFile(file: string, sets: Record<string, unknown>): Promise<PreparedConfigFile> {
  const { content, mode } = await readOwnContent(file);
  const { entries, problems } = parseSets(sets);
  const defaults = validateConfig({});
  problems.push(...apply(content, entries, defaults));
  validateConfig(content, problems);
  return { file, content, mode: mode ?? 0o644 };
}

/** Replaces the config file with prepared content atomically (whole old or whole new after a power cut). */
export async function writeConfigFile(prepared: PreparedConfigFile): Promise<void> {
  await writeFileAtomic(prepared.file, `${JSON.stringify(prepared.content, null, 2)}\n`, prepared.mode);
}

/**
 * prepareConfigFile then writeConfigFile. Returns the new file content; throws ConfigError,
 * leaving the file untouched, when the result would be invalid.
 */
export function persistConfig(file: string, sets: Record<string, unknown>): Promise<Record<string, unknown>> {
  const key = path.resolve(file);
  const run = async () => {
    const prepared = await prepareConfigFile(file, sets);
    await writeConfigFile(prepared);
    return prepared.content;
  };
  const result = (queues.get(key) ?? Promise.resolve()).then(run, run);
  const tail = result.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return result;
}
