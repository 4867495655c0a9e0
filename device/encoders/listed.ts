import { runCommand, type CommandRunner } from '../../agent/util/run.js';

/**
 * The H.264 encoders this FFmpeg build lists (`ffmpeg -encoders`). A list, not a promise: every
 * board lists encoders it cannot run, so `probe` tests each. libx264rgb is left out (RGB only).
 */
export async function listedH264Encoders(run: CommandRunner = runCommand, ffmpeg = 'ffmpeg'): Promise<string[]> {
  const r = await run(ffmpeg, ['-hide_banner', '-encoders'], { timeoutMs: 10_000 }).catch(() => undefined);
  if (!r || r.code !== 0) return [];
  return parseEncoderList(r.stdout);
}

/** Parses `ffmpeg -encoders` lines such as ` V....D h264_nvenc  NVIDIA NVENC H.264 encoder (codec h264)`. */
export function parseEncoderList(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*V\S{5}\s+(\S+)\s+.*\(codec h264\)\s*$/.exec(line);
    if (m?.[1] && m[1] !== 'libx264rgb') names.push(m[1]);
  }
  return names;
}
