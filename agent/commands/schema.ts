/** A tiny strict body checker: every field is named, typed and bounded, unknown fields refused. */
import { AgentError } from '../contract/errors.js';

/** A command body with its envelope fields removed. */
export type Body = Record<string, unknown>;

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Throws bad_request naming the first field not in `allowed`. */
export function allowOnly(body: Body, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      const list = allowed.length ? allowed.join(', ') : 'none';
      throw new AgentError('bad_request', `unknown field ${show(key)} (allowed: ${list})`);
    }
  }
}

/** A camera id or similar name: letters, digits, `_`, `-`, `.`, at most 64. */
export const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** An optional string field matching `pattern`. */
export function optString(body: Body, key: string, pattern: RegExp): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new AgentError('bad_request', `${key} must be a string matching ${pattern.source}, got ${show(value)}`);
  }
  return value;
}

/** A required string field matching `pattern`. */
export function reqString(body: Body, key: string, pattern: RegExp): string {
  const value = optString(body, key, pattern);
  if (value === undefined) throw new AgentError('bad_request', `${key} is required`);
  return value;
}

/** An optional integer field within [min, max]. */
export function optInt(body: Body, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AgentError('bad_request', `${key} must be an integer between ${min} and ${max}, got ${show(value)}`);
  }
  return value;
}

/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
