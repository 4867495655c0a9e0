import type { BoardInfo, EncoderCandidate } from '../types.js';

const ffmpeg = (name: string): EncoderCandidate => ({ name, where: 'ffmpeg' });
const producer = (name: string): EncoderCandidate => ({ name, where: 'producer' });

/** Encoders that run inside a capture producer rather than inside FFmpeg. */
export const PRODUCER_ENCODERS = new Set(['rpicam-h264', 'nvv4l2h264enc']);

/**
 * Where the one H.264 encode can happen on this board, best first, always ending in libx264.
 * `ffmpeg -encoders` lists encoders a board cannot run, so this is only the order to probe in.
 */
export function encoderLadder(board: BoardInfo): EncoderCandidate[] {
  switch (board.family) {
    case 'pi-legacy':
      // Pi 0-4: the VideoCore encoder, either inside rpicam-vid (csi sources) or as /dev/video11.
      return [producer('rpicam-h264'), ffmpeg('h264_v4l2m2m'), ffmpeg('libx264')];
    case 'jetson':
      // No stock FFmpeg reaches the Jetson's NVENC (h264_nvenc needs libnvidia-encode, absent on Tegra).
      return [producer('nvv4l2h264enc'), ffmpeg('libx264')];
    case 'pi5': // BCM2712 has no H.264 encoder; h264_v4l2m2m is listed and fails.
    case 'jetson-orin-nano': // NVENC fused off: no /dev/v4l2-nvenc.
      return [ffmpeg('libx264')];
    default:
      return [ffmpeg('h264_nvenc'), ffmpeg('h264_vaapi'), ffmpeg('h264_qsv'), ffmpeg('libx264')];
  }
}

/**
 * The ladder as `encoder.prefer` orders it: `auto` is the board's ladder; a list is those names
 * in that order (producer encoders recognised by name), libx264 appended if missing.
 */
export function preferredLadder(board: BoardInfo, prefer: 'auto' | readonly string[]): EncoderCandidate[] {
  if (prefer === 'auto') return encoderLadder(board);
  const names = [...new Set(prefer)];
  if (!names.includes('libx264')) names.push('libx264');
  return names.map((name) => (PRODUCER_ENCODERS.has(name) ? producer(name) : ffmpeg(name)));
}

/**
 * The candidates a source can use: producer encoders need a producer, which only `csi` sources
 * have (a USB camera or the test pattern goes straight into FFmpeg).
 */
export function candidatesForSource(candidates: EncoderCandidate[], source: string): EncoderCandidate[] {
  const csi = /^csi(:\d+)?$/.test(source);
  return candidates.filter((c) => c.where === 'ffmpeg' || csi);
}
