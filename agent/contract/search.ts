/**
 * Search over analysis results (contract "Analysis" → Search): the one argument check that
 * `GET /api/search` and the `search` command share, and the hit shape both answer with.
 */
import { AgentError } from './errors.js';

/** A checked search request. */
export interface SearchQuery {
  /** Free text; every word must match (as a word prefix) the summary, a label, a description or the camera. */
  q: string;
  camera?: string;
  /** Event times from (inclusive) and to (exclusive), ms since the epoch. */
  fromMs?: number;
  toMs?: number;
  limit: number;
}

/** One hit: an event inside an archive (or the archive's summary, at offset 0). */
export interface SearchHit {
  camera: string;
  /** Relative to `archive.dir`; played at `/archives/<archive>#t=<offsetSeconds>`. */
  archive: string;
  /** When the event starts (ISO, wall clock); the archive's start for a summary hit. */
  start: string;
  /** Seconds from the archive's first frame to the event. */
  offsetSeconds: number;
  summary: string;
  label?: string;
  description?: string;
}

/** What the HTTP server and the command handler are given (the analysis module's SearchIndex). */
export interface SearchService {
  search(query: SearchQuery): SearchHit[];
}

export const SEARCH_FIELDS = ['q', 'camera', 'from', 'to', 'limit'] as const;
export const SEARCH_DEFAULT_LIMIT = 20;
export const SEARCH_MAX_LIMIT = 100;
const MAX_Q = 200;
const CAMERA = /^[A-Za-z0-9_-]{1,64}$/;
// An ISO-8601 date or UTC/offset date-time, as the agent itself writes them.
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function bad(message: string): AgentError {
  return new AgentError('bad_request', message);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function time(key: string, value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = typeof value === 'string' && ISO.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw bad(`${key} must be an ISO-8601 time like 2026-03-02T10:00:00Z, got ${show(value)}`);
  return ms;
}

/**
 * Checks search arguments (`{q, camera?, from?, to?, limit?}`; HTTP passes its query strings,
 * the command its JSON body) and throws AgentError `bad_request` naming the first bad one.
 */
export function parseSearchQuery(input: Record<string, unknown>): SearchQuery {
  for (const key of Object.keys(input)) {
    if (!(SEARCH_FIELDS as readonly string[]).includes(key))
      throw bad(`unknown field ${show(key)} (allowed: ${SEARCH_FIELDS.join(', ')})`);
  }
  const { q, camera, from, to, limit } = input;
  if (typeof q !== 'string' || q.length > MAX_Q || searchWords(q).length === 0) {
    throw bad(`q must be a text of 1 to ${MAX_Q} characters with at least one letter or digit, got ${show(q)}`);
  }
  if (camera !== undefined && camera !== '' && (typeof camera !== 'string' || !CAMERA.test(camera))) {
    throw bad(`camera must be a camera id (letters, digits, _ or -), got ${show(camera)}`);
  }
  const fromMs = time('from', from);
  const toMs = time('to', to);
  if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs)
    throw bad(`to must be after from, got from ${show(from)} to ${show(to)}`);
  if (
    limit !== undefined &&
    (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > SEARCH_MAX_LIMIT)
  ) {
    throw bad(`limit must be an integer from 1 to ${SEARCH_MAX_LIMIT}, got ${show(limit)}`);
  }
  return {
    q,
    ...(typeof camera === 'string' && camera !== '' ? { camera } : {}),
    ...(fromMs !== undefined ? { fromMs } : {}),
    ...(toMs !== undefined ? { toMs } : {}),
    limit: (limit as number | undefined) ?? SEARCH_DEFAULT_LIMIT,
  };
}

/** The words of a query (letters, digits, `_`), at most 16: what the index is asked for. */
export function searchWords(q: string): string[] {
  return (q.match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 16);
}
