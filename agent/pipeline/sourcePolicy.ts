/**
 * What FFmpeg may open for a camera: a protocol allow-list per source kind (`-protocol_whitelist`),
 * and for `file:` sources a container allow-list (`-format_whitelist`) and a real-path check
 * that the file lies in `<dataDir>/media/`. Without them a source (or a playlist it names) could
 * make FFmpeg read any file the agent can, and `snapshot` would hand it out (issue 15).
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { CaptureInput } from '../../device/types.js';
import { fileSourcePath, isWithin, mediaDir } from '../config/mediaSources.js';
import { AgentError } from '../contract/errors.js';

/** The protocols each kind of source needs, nothing more. */
export const SOURCE_PROTOCOLS = {
  // lavfi and v4l2 open no URL; a CSI producer's frames come through the named pipe (a file).
  device: 'file,pipe',
  file: 'file',
  rtsp: 'rtsp,rtp,srtp,udp,tcp,tls',
  http: 'http,https,tcp,tls,crypto',
} as const;

/**
 * Containers a `file:` clip may be: never a playlist or list format (hls, concat, ...) that names
 * further files, nor one that renders text (tty).
 */
export const FILE_FORMATS = 'mov,mp4,matroska,webm,mpegts,avi,flv,h264,hevc';

function kindOf(source: string): keyof typeof SOURCE_PROTOCOLS {
  if (/^file:/i.test(source)) return 'file';
  if (/^rtsps?:/i.test(source)) return 'rtsp';
  if (/^https?:/i.test(source)) return 'http';
  return 'device';
}

/** The capture's input arguments with the allow-lists put before its `-i`. */
export function withAllowLists(source: string, capture: CaptureInput): CaptureInput {
  const at = capture.inputArgs.lastIndexOf('-i');
  if (at === -1) return capture;
  const kind = kindOf(source);
  const lists = ['-protocol_whitelist', SOURCE_PROTOCOLS[kind], ...(kind === 'file' ? ['-format_whitelist', FILE_FORMATS] : [])];
  return { ...capture, inputArgs: [...capture.inputArgs.slice(0, at), ...lists, ...capture.inputArgs.slice(at)] };
}

/**
 * Throws source_unavailable when a `file:` source is, after following symbolic links, outside
 * the media folder. A missing file passes: FFmpeg then says "No such file or directory", which
 * is what `camera.lost` should report for a clip that went away.
 */
export async function confineFileSource(source: string, dataDir: string): Promise<void> {
  const file = fileSourcePath(source, dataDir);
  if (file === null) {
    if (/^file:/i.test(source)) throw new AgentError('source_unavailable', `source ${source} names no file`);
    return;
  }
  const media = mediaDir(dataDir);
  const realMedia = await realpath(media).catch(() => path.resolve(media));
  const real = await realpath(file).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? null : Promise.reject(error)));
  const inside = real === null ? isWithin(path.resolve(media), file) : isWithin(realMedia, real);
  if (!inside) {
    throw new AgentError('source_unavailable', `source ${source} is outside ${media}/: file: sources must lie in dataDir's media folder`);
  }
}
