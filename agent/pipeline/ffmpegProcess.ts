import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ProducerCommand } from '../../device/types.js';
import { SupervisedChild, type ChildExit } from './childProcess.js';
import { ProgressParser, type FfmpegProgress } from './progress.js';
import { childEnv } from '../util/childEnv.js';
import { runChecked } from '../util/run.js';

/** What one running pipeline needs to start. */
export interface FfmpegRunOptions {
  ffmpegPath: string;
  args: string[];
  producer?: ProducerCommand;
  /** Where the named pipe between producer and FFmpeg is made. */
  workDir: string;
  /** Open fd 3 for the motion frames. */
  motion?: boolean;
  /** Open fd 4 for the live view's fragmented MP4. */
  live?: boolean;
}

/** How a run ended: FFmpeg's exit, the producer's (if any), and the stderr tails. */
export interface FfmpegRunExit extends ChildExit {
  producer?: ChildExit;
  /** The producer ended before FFmpeg: the camera side went away, FFmpeg only saw its input end. */
  producerEndedFirst?: boolean;
  stderrTail: string;
  producerStderrTail?: string;
}

/**
 * One run of FFmpeg (and its capture producer): spawns them joined by a named pipe, parses
 * progress, and stops them cleanly. Emits 'progress' (FfmpegProgress) and 'exit' (FfmpegRunExit).
 */
export class FfmpegProcess extends EventEmitter {
  private ffmpeg: SupervisedChild | null = null;
  private producer: SupervisedChild | null = null;
  private exitInfo: Promise<FfmpegRunExit> | null = null;

  constructor(private readonly options: FfmpegRunOptions) {
    super();
  }

  /** Process id of FFmpeg (its process group id too). */
  get pid(): number | undefined {
    return this.ffmpeg?.pid;
  }

  /** The motion frame stream (fd 3), when asked for. */
  get motionStream(): NodeJS.ReadableStream | null {
    return (this.ffmpeg?.process.stdio[3] as NodeJS.ReadableStream | undefined) ?? null;
  }

  /** The live view's fragmented MP4 stream (fd 4), when asked for. */
  get liveStream(): NodeJS.ReadableStream | null {
    return (this.ffmpeg?.process.stdio[4] as NodeJS.ReadableStream | undefined) ?? null;
  }

  /** Spawns the producer (if any) and FFmpeg; resolves once both are running. */
  async start(): Promise<void> {
    const { producer, workDir } = this.options;
    let fifo: string | undefined;
    if (producer) {
      fifo = path.join(workDir, 'capture.fifo');
      await rm(fifo, { force: true });
      await runChecked('mkfifo', ['-m', '600', fifo], { timeoutMs: 5000 });
      this.producer = new SupervisedChild({ command: producer.command, args: producer.args, stdoutPath: fifo });
    }
    const ffmpeg = new SupervisedChild({
      command: this.options.ffmpegPath,
      args: this.options.args,
      stdinPath: fifo,
      extraPipe: this.options.motion,
      livePipe: this.options.live,
      // FFmpeg's wall-clock segment cuts count from local midnight; archives are cut in UTC.
      env: childEnv({ TZ: 'UTC' }),
    });
    this.ffmpeg = ffmpeg;
    const parser = new ProgressParser();
    ffmpeg.process.stdout?.setEncoding('utf8');
    ffmpeg.process.stdout?.on('data', (chunk: string) => {
      for (const block of parser.push(chunk)) this.emit('progress', block satisfies FfmpegProgress);
    });
    this.exitInfo = this.watchExit(ffmpeg, this.producer);
    void this.exitInfo.then((info) => this.emit('exit', info));
  }

  private async watchExit(ffmpeg: SupervisedChild, producer: SupervisedChild | null): Promise<FfmpegRunExit> {
    // Whichever of the two ends first, the other cannot go on alone.
    let producerEndedFirst = false;
    if (producer) {
      const producerExit = await Promise.race([producer.exited, ffmpeg.exited.then(() => null)]);
      if (producerExit === null) void producer.stop(2000, 'SIGTERM');
      else producerEndedFirst = true;
    }
    const ffmpegExit = await ffmpeg.exited;
    const producerExit = producer ? await producer.exited : undefined;
    return {
      ...ffmpegExit,
      stderrTail: ffmpeg.stderrTail(),
      ...(producer ? { producer: producerExit, producerEndedFirst, producerStderrTail: producer.stderrTail() } : {}),
    };
  }

  /** Stops cleanly: SIGINT so FFmpeg closes its files, SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<FfmpegRunExit | null> {
    if (!this.ffmpeg || !this.exitInfo) return null;
    await Promise.all([this.ffmpeg.stop(graceMs), this.producer?.stop(graceMs, 'SIGTERM')]);
    return this.exitInfo;
  }

  /** Kills FFmpeg and its producer at once (a stall: SIGINT would not be heard). */
  kill(): void {
    this.ffmpeg?.killGroup();
    this.producer?.killGroup();
  }

  /** Resolves when the run has ended. */
  async exited(): Promise<FfmpegRunExit> {
    if (!this.exitInfo) throw new Error('ffmpeg process was never started');
    return this.exitInfo;
  }
}
