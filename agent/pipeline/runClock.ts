import { performance } from 'node:perf_hooks';
import { systemClock, type Clock } from '../util/clock.js';

/** The clocks a supervisor reads: the wall clock and timers, and a monotonic clock no NTP step moves. */
export interface PipelineClock extends Clock {
  /** Milliseconds on a clock that only moves forward. */
  monotonic(): number;
}

/** The real clocks. */
export const systemPipelineClock: PipelineClock = { ...systemClock, monotonic: () => performance.now() };

/**
 * Wall clock less monotonic clock as last noted: a change is a clock step (NTP, a board without
 * RTC). One per camera, kept across its runs, so a step during a restart is noticed too.
 */
export class ClockSteps {
  private skewMs: number;

  constructor(
    private readonly clock: PipelineClock,
    private readonly toleranceMs: number,
  ) {
    this.skewMs = clock.now() - clock.monotonic();
  }

  /** Whether the wall clock stepped away from `fromSkewMs` (by default the last noted skew); a step is noted. */
  stepped(fromSkewMs = this.skewMs): boolean {
    const skew = this.clock.now() - this.clock.monotonic();
    if (Math.abs(skew - fromSkewMs) <= this.toleranceMs) return false;
    this.skewMs = skew;
    return true;
  }
}
