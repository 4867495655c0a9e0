import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../contract/errors.js';
import type { ArchiveInfo } from '../contract/events.js';
import { failpoint } from '../util/failpoint.js';
import { exists, fsyncPath, mkdirDurable, writeFileAtomic } from '../util/files.js';
import { archiveFileName, dateFolder } from './segmentName.js';
import { CommandFailedError, runChecked } from '../util/run.js';

// Bounds on the finisher's programs, so one stuck ffprobe or remux cannot hold up every archive
// after it: a 10-minute archive remuxes in seconds even on a Pi's SD card.
const PROBE_TIMEOUT_MS = 60_000;
const REMUX_TIMEOUT_MS = 300_000;

/** What the finisher needs to turn one partial recording into a finished archive. */
export interface FinishRequest {
  camera: string;
  /** The partial MPEG-TS recording. */
  partial: string;
  /** Wall-clock time of its first frame (ms). */
  startMs: number;
  archiveRoot: string;
  clockSynced: boolean;
  /** The archive length: a partial spanning more than one period is split on its boundaries. */
  segmentSeconds?: number;
  ffmpegPath?: string;
  ffprobePath?: string;
}

/** The sidecar kept beside each archive: what a listing needs without opening the MP4. */
export interface ArchiveMeta {
  start: string;
  seconds: number;
  clockSynced: boolean;
  recovered: boolean;
  /** The partial it was made from, relative to archive.dir: recovery makes no archive twice. */
  source?: string;
}

/** The sidecar's path for an archive. */
export function metaPathFor(archivePath: string): string {
  return archivePath.replace(/\.mp4$/, '.json');
}

/** An archive's sidecar, or null when it is missing or unreadable. */
export async function readArchiveMeta(archivePath: string): Promise<Partial<ArchiveMeta> | null> {
  return readFile(metaPathFor(archivePath), 'utf8')
    .then((text) => JSON.parse(text) as Partial<ArchiveMeta>)
    .catch(() => null);
}

/**
 * The first free name for an archive starting at `startMs` (a stepped-back clock never
 * overwrites), or null when one of the taken names was already made from `source`: a power cut
 * after an archive was made but before its partial's removal was durable leaves both behind.
 */
async function freeArchivePath(dir: string, startMs: number, source: string): Promise<string | null> {
  for (let duplicate = 0; ; duplicate += 1) {
    const candidate = path.join(dir, archiveFileName(startMs, duplicate));
    if (!(await exists(candidate))) return candidate;
    const meta = await readArchiveMeta(candidate);
    if (meta?.source === source) return null;
  }
}

/** Duration in seconds of a media file, by ffprobe. */
export async function probeDuration(file: string, ffprobePath = 'ffprobe'): Promise<number> {
  const stdout = await runChecked(
    ffprobePath,
    ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file],
    { timeoutMs: PROBE_TIMEOUT_MS },
  );
  const seconds = Number.parseFloat(stdout.trim());
  return Number.isFinite(seconds) ? seconds : 0;
}

/**
 * Where a partial must be split so each archive starts on its boundary: the wall-clock
 * multiples of `segmentSeconds` inside it. FFmpeg cuts on the clock as packets arrive, and a
 * backlog (the frames it reads to identify a stream at start, a stall) can carry a boundary past
 * a cut; keyframes still sit on every boundary, so the copy can be cut there exactly. Within
 * half a second of either end counts as the end itself (a frame's worth of jitter).
 */
export function splitPoints(startMs: number, seconds: number, segmentSeconds: number | undefined): number[] {
  if (!segmentSeconds || !(seconds > 0)) return [];
  const period = segmentSeconds * 1000;
  const endMs = startMs + seconds * 1000;
  const points: number[] = [];
  for (let b = Math.ceil((startMs + 500) / period) * period; b < endMs - 500; b += period) points.push(b);
  return points;
}

/** Copies one span of a partial into a fast-start MP4 under its final name; null if it holds no video. */
async function remuxPiece(
  request: FinishRequest,
  piece: { startMs: number; fromSeconds: number | null; toSeconds: number | null },
  recovered: boolean,
): Promise<ArchiveInfo | null> {
  const { camera, partial, archiveRoot } = request;
  const dayDir = path.join(archiveRoot, camera, dateFolder(piece.startMs));
  await mkdirDurable(dayDir);
  const source = path.relative(archiveRoot, partial).split(path.sep).join('/');
  const target = await freeArchivePath(dayDir, piece.startMs, source);
  if (target === null) return null;
  const temp = path.join(dayDir, `.${path.basename(target)}.part`);
  const span = [
    ...(piece.fromSeconds === null ? [] : ['-ss', piece.fromSeconds.toFixed(3)]),
    ...(piece.toSeconds === null ? [] : ['-to', piece.toSeconds.toFixed(3)]),
  ];
  try {
    await runChecked(
      request.ffmpegPath ?? 'ffmpeg',
      [
        // FFmpeg glues MPEG-TS timestamp jumps over 10 s into one timeline; keep them, so the cuts
        // fall where ffprobe saw the keyframes (a clock step leaves such a jump).
        ...['-hide_banner', '-nostdin', '-v', 'error', '-y', '-dts_delta_threshold', '1000000', '-i', partial],
        ...['-map', '0:v:0', '-c', 'copy', ...span, '-movflags', '+faststart', '-f', 'mp4', temp],
      ],
      { timeoutMs: REMUX_TIMEOUT_MS },
    );
  } catch (error) {
    await rm(temp, { force: true });
    const message = error instanceof CommandFailedError ? error.message : String(error);
    // A partial cut short before its first keyframe holds nothing playable.
    if (/does not contain any stream|Output file #0 does not contain|Invalid data found/i.test(message)) return null;
    throw new AgentError('archive_failed', `could not finish ${partial}: ${message}`, { cause: error });
  }
  const seconds = Math.round((await probeDuration(temp, request.ffprobePath)) * 1000) / 1000;
  const meta: ArchiveMeta = {
    start: new Date(piece.startMs).toISOString(),
    seconds,
    clockSynced: request.clockSynced,
    recovered,
    source,
  };
  await fsyncPath(temp);
  await writeFileAtomic(metaPathFor(target), JSON.stringify(meta));
  await rename(temp, target);
  await fsyncPath(dayDir);
  failpoint('archive.made');
  const { size } = await stat(target);
  return {
    camera,
    file: path.relative(archiveRoot, target).split(path.sep).join('/'),
    start: meta.start,
    seconds,
    bytes: size,
    clockSynced: request.clockSynced,
  };
}

/** Keyframe times (s from the file's start) of a recording. */
async function keyframeSeconds(file: string, ffprobePath = 'ffprobe'): Promise<number[]> {
  const stdout = await runChecked(
    ffprobePath,
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file],
    {
      timeoutMs: PROBE_TIMEOUT_MS,
      maxOutputBytes: 64 * 1024 * 1024,
    },
  );
  const times = stdout
    .split('\n')
    .filter((line) => line.includes('K'))
    .map((line) => Number.parseFloat(line.split(',')[0] ?? ''))
    .filter(Number.isFinite);
  const first = times[0] ?? 0;
  return times.map((t) => t - first);
}

/**
 * Where each archive of a partial begins (ms), the first at `startMs`. Only a partial longer than
 * its period is looked into: it is cut at the first keyframe of every archive period it has
 * video in. Keyframes sit on the boundaries, so that is exact; and a timestamp gap (the wall
 * clock stepped before the pipeline restarted) yields no empty archives for the periods skipped.
 */
async function pieceStarts(request: FinishRequest): Promise<number[]> {
  const { partial, startMs, segmentSeconds } = request;
  const seconds = await probeDuration(partial, request.ffprobePath).catch(() => 0);
  if (splitPoints(startMs, seconds, segmentSeconds).length === 0) return [startMs];
  const period = segmentSeconds! * 1000;
  const starts = [startMs];
  for (const t of await keyframeSeconds(partial, request.ffprobePath)) {
    const at = startMs + t * 1000;
    const last = starts.at(-1)!;
    // Half a second of slack, as in splitPoints: a start a hair before a boundary is no new period.
    if (Math.floor(at / period) > Math.floor(last / period) && at - last > 500) starts.push(Math.round(at));
  }
  return starts;
}

/**
 * Copies a partial recording into fast-start MP4s (no re-encode), one per archive period it
 * has video in, each given its final name atomically: a finished name only ever holds a complete
 * file. Removes the partial after. Returns nothing when the partial holds no video (a run that
 * died before its first frame).
 */
export async function finishRecording(request: FinishRequest, recovered = false): Promise<ArchiveInfo[]> {
  const { partial, startMs } = request;
  const began = performance.now();
  const partialStat = await stat(partial);
  if (partialStat.size === 0) {
    await rm(partial, { force: true });
    return [];
  }
  const starts = await pieceStarts(request);
  const finished: ArchiveInfo[] = [];
  for (const [i, pieceStart] of starts.entries()) {
    const next = starts[i + 1];
    const info = await remuxPiece(
      request,
      {
        startMs: pieceStart,
        fromSeconds: i === 0 ? null : (pieceStart - startMs) / 1000,
        toSeconds: next === undefined ? null : (next - startMs) / 1000,
      },
      recovered,
    );
    if (info) finished.push({ ...info, finishSeconds: Math.round(performance.now() - began) / 1000 });
  }
  const last = finished.at(-1);
  if (recovered && last) {
    // Only the last piece can have lost its tail: the fault cut the recording after it.
    const endMs = Date.parse(last.start) + last.seconds * 1000;
    last.lostSeconds = Math.max(0, Math.round(partialStat.mtimeMs - endMs)) / 1000;
  }
  await rm(partial, { force: true });
  // Durable removal, or the next start finds the partial again (and skips it: see freeArchivePath).
  await fsyncPath(path.dirname(partial));
  failpoint('archive.partial-removed');
  return finished;
}
