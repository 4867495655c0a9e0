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

/** The timing a board runs with. */
export const DEFAULT_TIMING: SupervisorTiming = {
  stallSeconds: 10,
  startGraceSeconds: 20,
  backoffInitialMs: 1000,
  backoffMaxMs: 30_000,
  healthyAfterSeconds: 10,
  clockJumpSeconds: 2,
  stopGraceMs: 8000,
};
