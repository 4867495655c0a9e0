import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findOnPath, type CommandRunner } from '../../agent/util/run.js';
import type { BoardInfo, EncodeSettings } from '../types.js';
import type { EncoderVerdict } from './probe.js';

/** The verdict cache file (e.g. `<dataDir>/encoder-probe.json`). */
export interface VerdictCacheData {
  version: 1;
  /** The ffmpeg binary last asked for its version, so a cache hit spawns nothing. */
  ffmpeg?: { id: string; version: string };
  /** cache key → encoder name → verdict. */
  entries: Record<string, Record<string, EncoderVerdict & { at: string }>>;
}

/** Reads the cache; a missing or corrupt file is an empty cache (it only saves time). */
export async function loadVerdictCache(file: string): Promise<VerdictCacheData> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as VerdictCacheData;
    if (data?.version === 1 && typeof data.entries === 'object' && data.entries !== null) return data;
  } catch {
    // Fall through: start afresh.
  }
  return { version: 1, entries: {} };
}

/** Writes the cache atomically (a power cut mid-write leaves the old file, not half a file). */
export async function saveVerdictCache(file: string, data: VerdictCacheData): Promise<void> {
  // Not recursive: the data dir's parent is the installer's job, and Node's recursive mkdir can
  // spin forever on a path it cannot create (seen under /proc).
  await mkdir(path.dirname(file)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
  await rename(tmp, file);
}

/**
 * The key a verdict is valid for: the board, its kernel (drivers), the FFmpeg build and the
 * settings (a Pi encodes 720p but not 1920x1088; a slow board keeps up at 720p but not 1080p).
 */
export function verdictKey(board: BoardInfo, ffmpegVersion: string, s: EncodeSettings): string {
  return [
    board.model,
    board.kernel,
    ffmpegVersion,
    `${s.width}x${s.height}@${s.fps}`,
    `${s.bitrateKbps}k`,
    `gop${s.keyframeSeconds}s`,
  ].join(' | ');
}

/**
 * The first line of `ffmpeg -version`, without spawning FFmpeg when the binary (path, size,
 * mtime) is the one the cache last asked: an upgrade changes the binary and so the key.
 */
export async function ffmpegVersion(ffmpeg: string, run: CommandRunner, cache: VerdictCacheData): Promise<string> {
  const id = await binaryId(ffmpeg);
  if (id && cache.ffmpeg?.id === id) return cache.ffmpeg.version;
  const r = await run(ffmpeg, ['-version'], { timeoutMs: 10_000 }).catch(() => undefined);
  const version = r?.stdout.split('\n')[0]?.trim() || 'ffmpeg unavailable';
  if (id) cache.ffmpeg = { id, version };
  return version;
}

async function binaryId(ffmpeg: string): Promise<string | undefined> {
  const found = findOnPath(ffmpeg);
  if (!found) return undefined;
  try {
    const real = await realpath(found);
    const st = await stat(real);
    return `${real}:${st.size}:${Math.round(st.mtimeMs)}`;
  } catch {
    return undefined;
  }
}
