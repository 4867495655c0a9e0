import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findOnPath, runCommand, type CommandRunner } from '../../agent/util/run.js';
import type { EncodeSettings, EncoderCandidate } from '../types.js';
import { ffmpegEncoderArgs, gopFrames, jetsonEncoderElements } from './args.js';
import { progressSpeed, stderrReason, verifyH264, type VerifyTools } from './verify.js';

/** A probe's answer for one encoder candidate. */
export interface EncoderVerdict {
  name: string;
  where: EncoderCandidate['where'];
  works: boolean;
  /** Why not, in FFmpeg's own words where it said any. */
  reason?: string;
  /** How long the probe took. */
  seconds: number;
  /** True when the verdict came from the cache file. */
  cached?: boolean;
}

/** Injectable parts of a probe; defaults are the real machine. */
export interface ProbeOptions {
  run?: CommandRunner;
  ffmpeg?: string;
  ffprobe?: string;
  sysRoot?: string;
  devRoot?: string;
  /** PATH used to look for producer programs. */
  pathEnv?: string;
  tmpDir?: string;
  /** Per step; a stuck hardware encoder must not hold up start-up. Default 15 s. */
  timeoutMs?: number;
  /** Minimum encode speed as a multiple of real time. Default 1.2. */
  minSpeed?: number;
}

/** The reason prefix of a verdict that must not be cached: the machine may just have been busy. */
export const TIMEOUT_REASON = 'test encode timed out';

/**
 * Proves one candidate works at exactly these settings with a short real test encode (FFmpeg
 * encoders) or a presence check of the producer and its device (producer encoders).
 */
export async function probeEncoder(
  candidate: EncoderCandidate,
  settings: EncodeSettings,
  opts: ProbeOptions = {},
): Promise<EncoderVerdict> {
  const started = Date.now();
  const verdict = (reason?: string): EncoderVerdict => ({
    name: candidate.name,
    where: candidate.where,
    works: reason === undefined,
    ...(reason === undefined ? {} : { reason }),
    seconds: Math.round((Date.now() - started) / 10) / 100,
  });
  try {
    const missing = await missingDevice(candidate.name, opts);
    if (missing) return verdict(missing);
    if (candidate.where === 'producer') return verdict(await producerProblem(candidate.name, settings, opts));
    return verdict(await ffmpegProblem(candidate.name, settings, opts));
  } catch (error) {
    return verdict(`probe failed: ${(error as Error).message}`);
  }
}

function tools(opts: ProbeOptions): VerifyTools {
  return {
    run: opts.run ?? runCommand,
    ffmpeg: opts.ffmpeg ?? 'ffmpeg',
    ffprobe: opts.ffprobe ?? 'ffprobe',
    timeoutMs: opts.timeoutMs ?? 15_000,
  };
}

/** Seconds of test video: long enough for two forced keyframes, 2.5 s at the usual 1-s spacing. */
export function probeSeconds(settings: EncodeSettings): number {
  return Math.max(2.5, settings.keyframeSeconds * 2 + 0.5);
}

/** The FFmpeg command line of a test encode (exported for tests). */
export function testEncodeArgs(name: string, s: EncodeSettings, out: string): string[] {
  const enc = ffmpegEncoderArgs(name, s);
  return [
    // -v warning: some encoders (h264_omx: "libOMX_Core.so not found") say why only as a warning.
    '-hide_banner',
    '-nostdin',
    '-v',
    'warning',
    '-nostats',
    '-progress',
    'pipe:1',
    ...(enc.globalArgs ?? []),
    // A failing hardware encoder only fails once frames arrive, so the probe must feed real frames.
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${s.width}x${s.height}:rate=${s.fps}`,
    '-t',
    String(probeSeconds(s)),
    ...(enc.filter ? ['-vf', enc.filter] : []),
    ...enc.outputArgs,
    '-force_key_frames',
    `expr:gte(t,n_forced*${s.keyframeSeconds})`,
    // Raw H.264: exactly the bytes the encoder made, no muxer repairing missing SPS/PPS.
    '-f',
    'h264',
    '-y',
    out,
  ];
}

async function ffmpegProblem(name: string, s: EncodeSettings, opts: ProbeOptions): Promise<string | undefined> {
  const t = tools(opts);
  const dir = await mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'encoder-probe-'));
  try {
    const out = path.join(dir, `${name}.h264`);
    const started = Date.now();
    const r = await t.run(t.ffmpeg, testEncodeArgs(name, s, out), { timeoutMs: t.timeoutMs });
    const elapsed = (Date.now() - started) / 1000;
    if (r.timedOut) return `${TIMEOUT_REASON} after ${t.timeoutMs / 1000} s${tail(r.stderr)}`;
    if (r.code !== 0) return stderrReason(r.stderr) ?? `ffmpeg exited ${r.code ?? r.signal}`;
    const speed = progressSpeed(r.stdout) ?? probeSeconds(s) / elapsed;
    const minSpeed = opts.minSpeed ?? 1.2;
    if (speed < minSpeed) {
      return `too slow: encodes ${s.width}x${s.height}@${s.fps} at ${speed.toFixed(2)}x real time, needs ${minSpeed}x`;
    }
    return await verifyH264(out, t);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const tail = (stderr: string): string => {
  const why = stderrReason(stderr);
  return why ? `: ${why}` : '';
};

/** A reason when the device node an encoder needs is absent: no point spending an encode. */
export async function missingDevice(name: string, opts: ProbeOptions): Promise<string | undefined> {
  const devRoot = opts.devRoot ?? '/dev';
  const exists = (rel: string): Promise<boolean> =>
    access(path.join(devRoot, rel)).then(
      () => true,
      () => false,
    );
  switch (name) {
    case 'h264_v4l2m2m':
    case 'rpicam-h264':
      // The Pi 0-4's encoder is bcm2835-codec-encode (/dev/video11); the Pi 5 has none.
      return (await encoderNode(opts.sysRoot ?? '/sys'))
        ? undefined
        : 'no video4linux encoder node (no /dev/video* named *encode*): this board has no H.264 encoder';
    case 'h264_nvenc':
      return (await exists('nvidia0')) ? undefined : 'no /dev/nvidia0: no NVIDIA GPU or driver';
    case 'h264_vaapi':
      return (await exists('dri/renderD128')) ? undefined : 'no /dev/dri/renderD128: no GPU render node';
    case 'nvv4l2h264enc':
      // Orin Nano has the driver stack but no NVENC block, hence no node.
      return (await exists('v4l2-nvenc')) || (await exists('nvhost-msenc'))
        ? undefined
        : 'no /dev/v4l2-nvenc or /dev/nvhost-msenc: this Jetson has no hardware encoder';
    default:
      return undefined;
  }
}

/** The sysfs name of a video4linux encoder node, if the board has one. */
async function encoderNode(sysRoot: string): Promise<string | undefined> {
  const dir = path.join(sysRoot, 'class/video4linux');
  for (const node of await readdir(dir).catch(() => [] as string[])) {
    const name = await readFile(path.join(dir, node, 'name'), 'utf8').catch(() => '');
    if (/encode/i.test(name)) return name.trim();
  }
  return undefined;
}

async function producerProblem(name: string, s: EncodeSettings, opts: ProbeOptions): Promise<string | undefined> {
  const onPath = (cmd: string): boolean => findOnPath(cmd, opts.pathEnv) !== undefined;
  if (name === 'rpicam-h264') {
    if (!onPath('rpicam-vid') && !onPath('libcamera-vid')) return 'rpicam-vid (or libcamera-vid) not found on PATH';
    // rpicam-vid cannot encode without a camera attached; binary and encoder node are the proof
    // available, and a runtime failure still moves the camera one step down the ladder.
    return undefined;
  }
  if (name === 'nvv4l2h264enc') {
    if (!onPath('gst-launch-1.0')) return 'gst-launch-1.0 not found on PATH';
    return jetsonProblem(s, opts);
  }
  return `unknown producer encoder ${name}`;
}

/** The GStreamer pipeline of a Jetson NVENC test encode (exported for tests). */
export function jetsonTestArgs(s: EncodeSettings, out: string): string[] {
  return [
    '-q',
    'videotestsrc',
    `num-buffers=${Math.round(probeSeconds(s) * s.fps)}`,
    'pattern=ball',
    '!',
    `video/x-raw,width=${s.width},height=${s.height},framerate=${s.fps}/1`,
    '!',
    'nvvidconv',
    '!',
    'video/x-raw(memory:NVMM),format=I420',
    '!',
    ...jetsonEncoderElements(gopFrames(s.fps, s.keyframeSeconds), s.bitrateKbps),
    '!',
    'filesink',
    `location=${out}`,
  ];
}

async function jetsonProblem(s: EncodeSettings, opts: ProbeOptions): Promise<string | undefined> {
  const t = tools(opts);
  const dir = await mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'encoder-probe-'));
  try {
    const out = path.join(dir, 'nvv4l2h264enc.h264');
    const started = Date.now();
    const r = await t.run('gst-launch-1.0', jetsonTestArgs(s, out), { timeoutMs: t.timeoutMs });
    if (r.timedOut) return `${TIMEOUT_REASON} after ${t.timeoutMs / 1000} s`;
    if (r.code !== 0) return r.stderr.trim().split('\n').slice(-2).join('; ') || `gst-launch-1.0 exited ${r.code}`;
    const speed = probeSeconds(s) / ((Date.now() - started) / 1000);
    const minSpeed = opts.minSpeed ?? 1.2;
    if (speed < minSpeed) return `too slow: ${speed.toFixed(2)}x real time, needs ${minSpeed}x`;
    return await verifyH264(out, t);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
