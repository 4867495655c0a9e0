/**
 * Serving files from a fixed directory without ever leaving it, with HTTP range support.
 * Every path check works on the raw request path: decoding first would let `%2e%2e` or `%2f`
 * through as `..` or `/`.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** A regular file found inside its allowed directory. */
export interface SafeFile {
  path: string;
  size: number;
  mtime: Date;
}

// A name segment: letters, digits, `_`, `-` and inner dots; never empty, never starting with a
// dot, so `.`, `..` and hidden files are out by construction.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// Encoded dot, slash, backslash and NUL: no legitimate name of ours needs them.
const ENCODED_SEPARATORS = /%(2e|2f|5c|00)/i;

/** Splits a raw, still-encoded relative path into checked segments; null when anything looks like an escape. */
export function safeSegments(raw: string): string[] | null {
  if (raw === '' || raw.startsWith('/') || raw.includes('\\') || raw.includes('\0')) return null;
  if (raw.includes('..') || raw.includes('//') || ENCODED_SEPARATORS.test(raw)) return null;
  const segments: string[] = [];
  for (const part of raw.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      return null;
    }
    if (!SEGMENT.test(decoded)) return null;
    segments.push(decoded);
  }
  return segments;
}

/** True when `path` is `base` or below it. */
export function isInside(base: string, path: string): boolean {
  return path === base || path.startsWith(base.endsWith(sep) ? base : base + sep);
}

/** The real path of a regular file below `baseDir`, following symlinks only if they stay inside; null otherwise. */
export async function fileInside(baseDir: string, candidate: string): Promise<SafeFile | null> {
  try {
    const realBase = await realpath(baseDir);
    const real = await realpath(candidate);
    if (!isInside(realBase, real)) return null;
    const s = await stat(real);
    return s.isFile() ? { path: real, size: s.size, mtime: s.mtime } : null;
  } catch {
    return null;
  }
}

/** Resolves checked segments below `baseDir` (see fileInside). */
export async function resolveSegments(baseDir: string, segments: string[]): Promise<SafeFile | null> {
  return fileInside(baseDir, join(baseDir, ...segments));
}

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The Content-Type for a file name; octet-stream for anything unknown. */
export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** A byte range to send, `unsatisfiable`, or null to send the whole file. */
export type RangeResult = { start: number; end: number } | 'unsatisfiable' | null;

/** Parses a single-range `Range` header (RFC 9110); several ranges are answered with the whole file. */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null; // multi-range or another unit: ignoring Range is allowed
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return null;
  if (first === '') {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return 'unsatisfiable';
  return { start, end };
}

/** Sends a file with Accept-Ranges, Content-Length and 206/416 for ranges; HEAD sends headers only. */
export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: SafeFile,
  headers: { contentType: string; cacheControl: string },
): Promise<void> {
  res.setHeader('Content-Type', headers.contentType);
  res.setHeader('Cache-Control', headers.cacheControl);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Last-Modified', file.mtime.toUTCString());
  const range = parseRange(req.headers.range, file.size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${file.size}`, 'Content-Length': 0 });
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  res.setHeader('Content-Length', Math.max(0, end - start + 1));
  if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${file.size}`);
  res.writeHead(range ? 206 : 200);
  if (req.method === 'HEAD' || file.size === 0) {
    res.end();
    return;
  }
  // A client that goes away mid-download rejects the pipeline; nothing more to do then.
  await pipeline(createReadStream(file.path, { start, end }), res).catch(() => res.destroy());
}
