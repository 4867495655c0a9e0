import type { FfmpegProgress } from './progress.js';

/**
 * One camera's frame figures over all its FFmpeg runs. FFmpeg counts from zero at every start,
 * so the totals add what the earlier runs counted.
 */
export class FrameCounters {
  /** Frames of the current run. */
  frames = 0;
  fps = 0;
  /** Frames the current (or last) run dropped. */
  dropped = 0;
  /** Wall-clock time of the newest frame, null until the current run's first. */
  lastFrameAt: number | null = null;
  /** Wall-clock time of the current run's first frame. */
  firstFrameAt: number | null = null;
  private framesBefore = 0;
  private droppedBefore = 0;
  private runDropped = 0;

  /** A run is about to start: its counts begin at zero. */
  newRun(): void {
    this.framesBefore += this.frames;
    this.droppedBefore += this.runDropped;
    this.frames = 0;
    this.runDropped = 0;
    this.lastFrameAt = null;
    this.firstFrameAt = null;
  }

  /** Takes one progress block; says whether it brought the run's first frame, a later one, or none. */
  add(progress: Pick<FfmpegProgress, 'frame' | 'fps' | 'dropFrames'>, now: number): 'first' | 'new' | null {
    let seen: 'first' | 'new' | null = null;
    if (progress.frame > this.frames) {
      this.lastFrameAt = now;
      seen = this.frames === 0 ? 'first' : 'new';
      if (seen === 'first') this.firstFrameAt = now;
    }
    this.frames = progress.frame;
    this.fps = progress.fps;
    this.dropped = progress.dropFrames;
    this.runDropped = progress.dropFrames;
    return seen;
  }

  /** Frames encoded over all runs (a counter). */
  get framesTotal(): number {
    return this.framesBefore + this.frames;
  }

  /** Frames dropped over all runs (a counter). */
  get droppedTotal(): number {
    return this.droppedBefore + this.runDropped;
  }
}
