import { fail, firstLine, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

const INSTALL = 'sudo apt-get install ffmpeg (Raspberry Pi OS and Ubuntu/JetPack both package it)';

/** FFmpeg is present and runs; ffprobe too (the encoder probe decodes its test encodes with it). */
export async function checkFfmpeg(ctx: DoctorContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  try {
    const r = await ctx.run('ffmpeg', ['-hide_banner', '-version'], { timeoutMs: 10_000 });
    const line = firstLine(r.stdout);
    out.push(
      r.code === 0 && line
        ? ok('ffmpeg', line)
        : fail('ffmpeg', `ffmpeg -version exited ${r.code}: ${firstLine(r.stderr)}`, INSTALL),
    );
  } catch {
    out.push(fail('ffmpeg', 'ffmpeg is not installed (not on PATH)', INSTALL));
  }
  if (!ctx.hasCommand('ffprobe')) {
    out.push(warn('ffprobe', 'ffprobe is not on PATH: encoder probes cannot verify their test encodes', INSTALL));
  }
  return out;
}
