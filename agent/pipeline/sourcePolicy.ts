/**
 * What FFmpeg may open for a camera: a protocol allow-list per source kind (`-protocol_whitelist`),
 * and for `file:` sources a container allow-list (`-format_whitelist`). Without them a source
 * (or a playlist it names) could make FFmpeg read further files the agent can read, and
 * `snapshot` would hand them out (issue 15). Which file a `file:` source names is the config
 * file's choice (trusted, local); over MQTT a new one needs a signed request (config/remote.ts).
 */
import type { CaptureInput } from '../../device/types.js';

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
  const lists = [
    '-protocol_whitelist',
    SOURCE_PROTOCOLS[kind],
    ...(kind === 'file' ? ['-format_whitelist', FILE_FORMATS] : []),
  ];
  return { ...capture, inputArgs: [...capture.inputArgs.slice(0, at), ...lists, ...capture.inputArgs.slice(at)] };
}
