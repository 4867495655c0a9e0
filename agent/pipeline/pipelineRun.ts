import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ffmpegEncoderArgs } from '../../device/encoders/args.js';
import type { CaptureInput, EncoderCandidate } from '../../device/types.js';
import { RecordingRun, type Finished } from '../archive/recorder.js';
import { boundaryAtOrBefore } from '../archive/segmentName.js';
import type { AgentConfig, CameraConfig } from '../config/types.js';
import { encodeSettings } from '../config/encodeSettings.js';
import { AgentError, PipelineExitError, type PipelineExitCode } from '../contract/errors.js';
import type { Logger } from '../util/logger.js';
import { redactSecrets } from '../util/redact.js';
import { buildPipelineArgs, isHlsOutput } from './ffmpegArgs.js';
import { FfmpegProcess, type FfmpegRunExit } from './ffmpegProcess.js';
import { classifyExit, lastErrorLine, type FailureKind } from './failure.js';
import type { FfmpegProgress } from './progress.js';
import type { ClockSteps, PipelineClock } from './runClock.js';
import type { SupervisorTiming } from './timing.js';

/** What every run of one camera is given, whichever encoder it tries. */
export interface RunSetup {
  camera: CameraConfig;
  config: AgentConfig;
  log: Logger;
  /** Turns the camera's source into FFmpeg input for an encoder (re-resolved at every start). */
  resolveCapture: (camera: CameraConfig, encoder: EncoderCandidate) => Promise<CaptureInput>;
  /** Whether the system clock is NTP-synchronised now. */
  clockSynced: () => Promise<boolean>;
  ffmpegPath?: string;
  /** Receives the motion frame stream of each run, when motion metering is wanted. */
  motion?: { width: number; height: number; fps: number; attach: (stream: NodeJS.ReadableStream) => void };
  /** Receives the live view's fragmented MP4 of each run, when the live view is on. */
  live?: { attach: (stream: NodeJS.ReadableStream) => void };
}

/** What a run tells its supervisor as it goes (mediamtx's parent interface); the supervisor keeps figures and sends events. */
export interface RunParent {
  /** FFmpeg is about to be spawned: this run's frame count starts at zero. */
  spawning(): void;
  /** FFmpeg (and its producer) runs. */
  started(run: { pid: number | undefined; encoder: string; source: string }): void;
  progress(progress: FfmpegProgress): void;
  /** FFmpeg has exited; the run's recording is being closed. */
  exited(): void;
  /** An archive of this run is finished. */
  finished(finished: Finished): void;
}

/** How a run ended. */
export interface RunEnd {
  /** FFmpeg's end, typed by what the supervisor does about it; its message is what status shows. */
  error: PipelineExitError;
  /** The run stopped FFmpeg itself: the wall clock stepped under its timeline. */
  clockJumped: boolean;
}

/** One attempt, as the supervisor's loop drives it. */
export interface Run {
  /**
   * Runs from capture to FFmpeg's exit and the recording closed. Rejects if the run cannot start;
   * with AgentError `source_unavailable` when the camera's source could not be resolved.
   */
  run(): Promise<RunEnd>;
  /** Stops FFmpeg cleanly, now or as soon as it is spawned; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Makes a run for one encoder; the supervisor's default spawns FFmpeg, a test passes a fake. */
export type RunFactory = (encoder: EncoderCandidate, parent: RunParent) => Run;

/** What one real run is given. */
export interface PipelineRunDeps extends RunSetup {
  encoder: EncoderCandidate;
  parent: RunParent;
  timing: SupervisorTiming;
  clock: PipelineClock;
  /** The camera's clock-step tracker, shared by its runs. */
  clockSteps: ClockSteps;
  hlsDir: string;
}

const CLOCK_JUMPED = 'the wall clock jumped: restarting on the new timeline';
const CODE_OF: Record<FailureKind, PipelineExitCode> = {
  source: 'source_unavailable',
  encoder: 'encoder_failed',
  other: 'pipeline_exit',
};

/**
 * One FFmpeg run (mediamtx's recorder instance): opens the capture, plans the wall-clock
 * timeline, starts FFmpeg and its producer, watches for stalls and clock steps, and closes the
 * recording when FFmpeg exits. The steps are numbered in this folder's README.
 */
export class PipelineRun implements Run {
  private proc: FfmpegProcess | null = null;
  private stopAsked = false;

  constructor(private readonly deps: PipelineRunDeps) {}

  async run(): Promise<RunEnd> {
    const capture = await this.openCapture();
    if (capture.prepare) this.deps.log.info({ prepared: await capture.prepare() }, 'capture prepared');
    const { recording, baseMs, offsetSeconds, planSkew } = await this.planRecording(capture);
    await this.resetHlsDir();
    const args = this.args(capture, recording.dir, baseMs, offsetSeconds);
    const proc = new FfmpegProcess({
      ffmpegPath: this.deps.ffmpegPath ?? 'ffmpeg',
      args,
      workDir: recording.dir,
      motion: Boolean(this.deps.motion),
      live: Boolean(this.deps.live),
      ...(capture.producer ? { producer: capture.producer } : {}),
    });
    this.deps.log.debug({ args }, 'ffmpeg command');
    return this.watch(proc, recording, capture, planSkew);
  }

  async stop(): Promise<void> {
    this.stopAsked = true;
    await this.proc?.stop(this.deps.timing.stopGraceMs);
  }

  /** The capture for this run's encoder; the device layer's description loses its secrets here. */
  private async openCapture(): Promise<CaptureInput> {
    const { camera, encoder } = this.deps;
    const resolved = await this.deps.resolveCapture(camera, encoder).catch((error: unknown) => {
      // Whatever the device layer threw, a source that cannot be resolved is a missing camera to the loop.
      const message = redactSecrets(error instanceof Error ? error.message : String(error));
      throw new AgentError('source_unavailable', message, { cause: error });
    });
    // The device layer describes the source as configured; from here on it reaches logs and events.
    return { ...resolved, description: redactSecrets(resolved.description) };
  }

  /** Plans the run's wall-clock timeline and creates its partial recording folder. */
  private async planRecording(capture: CaptureInput) {
    const { camera, config, log, clock, clockSteps } = this.deps;
    // A step since the last run is simply the timeline this run is planned on; one after this
    // point (while the run is being prepared) is caught by watch() against planSkew.
    if (clockSteps.stepped()) log.warn(CLOCK_JUMPED);
    const spawnWall = clock.now();
    const planSkew = spawnWall - clock.monotonic();
    const baseMs = boundaryAtOrBefore(spawnWall, config.archive.segmentSeconds);
    // Whole frames: then frame times, not just keyframes, land exactly on wall-clock boundaries.
    const offsetSeconds = Math.round(((spawnWall - baseMs) / 1000) * camera.fps) / camera.fps;
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
      runId: `${spawnWall}-${process.pid}`,
      log,
      onFinished: (finished) => this.deps.parent.finished(finished),
      clockSynced: this.deps.clockSynced,
    });
    await recording.prepare();
    return { recording, baseMs, offsetSeconds, planSkew };
  }

  private async watch(
    proc: FfmpegProcess,
    recording: RecordingRun,
    capture: CaptureInput,
    planSkew: number,
  ): Promise<RunEnd> {
    const { parent, timing, clock, log } = this.deps;
    parent.spawning();
    const startedAt = clock.now();
    let frames = 0;
    let lastFrameAt: number | null = null;
    let stalled = false;
    let jumped = false;
    proc.on('progress', (progress: FfmpegProgress) => {
      if (progress.frame > frames) lastFrameAt = clock.now();
      frames = progress.frame;
      parent.progress(progress);
    });
    this.proc = proc;
    await proc.start();
    // A stop or restart asked for while this run was being prepared found no process to stop.
    if (this.stopAsked) void proc.stop(timing.stopGraceMs);
    parent.started({ pid: proc.pid, encoder: this.deps.encoder.name, source: capture.description });
    if (this.deps.motion && proc.motionStream) this.deps.motion.attach(proc.motionStream);
    if (this.deps.live && proc.liveStream) this.deps.live.attach(proc.liveStream);
    // FFmpeg stamps frames with the clock as it is now, against a timeline planned with planSkew.
    const checkClock = () => {
      if (jumped || !this.deps.clockSteps.stepped(planSkew)) return;
      jumped = true;
      log.warn(CLOCK_JUMPED);
      void proc.stop(timing.stopGraceMs);
    };
    checkClock();
    const ticker = setInterval(() => {
      void recording.poll();
      const since = lastFrameAt ?? startedAt + timing.startGraceSeconds * 1000;
      if (!stalled && clock.now() - since > timing.stallSeconds * 1000) {
        stalled = true;
        log.warn({ seconds: timing.stallSeconds }, 'no new frame: killing the stuck pipeline');
        proc.kill();
      }
      checkClock();
    }, 1000);
    const exit = await proc.exited();
    clearInterval(ticker);
    this.proc = null;
    parent.exited();
    await recording.close((this.stopAsked || jumped) && exit.signal !== 'SIGKILL');
    return { error: this.exitError(exit, stalled, frames, startedAt), clockJumped: jumped };
  }

  /** FFmpeg's end as the typed error the supervisor decides on. */
  private exitError(exit: FfmpegRunExit, stalled: boolean, frames: number, startedAt: number): PipelineExitError {
    const { camera, timing, clock } = this.deps;
    const stderr = [exit.stderrTail, exit.producerStderrTail].filter(Boolean).join('\n');
    const fields = {
      camera: camera.id,
      exitCode: exit.code,
      signal: exit.signal,
      // FFmpeg names the input URL in its errors, credentials included.
      stderrTail: redactSecrets(stderr).slice(-4096),
      runSeconds: (clock.now() - startedAt) / 1000,
    };
    if (stalled)
      return new PipelineExitError(fields, `stalled: no frame for ${timing.stallSeconds} s`, 'pipeline_stalled');
    return new PipelineExitError(fields, redactSecrets(lastErrorLine(exit)), CODE_OF[classifyExit(exit, frames)]);
  }

  private args(capture: CaptureInput, recordingDir: string, baseMs: number, offsetSeconds: number): string[] {
    const { camera, config, encoder, motion } = this.deps;
    return buildPipelineArgs({
      capture,
      encoder: capture.encoded ? null : ffmpegEncoderArgs(encoder.name, encodeSettings(config, camera)),
      keyframeSeconds: config.hls.segmentSeconds,
      timeline: { baseSeconds: baseMs / 1000, offsetSeconds },
      hls: { dir: this.deps.hlsDir, segmentSeconds: config.hls.segmentSeconds, listSize: config.hls.listSize },
      recording: { dir: recordingDir, segmentSeconds: config.archive.segmentSeconds },
      ...(motion ? { motion: { width: motion.width, height: motion.height, fps: motion.fps } } : {}),
      live: Boolean(this.deps.live),
    });
  }

  /**
   * Removes the last run's segments and playlist, and nothing else: hls.dir can be set over MQTT,
   * and a reset that emptied whatever folder it names once wiped a whole dataDir.
   */
  private async resetHlsDir(): Promise<void> {
    const { hlsDir } = this.deps;
    await mkdir(hlsDir, { recursive: true });
    for (const name of await readdir(hlsDir)) {
      if (isHlsOutput(name)) await rm(path.join(hlsDir, name), { force: true });
    }
  }
}
