import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../contract/errors.js';
import { HLS_PLAYLIST } from './ffmpegArgs.js';
import { runCheckedBytes } from '../util/run.js';

/** The newest complete segment named in a live playlist, or null. */
export function newestSegment(playlist: string): string | null {
  const names = playlist
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return names.at(-1) ?? null;
}

/**
 * A JPEG of the newest HLS segment's first frame: read from what the pipeline already wrote, so
 * taking it never touches the camera or the recording. At most one segment old.
 */
export async function snapshotFromHls(hlsDir: string, ffmpegPath = 'ffmpeg'): Promise<Buffer> {
  const playlist = await readFile(path.join(hlsDir, HLS_PLAYLIST), 'utf8').catch(() => '');
  const segment = newestSegment(playlist);
  if (!segment) throw new AgentError('not_found', `no live video yet in ${hlsDir}`);
  const stdout = await runCheckedBytes(
    ffmpegPath,
    [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-protocol_whitelist',
      'file',
      '-f',
      'mpegts',
      '-i',
      path.join(hlsDir, path.basename(segment)),
      '-frames:v',
      '1',
      '-q:v',
      '3',
      '-f',
      'mjpeg',
      'pipe:1',
    ],
    // One frame of our own segment: seconds even on a Pi; a hung decode must not hold a command.
    { timeoutMs: 15_000, maxOutputBytes: 16 * 1024 * 1024 },
  );
  if (stdout.length === 0) throw new AgentError('internal', `ffmpeg produced no snapshot from ${segment}`);
  return stdout;
}

/** Width and height from a JPEG's start-of-frame marker. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } | null {
  let offset = 2;
  while (offset + 9 < jpeg.length) {
    if (jpeg[offset] !== 0xff) return null;
    const marker = jpeg[offset + 1]!;
    const length = jpeg.readUInt16BE(offset + 2);
    // SOF0..SOF3 carry the frame size.
    if (marker >= 0xc0 && marker <= 0xc3)
      return { height: jpeg.readUInt16BE(offset + 5), width: jpeg.readUInt16BE(offset + 7) };
    offset += 2 + length;
  }
  return null;
}
