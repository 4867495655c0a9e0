/**
 * The proxy: a cheap copy of an archive made for the model. Gemini samples video at 1 fps and,
 * at low media resolution, sees ~66 tokens a frame whatever the size, so 1 fps at 480 px wide
 * loses nothing the model would have used; the upload shrinks to ~1–5 % of the archive.
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { AgentError } from '../contract/errors.js';
import { runCommand } from '../util/run.js';

/** How the proxy is made; the defaults are what the benchmark measured. */
export interface ProxyOptions {
  /** Output width in pixels; the height keeps the aspect ratio. */
  width: number;
  /** Frames per second kept (Gemini's default sampling rate is 1). */
  fps: number;
  /** x264 constant quality; 30 keeps a face or a number plate readable at 480 px. */
  crf: number;
  /**
   * Decode keyframes only. Our archives carry a keyframe every `hls.segmentSeconds` (1 s), so
   * this is 1 fps for ~1/5 of the CPU of decoding every frame (0.27 vs 1.49 CPU-s per 60 s of
   * 720p30 here).
   */
  keyframesOnly: boolean;
  ffmpegPath: string;
  /** Kill FFmpeg if the proxy takes longer than this. */
  timeoutMs: number;
}

/** Defaults for a board. */
export const DEFAULT_PROXY: ProxyOptions = {
  width: 480,
  fps: 1,
  crf: 30,
  keyframesOnly: true,
  ffmpegPath: 'ffmpeg',
  timeoutMs: 10 * 60_000,
};

/** A proxy on disk: delete it with `remove()` once uploaded. */
export interface Proxy {
  path: string;
  bytes: number;
  /** Length of the source in seconds (from FFmpeg's own reading of it). */
  durationSeconds: number | null;
  /** User + system CPU seconds FFmpeg spent (its `-benchmark` report). */
  cpuSeconds: number | null;
  remove(): Promise<void>;
}

/** FFmpeg's argument list for a proxy (pure, table-tested). */
export function proxyArgs(
  input: string,
  output: string,
  options: Pick<ProxyOptions, 'width' | 'fps' | 'crf' | 'keyframesOnly'>,
): string[] {
  return [
    '-nostdin',
    '-hide_banner',
    '-nostats',
    '-benchmark',
    '-y',
    ...(options.keyframesOnly ? ['-skip_frame', 'nokey'] : []),
    '-i',
    input,
    '-map',
    '0:v:0',
    '-an',
    '-sn',
    '-dn',
    // Never upscale; even height (yuv420p needs it). `fps` after skip_frame evens out irregular keyframes.
    '-vf',
    `fps=${options.fps},scale='min(${options.width},iw)':-2`,
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    String(options.crf),
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    output,
  ];
}

/** Seconds from FFmpeg's "Duration: HH:MM:SS.ss" line. */
export function parseDuration(stderr: string): number | null {
  const m = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(stderr);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

/** CPU seconds from FFmpeg's "bench: utime=1.2s stime=0.1s" line. */
export function parseBenchCpu(stderr: string): number | null {
  const m = /bench: utime=([\d.]+)s stime=([\d.]+)s/.exec(stderr);
  return m ? Number(m[1]) + Number(m[2]) : null;
}

/** Frames in a video file (ffprobe reads the MP4 index, no decoding). */
export async function countFrames(file: string, ffprobePath = 'ffprobe'): Promise<number> {
  const { stdout } = await runCommand(
    ffprobePath,
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=nb_frames', '-of', 'csv=p=0', file],
    {
      timeoutMs: 30_000,
    },
  ).catch(() => ({ stdout: '' }));
  const n = Number.parseInt(stdout.trim(), 10);
  return Number.isFinite(n) ? n : 0;
}

/**
 * Makes the proxy of `input` as `<workDir>/<name>.proxy.mp4`. FFmpeg runs at a lower priority
 * so the live pipeline keeps its CPU; an abort or the timeout kills it and removes the output.
 * Keyframes-only decoding falls back to full decoding when the archive has too few keyframes
 * (a producer's long GOP): the model must still see about `fps` frames a second.
 */
export async function makeProxy(
  input: string,
  workDir: string,
  name: string,
  options: Partial<ProxyOptions> = {},
  signal?: AbortSignal,
): Promise<Proxy> {
  const opts = { ...DEFAULT_PROXY, ...options };
  const proxy = await runProxy(input, workDir, name, opts, signal);
  if (!opts.keyframesOnly) return proxy;
  const frames = await countFrames(proxy.path, opts.ffmpegPath.replace(/ffmpeg$/, 'ffprobe'));
  const expected = (proxy.durationSeconds ?? 0) * opts.fps;
  if (frames >= Math.max(1, expected / 4)) return proxy;
  await proxy.remove();
  const full = await runProxy(input, workDir, name, { ...opts, keyframesOnly: false }, signal);
  return { ...full, cpuSeconds: (full.cpuSeconds ?? 0) + (proxy.cpuSeconds ?? 0) };
}

async function runProxy(
  input: string,
  workDir: string,
  name: string,
  opts: ProxyOptions,
  signal?: AbortSignal,
): Promise<Proxy> {
  const output = path.join(workDir, `${name}.proxy.mp4`);
  const remove = () => rm(output, { force: true });
  const { code, stderr } = await runCommand(opts.ffmpegPath, proxyArgs(input, output, opts), {
    timeoutMs: opts.timeoutMs,
    priority: 10,
    ...(signal ? { signal } : {}),
  });
  if (code !== 0) {
    await remove();
    const last =
      stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('bench:'))
        .pop() ?? '';
    throw new AgentError('analysis_failed', `proxy of ${path.basename(input)} failed (ffmpeg exit ${code}): ${last}`);
  }
  const { size } = await stat(output);
  return {
    path: output,
    bytes: size,
    durationSeconds: parseDuration(stderr),
    cpuSeconds: parseBenchCpu(stderr),
    remove,
  };
}
