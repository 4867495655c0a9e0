import { fileURLToPath } from 'node:url';
import type { CaptureInput } from '../types.js';

/** True for the URL sources the agent reads with FFmpeg directly. */
export function isUrlSource(source: string): boolean {
  return /^(rtsps?|https?|file):/i.test(source);
}

/** An IP camera or a file, read by FFmpeg; always decoded and re-encoded so keyframes follow our clock. */
export function urlInput(source: string): CaptureInput {
  const scheme = source.slice(0, source.indexOf(':')).toLowerCase();
  if (scheme === 'file') {
    const file = fileURLToPath(source);
    // -re paces reading to real time and -stream_loop repeats it: a file behaves as a live camera.
    // Not on the wall clock: -re paces by the file's own timestamps, which wall-clock ones defeat.
    return { inputArgs: ['-re', '-stream_loop', '-1', '-i', file], encoded: false, description: `file ${file}` };
  }
  if (scheme === 'rtsp' || scheme === 'rtsps') {
    // UDP loses packets on Wi-Fi and through NAT; interleaved TCP is what works in the field.
    return {
      inputArgs: ['-use_wallclock_as_timestamps', '1', '-rtsp_transport', 'tcp', '-i', source],
      encoded: false,
      wallClock: true,
      description: `rtsp ${source}`,
    };
  }
  return {
    inputArgs: ['-use_wallclock_as_timestamps', '1', '-i', source],
    encoded: false,
    wallClock: true,
    description: `${scheme} ${source}`,
  };
}
