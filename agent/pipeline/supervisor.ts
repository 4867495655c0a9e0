import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ffmpegEncoderArgs } from '../../device/encoders/args.js';
import type { CaptureInput, EncoderCandidate } from '../../device/types.js';
import { recoverPartialRecordings, RecordingRun, type Finished } from '../archive/recorder.js';
import { boundaryAtOrBefore } from '../archive/segmentName.js';
import type { AgentConfig, CameraConfig } from '../config/types.js';
import type { CameraStats, PipelineState } from '../contract/services.js';
import { Backoff } from '../util/backoff.js';
import type { EventBus } from '../util/bus.js';
import type { Logger } from '../util/logger.js';
import { buildPipelineArgs, isHlsOutput } from './ffmpegArgs.js';
import { FfmpegProcess, type FfmpegRunExit } from './ffmpegProcess.js';
import { classifyExit, lastErrorLine } from './failure.js';
import { redactSecrets } from '../util/redact.js';

/** Supervision timing; defaults suit a board, tests shorten them. */
export interface SupervisorTiming {
  /** No new frame for this long: the run is stuck and is killed. */
  stallSeconds: number;
  /** Extra time a starting camera gets before the stall rule applies. */
  startGraceSeconds: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /**
   * A run that recorded this long (from its first frame) resets the backoff: it proved camera
   * and encoder work, so its death is a crash to recover from at once, not a failing setup.
   */
  healthyAfterSeconds: number;
  /** Wall clock moved this far against the monotonic clock: restart on the new timeline. */
  clockJumpSeconds: number;
  stopGraceMs: number;
}

/**
 * How long a supervisor may go without progress (a frame, a start, a restart decision) before it
 * counts as stuck: the longest honest quiet spell is a start that gets no frame (grace + stall),
 * its stop, and the longest backoff before the next try; 15 s on top for a slow board.
 */
export function livenessBoundSeconds(timing: SupervisorTiming): number {
  return timing.startGraceSeconds + timing.stallSeconds + timing.stopGraceMs / 1000 + timing.backoffMaxMs / 1000 + 15;
}

export const DEFAULT_TIMING: SupervisorTiming = {
  stallSeconds: 10,
  startGraceSeconds: 20,
  backoffInitialMs: 1000,
  backoffMaxMs: 30_000,
  healthyAfterSeconds: 10,
  clockJumpSeconds: 2,
  stopGraceMs: 8000,
};

/** Everything one camera's supervisor is given. */
export interface CameraSupervisorDeps {
  camera: CameraConfig;
  config: AgentConfig;
  bus: EventBus;
  log: Logger;
  /** Where the one encode can happen, best first; the last is libx264. */
  encoders: EncoderCandidate[];
  /** Turns the camera's source into FFmpeg input for an encoder (re-resolved at every start). */
  resolveCapture: (camera: CameraConfig, encoder: EncoderCandidate) => Promise<CaptureInput>;
  /** Whether the system clock is NTP-synchronised now. */
  clockSynced: () => Promise<boolean>;
  timing?: Partial<SupervisorTiming>;
  ffmpegPath?: string;
  /** Receives the motion frame stream of each run, when motion metering is wanted. */
  motion?: { width: number; height: number; fps: number; attach: (stream: NodeJS.ReadableStream) => void };
  /** Receives the live view's fragmented MP4 of each run, when the live view is on. */
  live?: { attach: (stream: NodeJS.ReadableStream) => void };
}

/**
 * One camera's pipeline: starts FFmpeg (and its producer), watches frame progress, finishes
 * archives as they close, and restarts with capped, jittered backoff. Never throws upward.
 */
export class CameraSupervisor {
  private readonly timing: SupervisorTiming;
  private readonly backoff: Backoff;
  private state: PipelineState = 'stopped';
  private encoderIndex = 0;
  private restarts = 0;
  private current: FfmpegProcess | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private restartReason: string | null = null;
  private wake: (() => void) | null = null;
  private frames = 0;
  private fps = 0;
  private dropped = 0;
  // Totals of the runs before the current one (FFmpeg counts from 0 at every start), for counters.
  private framesBefore = 0;
  private droppedBefore = 0;
  private runDropped = 0;
  private lastFrameAt: number | null = null;
  /** Monotonic time of the supervisor's last progress: a frame, a start or a restart decision. */
  private lastProgressAt = performance.now();
  private runStartedAt = 0;
  private recordingSince: string | null = null;
  private lastError: string | null = null;
  private cameraLost = false;
  // Wall clock less monotonic clock when last checked: a change is a clock step (NTP, a board
  // without RTC). Kept across runs, so a step during a restart is noticed too.
  private clockSkew = Date.now() - performance.now();

  constructor(private readonly deps: CameraSupervisorDeps) {
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
    this.backoff = new Backoff({ initialMs: this.timing.backoffInitialMs, maxMs: this.timing.backoffMaxMs });
  }

  /** The camera's HLS folder. */
  get hlsDir(): string {
    return path.join(this.deps.config.hls.dir, this.deps.camera.id);
  }

  /** Recovers what an earlier run left half-written, then starts supervising. */
  async start(): Promise<void> {
    this.stopping = false;
    await recoverPartialRecordings({
      archiveRoot: this.deps.config.archive.dir,
      camera: this.deps.camera.id,
      log: this.deps.log,
      onFinished: (finished) => this.announce(finished),
    });
    this.running = this.loop();
  }

  /** Stops FFmpeg cleanly and finishes the archive being written. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.current?.stop(this.timing.stopGraceMs);
    await this.running;
    this.state = 'stopped';
  }

  /** Restarts the run now (no backoff), e.g. on a management command. */
  async restart(reason: string): Promise<void> {
    this.restartReason = reason;
    this.wake?.();
    await this.current?.stop(this.timing.stopGraceMs);
  }

  /** The figures health and status report. */
  stats(): CameraStats {
    return {
      camera: this.deps.camera.id,
      state: this.state,
      encoder: this.deps.encoders[this.encoderIndex]?.name ?? null,
      // R/health and /api/status carry this: an IP camera's password must not (issue 15).
      source: redactSecrets(this.deps.camera.source),
      fps: this.state === 'running' ? this.fps : 0,
      droppedFrames: this.dropped,
      framesTotal: this.framesBefore + this.frames,
      droppedFramesTotal: this.droppedBefore + this.runDropped,
      restarts: this.restarts,
      lastFrameAgeSeconds: this.lastFrameAt === null ? null : (Date.now() - this.lastFrameAt) / 1000,
      recordingSince: this.recordingSince,
      lastError: this.lastError,
      supervised: this.state !== 'stopped' && (performance.now() - this.lastProgressAt) / 1000 < livenessBoundSeconds(this.timing),
    };
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const outcome = await this.runOnce().catch((error: unknown) => {
        this.lastError = redactSecrets(error instanceof Error ? error.message : String(error));
        this.deps.log.error({ err: error }, 'pipeline run failed to start');
        return { reason: this.lastError, delay: true };
      });
      if (this.stopping) break;
      this.restarts += 1;
      this.lastProgressAt = performance.now();
      const delayMs = outcome.delay ? this.backoff.next() : 0;
      this.state = 'restarting';
      this.deps.bus.emit('pipeline.restarted', {
        camera: this.deps.camera.id,
        reason: outcome.reason,
        restarts: this.restarts,
        delaySeconds: delayMs / 1000,
      });
      this.deps.log.warn({ reason: outcome.reason, delayMs, restarts: this.restarts }, 'restarting pipeline');
      await this.sleep(delayMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One FFmpeg run from spawn to exit; says why it ended and whether to back off. */
  private async runOnce(): Promise<{ reason: string; delay: boolean }> {
    const { camera, config, log } = this.deps;
    const encoder = this.deps.encoders[this.encoderIndex]!;
    // A restart asked for while waiting out a backoff is served by this very start.
    this.restartReason = null;
    this.state = 'starting';
    this.lastProgressAt = performance.now();
    const resolved = await this.deps.resolveCapture(camera, encoder).catch((error: unknown) => {
      this.markLost(redactSecrets(error instanceof Error ? error.message : String(error)));
      throw error;
    });
    // The device layer describes the source as configured; from here on it reaches logs and events.
    const capture = { ...resolved, description: redactSecrets(resolved.description) };
    if (capture.prepare) log.info({ prepared: await capture.prepare() }, 'capture prepared');
    // A step since the last run is simply the timeline this run is planned on; one after this
    // point (while the run is being prepared) is caught by watch() against planSkew.
    this.noteClockStep();
    const spawnWall = Date.now();
    const planSkew = spawnWall - performance.now();
    const baseMs = boundaryAtOrBefore(spawnWall, config.archive.segmentSeconds);
    // Whole frames: then frame times, not just keyframes, land exactly on wall-clock boundaries.
    const offsetSeconds = Math.round(((spawnWall - baseMs) / 1000) * camera.fps) / camera.fps;
    const runId = `${spawnWall}-${process.pid}`;
    const recording = new RecordingRun({
      archiveRoot: config.archive.dir,
      run: {
        camera: camera.id,
        baseMs,
        segmentSeconds: config.archive.segmentSeconds,
        clockSynced: await this.deps.clockSynced(),
        // Known in advance only off the wall clock; else the first segment's first packet tells.
        ...(capture.wallClock ? {} : { firstMs: baseMs + Math.round(offsetSeconds * 1000) }),
      },
      runId,
      log,
      onFinished: (finished) => this.announce(finished),
      clockSynced: this.deps.clockSynced,
    });
    await recording.prepare();
    await this.resetHlsDir();
    const motion = this.deps.motion;
    const args = buildPipelineArgs({
      capture,
      encoder: capture.encoded ? null : ffmpegEncoderArgs(encoder.name, this.encodeSettings()),
      keyframeSeconds: config.hls.segmentSeconds,
      timeline: { baseSeconds: baseMs / 1000, offsetSeconds },
      hls: { dir: this.hlsDir, segmentSeconds: config.hls.segmentSeconds, listSize: config.hls.listSize },
      recording: { dir: recording.dir, segmentSeconds: config.archive.segmentSeconds },
      ...(motion ? { motion: { width: motion.width, height: motion.height, fps: motion.fps } } : {}),
      live: Boolean(this.deps.live),
    });
    const proc = new FfmpegProcess({
      ffmpegPath: this.deps.ffmpegPath ?? 'ffmpeg',
      args,
      workDir: recording.dir,
      motion: Boolean(motion),
      live: Boolean(this.deps.live),
      ...(capture.producer ? { producer: capture.producer } : {}),
    });
    log.debug({ args }, 'ffmpeg command');
    return this.watch(proc, recording, capture, encoder, planSkew);
  }

  private async watch(
    proc: FfmpegProcess,
    recording: RecordingRun,
    capture: CaptureInput,
    encoder: EncoderCandidate,
    planSkew: number,
  ): Promise<{ reason: string; delay: boolean }> {
    const { camera, log } = this.deps;
    this.framesBefore += this.frames;
    this.droppedBefore += this.runDropped;
    this.frames = 0;
    this.runDropped = 0;
    this.lastFrameAt = null;
    this.runStartedAt = Date.now();
    let stalled = false;
    let jumped = false;
    let firstFrameAt: number | null = null;
    proc.on('progress', (p: { frame: number; fps: number; dropFrames: number }) => {
      if (p.frame > this.frames) {
        this.lastFrameAt = Date.now();
        this.lastProgressAt = performance.now();
        if (this.frames === 0) {
          firstFrameAt = this.lastFrameAt;
          this.onFirstFrame(capture);
        }
      }
      this.frames = p.frame;
      this.fps = p.fps;
      this.dropped = p.dropFrames;
      this.runDropped = p.dropFrames;
    });
    this.current = proc;
    await proc.start();
    // A stop or restart asked for while this run was being prepared found no process to stop.
    if (this.stopping || this.restartReason !== null) void proc.stop(this.timing.stopGraceMs);
    this.deps.bus.emit('pipeline.started', { camera: camera.id, encoder: encoder.name, source: capture.description, pid: proc.pid ?? 0 });
    log.info({ pid: proc.pid, encoder: encoder.name, source: capture.description, hls: this.hlsDir, archive: this.deps.config.archive.dir }, 'pipeline started');
    if (this.deps.motion && proc.motionStream) this.deps.motion.attach(proc.motionStream);
    if (this.deps.live && proc.liveStream) this.deps.live.attach(proc.liveStream);
    // FFmpeg stamps frames with the clock as it is now, against a timeline planned with planSkew.
    const checkClock = () => {
      if (jumped || Math.abs(Date.now() - performance.now() - planSkew) <= this.timing.clockJumpSeconds * 1000) return;
      jumped = true;
      this.clockSkew = Date.now() - performance.now();
      log.warn('the wall clock jumped: restarting on the new timeline');
      void proc.stop(this.timing.stopGraceMs);
    };
    checkClock();
    const ticker = setInterval(() => {
      void recording.poll();
      const since = this.lastFrameAt ?? this.runStartedAt + this.timing.startGraceSeconds * 1000;
      if (!stalled && Date.now() - since > this.timing.stallSeconds * 1000) {
        stalled = true;
        log.warn({ seconds: this.timing.stallSeconds }, 'no new frame: killing the stuck pipeline');
        proc.kill();
      }
      checkClock();
    }, 1000);
    const exit = await proc.exited();
    clearInterval(ticker);
    this.current = null;
    this.recordingSince = null;
    const clean = this.stopping || this.restartReason !== null || jumped;
    this.state = this.stopping ? 'stopped' : 'restarting';
    await recording.close(clean && exit.signal !== 'SIGKILL');
    if (firstFrameAt !== null && Date.now() - firstFrameAt > this.timing.healthyAfterSeconds * 1000) this.backoff.reset();
    return this.outcome(exit, stalled, jumped, capture);
  }

  private outcome(exit: FfmpegRunExit, stalled: boolean, jumped: boolean, capture: CaptureInput): { reason: string; delay: boolean } {
    if (this.restartReason !== null) {
      const reason = this.restartReason;
      this.restartReason = null;
      return { reason, delay: false };
    }
    if (jumped) return { reason: 'wall clock jumped', delay: false };
    // FFmpeg names the input URL in its errors, credentials included.
    const detail = redactSecrets(lastErrorLine(exit));
    this.lastError = stalled ? `stalled: no frame for ${this.timing.stallSeconds} s` : detail;
    if (this.stopping) return { reason: 'stopping', delay: false };
    const kind = stalled ? 'source' : classifyExit(exit, this.frames);
    if (kind === 'encoder' && this.encoderIndex < this.deps.encoders.length - 1) {
      const from = this.deps.encoders[this.encoderIndex]!.name;
      this.encoderIndex += 1;
      const to = this.deps.encoders[this.encoderIndex]!.name;
      this.deps.bus.emit('encoder.fallback', { camera: this.deps.camera.id, from, to, reason: detail });
      this.deps.log.warn({ from, to, reason: detail }, 'encoder failed: falling back one step');
      return { reason: `encoder ${from} failed: ${detail}`, delay: false };
    }
    if (kind === 'source') this.markLost(this.lastError, capture.description);
    return { reason: this.lastError, delay: true };
  }

  /** A step between runs: this run already starts on the new timeline, so say so and move on. */
  private noteClockStep(): void {
    const skew = Date.now() - performance.now();
    if (Math.abs(skew - this.clockSkew) <= this.timing.clockJumpSeconds * 1000) return;
    this.clockSkew = skew;
    this.deps.log.warn('the wall clock jumped: restarting on the new timeline');
  }

  private onFirstFrame(capture: CaptureInput): void {
    this.state = 'running';
    this.recordingSince = new Date().toISOString();
    if (this.cameraLost) {
      this.cameraLost = false;
      this.deps.bus.emit('camera.found', { camera: this.deps.camera.id, source: capture.description });
      this.deps.log.info('camera found again; recording resumed');
    }
  }

  private markLost(reason: string, source = redactSecrets(this.deps.camera.source)): void {
    if (this.cameraLost) return;
    this.cameraLost = true;
    this.deps.bus.emit('camera.lost', { camera: this.deps.camera.id, source, reason });
    this.deps.log.warn({ reason }, 'camera lost');
  }

  private announce({ info, recovered }: Finished): void {
    if (recovered) {
      this.deps.bus.emit('archive.recovered', { ...info, reason: 'recording was cut short by a fault' });
      this.deps.log.info({ file: info.file, start: info.start, seconds: info.seconds }, 'archive recovered');
    } else {
      this.deps.bus.emit('archive.finished', info);
      this.deps.log.info({ file: info.file, start: info.start, seconds: info.seconds, bytes: info.bytes }, 'archive finished');
    }
  }

  private encodeSettings() {
    const { camera, config } = this.deps;
    return {
      width: camera.width,
      height: camera.height,
      fps: camera.fps,
      bitrateKbps: config.encoder.bitrateKbps,
      keyframeSeconds: config.hls.segmentSeconds,
    };
  }

  /**
   * Removes the last run's segments and playlist, and nothing else: hls.dir can be set over MQTT,
   * and a reset that emptied whatever folder it names once wiped a whole dataDir.
   */
  private async resetHlsDir(): Promise<void> {
    await mkdir(this.hlsDir, { recursive: true });
    for (const name of await readdir(this.hlsDir)) {
      if (isHlsOutput(name)) await rm(path.join(this.hlsDir, name), { force: true });
    }
  }
}
