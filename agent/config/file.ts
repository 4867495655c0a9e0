/** Reading the config file: every way it can be missing or broken becomes a one-line ConfigError. */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../contract/errors.js';

function errnoText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  // Node's message repeats the path ("..., open '/etc/x'"); the caller already names the file.
  return (e.message ?? String(error)).replace(/, \w+ '.*'$/s, '').toLowerCase();
}

function parseErrorAt(text: string, k: number): number | null {
  try {
    JSON.parse(text.slice(0, k));
    return null;
  } catch (error) {
    const message = (error as Error).message;
    if (message.startsWith('Unexpected end')) return null;
    const m = /position (\d+)/.exec(message);
    const at = m ? Number(m[1]) : -1;
    // A number or escape cut short by the prefix is reported at its end: not a real error yet.
    return at >= k ? null : at >= 0 ? at : k - 1;
  }
}

/**
 * The offset of the first JSON syntax error. V8 gives it for most errors but not for an
 * unexpected token, so that case is found by bisecting on prefixes: a prefix parses (or runs
 * out of input) exactly when the error lies beyond it.
 */
export function jsonErrorOffset(text: string, error: Error): number {
  const m = /position (\d+)/.exec(error.message);
  if (m) return Number(m[1]);
  if (error.message.startsWith('Unexpected end')) return text.length;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (parseErrorAt(text, mid + 1) === null) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** 1-based line and column of an offset, as editors count them. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

// A problem is one line on a terminal: control characters (a stray token, an odd path) are escaped.
function oneLine(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Parses config text; a syntax error names the line, column and offset. */
export function parseConfigText(text: string, file: string): unknown {
  // Editors on Windows save a BOM that JSON.parse refuses; it carries no meaning.
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') {
    // An empty file is refused rather than read as "all defaults": it is what a
    // half-written copy looks like, and silently running on defaults would hide that.
    throw new ConfigError([oneLine(`config file ${file} is empty; write {} to use the built-in defaults`)]);
  }
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    const offset = jsonErrorOffset(body, error as Error);
    const { line, column } = lineAndColumn(body, offset);
    const detail = (error as Error).message
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/^(Unexpected token .+?),\s*(?:"|\.\.\.).*$/s, '$1')
      .toLowerCase();
    throw new ConfigError(
      [
        oneLine(
          `config file ${file} is not valid json at line ${line}, column ${column} (position ${offset}): ${detail}`,
        ),
      ],
      { cause: error },
    );
  }
}

/** Reads and parses the config file; a missing, unreadable or unparsable file is a ConfigError. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([oneLine(`config file ${file} cannot be read: ${errnoText(error)}`)], { cause: error });
  }
  return parseConfigText(text, file);
}
