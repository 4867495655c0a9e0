/**
 * A CameraSupervisor driven without FFmpeg: a fake clock whose timers fire only when the test
 * moves time, and fake runs that play a script (start, a first frame, an end) on that clock.
 */
import type { CameraConfig } from '../../agent/config/types.js';
import { PipelineExitError, type PipelineExitCode } from '../../agent/contract/errors.js';
import type { AgentEvent, AgentEventType } from '../../agent/contract/events.js';
import type { Run, RunEnd, RunParent } from '../../agent/pipeline/pipelineRun.js';
import type { PipelineClock } from '../../agent/pipeline/runClock.js';
import { CameraSupervisor } from '../../agent/pipeline/supervisor.js';
import type { SupervisorTiming } from '../../agent/pipeline/timing.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';
import { waitFor } from './waitFor.js';
import { supervisorSetup } from './supervisorSetup.js';

/** Wall and monotonic time that move only when the test says; timers fire as time passes them. */
export class FakeClock implements PipelineClock {
  wall = Date.UTC(2025, 5, 1, 12);
  mono = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  now(): number {
    return this.wall;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): NodeJS.Timeout {
    const id = this.nextId++;
    this.timers.set(id, { at: this.mono + ms, fn });
    return id as unknown as NodeJS.Timeout;
  }

  clearTimeout(handle: NodeJS.Timeout): void {
    this.timers.delete(handle as unknown as number);
  }

  /** Moves both clocks on, firing every timer that falls due. */
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
    for (const [id, timer] of [...this.timers].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > this.mono) break;
      this.timers.delete(id);
      timer.fn();
    }
  }

  /** How long until the one pending timer fires, if one is pending. */
  pending(): { ms: number } | null {
    const [timer] = this.timers.values();
    return timer ? { ms: timer.at - this.mono } : null;
  }
}

/** What one fake run does. Without `end` or `failToStart` it runs until stopped or finished by the test. */
export interface Script {
  /** run() rejects with this before anything is spawned. */
  failToStart?: Error;
  /** Milliseconds from spawn to the first progress block with frames; absent: no frame ever. */
  firstFrameAfterMs?: number;
  /** Frames the first progress block reports (15 unless given). */
  frames?: number;
  /** Milliseconds from spawn to the end. */
  lastsMs?: number;
  end?: RunEnd;
}

/** An FFmpeg exit the run typed as `code`. */
export function exit(code: PipelineExitCode, message: string): RunEnd {
  const error = new PipelineExitError(
    { camera: 'cam1', exitCode: 1, signal: null, stderrTail: message, runSeconds: 1 },
    message,
    code,
  );
  return { error, clockJumped: false };
}

/** What an asked-for stop leaves as FFmpeg's last line. */
export const STOPPED_LINE = 'Exiting normally, received signal 2.';

/** A run that plays its script on the fake clock. */
export class FakeRun implements Run {
  started = false;
  ended = false;
  stopsAsked = 0;
  private finish!: (end: RunEnd) => void;
  private readonly finished = new Promise<RunEnd>((resolve) => (this.finish = resolve));

  constructor(
    readonly encoder: string,
    private readonly parent: RunParent,
    private readonly script: Script,
    private readonly clock: FakeClock,
  ) {}

  /** Whether its script leaves it running until it is stopped or ended by the test. */
  get staysUp(): boolean {
    return !this.script.end && !this.script.failToStart;
  }

  async run(): Promise<RunEnd> {
    const { script, parent, clock } = this;
    if (script.failToStart) throw script.failToStart;
    parent.spawning();
    parent.started({ pid: 4242, encoder: this.encoder, source: 'test pattern' });
    this.started = true;
    if (script.firstFrameAfterMs !== undefined) {
      clock.advance(script.firstFrameAfterMs);
      this.progress(script.frames ?? 15);
    }
    if (script.end) {
      clock.advance((script.lastsMs ?? 0) - (script.firstFrameAfterMs ?? 0));
      this.finish(script.end);
    }
    const end = await this.finished;
    this.ended = true;
    parent.exited();
    return end;
  }

  /** One progress block from FFmpeg. */
  progress(frames: number): void {
    this.parent.progress({
      frame: frames,
      fps: 15,
      dropFrames: 1,
      dupFrames: 0,
      outTimeSeconds: frames / 15,
      end: false,
    });
  }

  /** Ends an open run as the test says. */
  end(end: RunEnd): void {
    this.finish(end);
  }

  async stop(): Promise<void> {
    this.stopsAsked += 1;
    this.finish(exit('pipeline_exit', STOPPED_LINE));
  }
}

/** A supervisor over fake runs, the events it sent, and the means to drive it. */
export class World {
  readonly clock = new FakeClock();
  readonly bus = new EventBus(() => new Date(this.clock.now()));
  readonly events: AgentEvent[] = [];
  readonly runs: FakeRun[] = [];
  readonly supervisor: CameraSupervisor;
  stopped = false;

  constructor(
    dir: string,
    private readonly scripts: Script[],
    options: { encoders?: string[]; timing?: Partial<SupervisorTiming>; camera?: Partial<CameraConfig> } = {},
  ) {
    const { camera, config } = supervisorSetup(dir, 4);
    this.bus.onAny((event) => void this.events.push(event));
    this.supervisor = new CameraSupervisor({
      camera: { ...camera, ...options.camera },
      config: () => config,
      bus: this.bus,
      log: silentLogger(),
      encoders: (options.encoders ?? ['h264_v4l2m2m', 'libx264']).map((name) => ({ name, where: 'ffmpeg' as const })),
      resolveCapture: () => Promise.reject(new Error('a fake run resolves no capture')),
      clockSynced: async () => true,
      ...(options.timing ? { timing: options.timing } : {}),
      clock: this.clock,
      startRun: (encoder, parent) => {
        const run = new FakeRun(encoder.name, parent, this.scripts[this.runs.length] ?? {}, this.clock);
        this.runs.push(run);
        return run;
      },
    });
  }

  /** Waits until run `n` (from 1) has been made and, if it starts, has started. */
  async runStarted(n: number): Promise<FakeRun> {
    return waitFor(
      `run ${n}`,
      () => {
        const run = this.runs[n - 1];
        return run && (run.started || this.scripts[n - 1]?.failToStart) ? run : null;
      },
      2000,
      1,
    );
  }

  /** Waits until the loop sleeps before its next run; says for how long. */
  async sleeping(): Promise<number> {
    return (await waitFor('the loop to wait before its next run', () => this.clock.pending(), 2000, 1)).ms;
  }

  /** Plays on (moving time through every wait) until an open run runs, or the supervisor is stopped. */
  async playToOpenRun(): Promise<void> {
    for (;;) {
      const state = await waitFor(
        'an open run or a wait',
        () => {
          if (this.stopped) return 'stopped';
          if (this.clock.pending()) return 'waiting';
          const newest = this.runs.at(-1);
          return newest?.started && !newest.ended ? 'open' : null;
        },
        2000,
        1,
      );
      if (state !== 'waiting') return;
      this.clock.advance(this.clock.pending()!.ms);
    }
  }

  async stop(): Promise<void> {
    await this.supervisor.stop();
    this.stopped = true;
  }
}

const LINE: { [K in AgentEventType]?: (event: AgentEvent<K>) => string } = {
  'pipeline.started': (e) => `started ${e.encoder}`,
  'pipeline.restarted': (e) => `restart #${e.restarts} after ${e.delaySeconds} s: ${e.reason}`,
  'encoder.fallback': (e) => `fallback ${e.from} -> ${e.to}: ${e.reason}`,
  'camera.lost': (e) => `lost ${e.source}: ${e.reason}`,
  'camera.found': (e) => `found ${e.source}`,
};

/** One line per event, to compare against a row's transcript. */
export function transcript(events: AgentEvent[]): string[] {
  return events.map((e) => (LINE[e.type] as ((event: AgentEvent) => string) | undefined)?.(e) ?? e.type);
}
