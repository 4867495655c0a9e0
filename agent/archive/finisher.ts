import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { AgentError } from '../contract/errors.js';
import type { ArchiveInfo } from '../contract/events.js';
import { exists, fsyncPath, writeFileAtomic } from '../util/files.js';
import { archiveFileName, dateFolder } from './segmentName.js';

const run = promisify(execFile);

/** What the finisher needs to turn one partial recording into a finished archive. */
export interface FinishRequest {
  camera: string;
  /** The partial MPEG-TS recording. */
  partial: string;
  /** Wall-clock time of its first frame (ms). */
  startMs: number;
  archiveRoot: string;
  clockSynced: boolean;
  ffmpegPath?: string;
  ffprobePath?: string;
}

/** The sidecar kept beside each archive: what a listing needs without opening the MP4. */
export interface ArchiveMeta {
  start: string;
  seconds: number;
  clockSynced: boolean;
  recovered: boolean;
}

/** The sidecar's path for an archive. */
export function metaPathFor(archivePath: string): string {
  return archivePath.replace(/\.mp4$/, '.json');
}

/** The first free name for an archive starting at `startMs`: a stepped-back clock never overwrites. */
async function freeArchivePath(dir: string, startMs: number): Promise<string> {
  for (let duplicate = 0; ; duplicate += 1) {
    const candidate = path.join(dir, archiveFileName(startMs, duplicate));
    if (!(await exists(candidate))) return candidate;
  }
}

/** Duration in seconds of a media file, by ffprobe. */
export async function probeDuration(file: string, ffprobePath = 'ffprobe'): Promise<number> {
  const { stdout } = await run(ffprobePath, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  const seconds = Number.parseFloat(stdout.trim());
  return Number.isFinite(seconds) ? seconds : 0;
}

/**
 * Copies a partial recording into a fast-start MP4 (no re-encode) and gives it its final name
 * atomically: the finished name only ever holds a complete file. Removes the partial after.
 * Returns null when the partial holds no video (a run that died before its first frame).
 */
export async function finishRecording(request: FinishRequest, recovered = false): Promise<ArchiveInfo | null> {
  const { camera, partial, startMs, archiveRoot } = request;
  const partialStat = await stat(partial);
  if (partialStat.size === 0) {
    await rm(partial, { force: true });
    return null;
  }
  const dayDir = path.join(archiveRoot, camera, dateFolder(startMs));
  await mkdir(dayDir, { recursive: true });
  const target = await freeArchivePath(dayDir, startMs);
  const temp = path.join(dayDir, `.${path.basename(target)}.part`);
  try {
    await run(request.ffmpegPath ?? 'ffmpeg', [
      ...['-hide_banner', '-nostdin', '-v', 'error', '-y', '-i', partial],
      ...['-map', '0:v:0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', temp],
    ]);
  } catch (error) {
    await rm(temp, { force: true });
    const message = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-2).join(' ') ?? String(error);
    // A partial cut short before its first keyframe holds nothing playable: drop it, say why.
    if (/does not contain any stream|Output file #0 does not contain|Invalid data found/i.test(message)) {
      await rm(partial, { force: true });
      return null;
    }
    throw new AgentError('archive_failed', `could not finish ${partial}: ${message}`, { cause: error });
  }
  const seconds = Math.round((await probeDuration(temp, request.ffprobePath)) * 1000) / 1000;
  const meta: ArchiveMeta = { start: new Date(startMs).toISOString(), seconds, clockSynced: request.clockSynced, recovered };
  await fsyncPath(temp);
  await writeFileAtomic(metaPathFor(target), JSON.stringify(meta));
  await rename(temp, target);
  await fsyncPath(dayDir);
  await rm(partial, { force: true });
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
