import path from 'node:path';
import type { EncoderCandidate } from '../../device/types.js';
import type { AgentConfig } from '../config/types.js';
import { recoverPartialRecordings, type Finished } from '../archive/recorder.js';
import { AgentError } from '../contract/errors.js';
import type { CameraStats, PipelineState } from '../contract/services.js';
import { Backoff } from '../util/backoff.js';
import type { EventBus } from '../util/bus.js';
import { redactSecrets } from '../util/redact.js';
import { FrameCounters } from './frameCounters.js';
import { PipelineRun, type Run, type RunEnd, type RunFactory, type RunParent, type RunSetup } from './pipelineRun.js';
import type { FfmpegProgress } from './progress.js';
import { ClockSteps, systemPipelineClock, type PipelineClock } from './runClock.js';
import { DEFAULT_TIMING, livenessBoundSeconds, type SupervisorTiming } from './timing.js';

/**
 * Everything one camera's supervisor is given. It reads the running config through a getter,
 * like every module; each run is built from the config of its start.
 */
export interface CameraSupervisorDeps extends Omit<RunSetup, 'config'> {
  config: () => AgentConfig;
  bus: EventBus;
  /** Where the one encode can happen, best first; the last is libx264. */
  encoders: EncoderCandidate[];
  timing?: Partial<SupervisorTiming>;
  /** Wall clock, monotonic clock and timers: the real ones unless a test drives time. */
  clock?: PipelineClock;
  /** Makes each run: a real FFmpeg run unless a test passes fakes. */
  startRun?: RunFactory;
}

/** What the loop does after a run: why it restarts, and whether it waits out the backoff first. */
interface Outcome {
  reason: string;
  delay: boolean;
}

/**
 * One camera's pipeline (mediamtx's recorder): runs one PipelineRun after another, decides after
 * each why it ended (fall back an encoder, mark the camera lost, back off or not), and keeps the
 * camera's figures. Never throws upward. The decisions are listed in this folder's README.
 */
export class CameraSupervisor {
  private readonly timing: SupervisorTiming;
  private readonly backoff: Backoff;
  private readonly clock: PipelineClock;
  private readonly startRun: RunFactory;
  private readonly counters = new FrameCounters();
  private state: PipelineState = 'stopped';
  private encoderIndex = 0;
  private restarts = 0;
  private current: Run | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private restartReason: string | null = null;
  private wake: (() => void) | null = null;
  /** Monotonic time of the supervisor's last progress: a frame, a start or a restart decision. */
  private lastProgressAt: number;
  private recordingSince: string | null = null;
  private lastError: string | null = null;
  private cameraLost = false;
  /** The source as the current run opened it, secrets hidden. */
  private runSource = '';
  private firstAttempt: Promise<void> = Promise.resolve();
  private attempted: () => void = () => undefined;
  /** How each run reports to the loop. */
  private readonly parent: RunParent = {
    spawning: () => {
      this.counters.newRun();
      this.attempted();
    },
    started: ({ pid, encoder, source }) => {
      this.runSource = source;
      this.deps.bus.emit('pipeline.started', { camera: this.deps.camera.id, encoder, source, pid: pid ?? 0 });
      this.deps.log.info(
        { pid, encoder, source, hls: this.hlsDir, archive: this.deps.config().archive.dir },
        'pipeline started',
      );
    },
    progress: (progress) => this.progress(progress),
    exited: () => {
      this.recordingSince = null;
      this.state = this.stopping ? 'stopped' : 'restarting';
    },
    finished: (finished) => this.announce(finished),
  };

  constructor(private readonly deps: CameraSupervisorDeps) {
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
    this.backoff = new Backoff({ initialMs: this.timing.backoffInitialMs, maxMs: this.timing.backoffMaxMs });
    const clock = deps.clock ?? systemPipelineClock;
    this.clock = clock;
    this.lastProgressAt = clock.monotonic();
    const clockSteps = new ClockSteps(clock, this.timing.clockJumpSeconds * 1000);
    this.startRun =
      deps.startRun ??
      ((encoder, parent) =>
        new PipelineRun({
          ...deps,
          config: deps.config(),
          encoder,
          parent,
          timing: this.timing,
          clock,
          clockSteps,
          hlsDir: this.hlsDir,
        }));
  }

  /** The camera's HLS folder. */
  get hlsDir(): string {
    return path.join(this.deps.config().hls.dir, this.deps.camera.id);
  }

  /** Recovers what an earlier run left half-written, then starts supervising. */
  async start(): Promise<void> {
    this.stopping = false;
    this.firstAttempt = new Promise((resolve) => (this.attempted = resolve));
    await recoverPartialRecordings({
      archiveRoot: this.deps.config().archive.dir,
      camera: this.deps.camera.id,
      log: this.deps.log,
      onFinished: (finished) => this.announce(finished),
    });
    this.running = this.loop();
  }

  /**
   * Settles once the first run since start() has spawned FFmpeg, or ended without it, or the
   * camera was stopped: how long start-up's other modules wait for it (README "Start-up", step 3).
   */
  underWay(): Promise<void> {
    return this.firstAttempt;
  }

  /** Stops FFmpeg cleanly and finishes the archive being written. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.attempted();
    this.wake?.();
    await this.current?.stop();
    await this.running;
    this.state = 'stopped';
  }

  /** Restarts the run now (no backoff), e.g. on a management command. */
  async restart(reason: string): Promise<void> {
    this.restartReason = reason;
    this.wake?.();
    await this.current?.stop();
  }

  /** The figures health and status report. */
  stats(): CameraStats {
    const { counters } = this;
    return {
      camera: this.deps.camera.id,
      state: this.state,
      encoder: this.deps.encoders[this.encoderIndex]?.name ?? null,
      // R/health and /api/status carry this: an IP camera's password must not (issue 15).
      source: redactSecrets(this.deps.camera.source),
      fps: this.state === 'running' ? counters.fps : 0,
      droppedFrames: counters.dropped,
      framesTotal: counters.framesTotal,
      droppedFramesTotal: counters.droppedTotal,
      restarts: this.restarts,
      lastFrameAgeSeconds: counters.lastFrameAt === null ? null : (this.clock.now() - counters.lastFrameAt) / 1000,
      recordingSince: this.recordingSince,
      lastError: this.lastError,
      supervised:
        this.state !== 'stopped' &&
        (this.clock.monotonic() - this.lastProgressAt) / 1000 < livenessBoundSeconds(this.timing),
    };
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const outcome = await this.runOnce().catch((error: unknown) => this.startFailed(error));
      this.attempted();
      this.current = null;
      if (this.stopping) break;
      this.restarts += 1;
      this.lastProgressAt = this.clock.monotonic();
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
    const { clock } = this;
    return new Promise((resolve) => {
      const timer = clock.setTimeout(done, ms);
      function done(): void {
        clock.clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One run from start to exit; says why it ended and whether to back off. */
  private async runOnce(): Promise<Outcome> {
    // A restart asked for while waiting out a backoff is served by this very start.
    this.restartReason = null;
    this.state = 'starting';
    this.lastProgressAt = this.clock.monotonic();
    const run = this.startRun(this.deps.encoders[this.encoderIndex]!, this.parent);
    this.current = run;
    const end = await run.run();
    const { firstFrameAt } = this.counters;
    if (firstFrameAt !== null && this.clock.now() - firstFrameAt > this.timing.healthyAfterSeconds * 1000)
      this.backoff.reset();
    return this.decide(end);
  }

  private startFailed(error: unknown): Outcome {
    const message = redactSecrets(error instanceof Error ? error.message : String(error));
    if (error instanceof AgentError && error.code === 'source_unavailable') this.markLost(message);
    this.lastError = message;
    this.deps.log.error({ err: error }, 'pipeline run failed to start');
    return { reason: message, delay: true };
  }

  private decide({ error, clockJumped }: RunEnd): Outcome {
    if (this.restartReason !== null) {
      const reason = this.restartReason;
      this.restartReason = null;
      return { reason, delay: false };
    }
    if (clockJumped) return { reason: 'wall clock jumped', delay: false };
    this.lastError = error.message;
    if (this.stopping) return { reason: 'stopping', delay: false };
    if (error.code === 'encoder_failed' && this.encoderIndex < this.deps.encoders.length - 1)
      return this.fallBack(error.message);
    if (error.code === 'pipeline_stalled' || error.code === 'source_unavailable')
      this.markLost(error.message, this.runSource);
    return { reason: error.message, delay: true };
  }

  private fallBack(detail: string): Outcome {
    const from = this.deps.encoders[this.encoderIndex]!.name;
    this.encoderIndex += 1;
    const to = this.deps.encoders[this.encoderIndex]!.name;
    this.deps.bus.emit('encoder.fallback', { camera: this.deps.camera.id, from, to, reason: detail });
    this.deps.log.warn({ from, to, reason: detail }, 'encoder failed: falling back one step');
    return { reason: `encoder ${from} failed: ${detail}`, delay: false };
  }

  private progress(progress: FfmpegProgress): void {
    const seen = this.counters.add(progress, this.clock.now());
    if (seen === null) return;
    this.lastProgressAt = this.clock.monotonic();
    if (seen === 'first') this.firstFrame();
  }

  private firstFrame(): void {
    this.state = 'running';
    this.recordingSince = new Date(this.clock.now()).toISOString();
    if (this.cameraLost) {
      this.cameraLost = false;
      this.deps.bus.emit('camera.found', { camera: this.deps.camera.id, source: this.runSource });
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
      this.deps.log.info(
        { file: info.file, start: info.start, seconds: info.seconds, bytes: info.bytes },
        'archive finished',
      );
    }
  }
}
