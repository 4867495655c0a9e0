/**
 * The motion meter: reads the pipeline's tiny grey frames (raw, W×H bytes each, on FFmpeg's
 * fd 3) and keeps one motion score per wall-clock second per camera, so the analysis queue
 * can skip still archives and hand the model a hint of when something moved. Beside the score
 * (a mean, which a person crossing part of the view hardly moves) it keeps the fraction of the
 * picture that changed clearly, which the duplicate gate relies on.
 */
import { systemClock, type Clock } from '../util/clock.js';

/** One second of the timeline: `t` seconds after the asked start, `score` 0..1 (null: no frames). */
export interface MotionSample {
  t: number;
  score: number | null;
}

/** What a camera supervisor is given as its `motion` dep. */
export interface MotionTap {
  width: number;
  height: number;
  fps: number;
  attach: (stream: NodeJS.ReadableStream) => void;
}

/** Motion frame size and rate; 160 px wide at 4 fps costs the Node process well under 1 % of a core. */
export interface MotionMeterOptions {
  width: number;
  height: number;
  fps: number;
  /** Seconds of timeline kept (must cover an archive plus the time it takes to finish). */
  keepSeconds?: number;
  clock?: Clock;
}

/** Default: two 10-minute archives plus slack. */
export const DEFAULT_KEEP_SECONDS = 2 * 3600;

/**
 * A grey level step that counts as a change: sensor noise, averaged over the many camera pixels
 * behind each motion pixel, stays far below it; a person against the ground is well above.
 */
export const CHANGE_LEVEL = 24;

/**
 * Fraction of pixels that moved by more than CHANGE_LEVEL between two equally long grey frames.
 * Measured here on a 640×360 scene with sensor-like noise: still 0, a person of 1.4 % of the
 * view walking 0.025, one of 0.2 % 0.0035, while the mean score stayed under 0.008 for both.
 */
export function changedFraction(a: Uint8Array, b: Uint8Array, level = CHANGE_LEVEL): number {
  let changed = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (Math.abs(a[i]! - b[i]!) > level) changed++;
  return n === 0 ? 0 : changed / n;
}

/** Mean absolute difference of two equally long grey frames, scaled to 0..1. */
export function frameDifference(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) sum += Math.abs(a[i]! - b[i]!);
  return n === 0 ? 0 : sum / n / 255;
}

/** One camera's meter: per-second score = the largest frame-to-frame difference in that second. */
export class MotionMeter implements MotionTap {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  private readonly frameBytes: number;
  private readonly keepSeconds: number;
  private readonly clock: Clock;
  /** Second (epoch s) → score; a Map keeps insertion order, so the oldest are pruned first. */
  private readonly seconds = new Map<number, number>();
  /** Second (epoch s) → the largest changed fraction in it. */
  private readonly changes = new Map<number, number>();
  private previous: Buffer | null = null;
  private stream: NodeJS.ReadableStream | null = null;
  private framesSeen = 0;

  constructor(options: MotionMeterOptions) {
    this.width = options.width;
    this.height = options.height;
    this.fps = options.fps;
    this.frameBytes = options.width * options.height;
    this.keepSeconds = options.keepSeconds ?? DEFAULT_KEEP_SECONDS;
    this.clock = options.clock ?? systemClock;
  }

  /** Frames measured since construction. */
  get frames(): number {
    return this.framesSeen;
  }

  /** Reads frames from a new FFmpeg run; the previous run's last frame is not compared across. */
  attach(stream: NodeJS.ReadableStream): void {
    this.stream = stream;
    this.previous = null;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    stream.on('data', (chunk: Buffer | string) => {
      if (this.stream !== stream) return;
      const data = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      pending.push(data);
      pendingBytes += data.length;
      if (pendingBytes < this.frameBytes) return;
      let all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      let offset = 0;
      while (all.length - offset >= this.frameBytes) {
        this.addFrame(all.subarray(offset, offset + this.frameBytes));
        offset += this.frameBytes;
      }
      all = all.subarray(offset);
      pending = all.length > 0 ? [all] : [];
      pendingBytes = all.length;
    });
    // A broken pipe when FFmpeg dies is normal; the supervisor restarts it and attaches again.
    stream.on('error', () => undefined);
  }

  /** Measures one frame against the previous one at the current wall-clock second. */
  addFrame(frame: Uint8Array): void {
    this.framesSeen += 1;
    const second = Math.floor(this.clock.now() / 1000);
    if (this.previous)
      this.record(second, frameDifference(this.previous, frame), changedFraction(this.previous, frame));
    else if (!this.seconds.has(second)) this.record(second, 0, 0);
    // A copy: the caller's (or the stream's) memory may be reused.
    this.previous = Buffer.from(frame);
  }

  /** Scores for each second in [startMs, endMs): one sample per second, null where nothing was seen. */
  timelineFor(startMs: number, endMs: number): MotionSample[] {
    const first = Math.floor(startMs / 1000);
    const count = Math.max(0, Math.ceil((endMs - startMs) / 1000));
    const out: MotionSample[] = [];
    for (let t = 0; t < count; t++) {
      const score = this.seconds.get(first + t);
      out.push({ t, score: score === undefined ? null : score });
    }
    return out;
  }

  /** The largest changed fraction of any measured second in [startMs, endMs), or null when none was measured. */
  peakChange(startMs: number, endMs: number): number | null {
    const first = Math.floor(startMs / 1000);
    const count = Math.max(0, Math.ceil((endMs - startMs) / 1000));
    let peak: number | null = null;
    for (let t = 0; t < count; t++) {
      const changed = this.changes.get(first + t);
      if (changed !== undefined) peak = Math.max(peak ?? 0, changed);
    }
    return peak;
  }

  private record(second: number, score: number, changed: number): void {
    const old = this.seconds.get(second);
    if (old === undefined) {
      this.seconds.set(second, score);
      this.changes.set(second, changed);
      this.prune(second);
      return;
    }
    if (score > old) this.seconds.set(second, score);
    if (changed > (this.changes.get(second) ?? 0)) this.changes.set(second, changed);
  }

  private prune(now: number): void {
    for (const second of this.seconds.keys()) {
      if (second > now - this.keepSeconds) break;
      this.seconds.delete(second);
      this.changes.delete(second);
    }
  }
}

/**
 * An archive's motion score: the largest per-second score of its timeline (3 decimals), or null
 * when fewer than half its seconds were measured (no basis to judge). The same figure as the
 * analysis result's `motion.max`, and the queue's priority.
 */
export function motionScore(timeline: MotionSample[] | null): number | null {
  if (!timeline || timeline.length === 0) return null;
  const seen = timeline.filter((s): s is { t: number; score: number } => s.score !== null);
  if (seen.length < timeline.length / 2) return null;
  return Math.round(Math.max(0, ...seen.map((s) => s.score)) * 1000) / 1000;
}

/** Motion frame width; the height follows the camera's aspect ratio (even, as FFmpeg needs). */
export const MOTION_WIDTH = 160;
/** Motion frames per second: enough to see a person cross the view, cheap to compare. */
export const MOTION_FPS = 4;

/** The meters of every camera; main gives each supervisor `forCamera(camera)`. */
export class MotionMeters {
  private readonly meters = new Map<string, MotionMeter>();

  constructor(private readonly options: { width?: number; fps?: number; keepSeconds?: number; clock?: Clock } = {}) {}

  /** The camera's meter (created on first use), to pass as CameraSupervisorDeps.motion. */
  forCamera(camera: { id: string; width: number; height: number }): MotionMeter {
    let meter = this.meters.get(camera.id);
    if (!meter) {
      const width = this.options.width ?? MOTION_WIDTH;
      const height = Math.max(2, Math.round((width * camera.height) / camera.width / 2) * 2);
      meter = new MotionMeter({
        width,
        height,
        fps: this.options.fps ?? MOTION_FPS,
        ...(this.options.keepSeconds !== undefined ? { keepSeconds: this.options.keepSeconds } : {}),
        ...(this.options.clock ? { clock: this.options.clock } : {}),
      });
      this.meters.set(camera.id, meter);
    }
    return meter;
  }

  /** The camera's timeline for an interval, or null when that camera has no meter. */
  timelineFor(camera: string, startMs: number, endMs: number): MotionSample[] | null {
    return this.meters.get(camera)?.timelineFor(startMs, endMs) ?? null;
  }

  /** The camera's largest changed fraction in an interval (MotionMeter.peakChange), or null. */
  peakChange(camera: string, startMs: number, endMs: number): number | null {
    return this.meters.get(camera)?.peakChange(startMs, endMs) ?? null;
  }
}
