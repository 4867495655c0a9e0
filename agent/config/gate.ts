/** The health gate of a config change: every check must pass at once before the deadline. */

/** One condition: null when it holds, else why not (the reason a revert reports). */
export type GateCheck = () => Promise<string | null> | string | null;

/**
 * Polls the checks until all pass together (null) or the deadline passes (the last reasons).
 * A check that throws counts as failing with its message.
 */
export async function runGate(
  checks: GateCheck[],
  deadlineMs: number,
  pollMs = 200,
  abort: () => boolean = () => false,
): Promise<string | null> {
  // Monotonic: a clock step (NTP after boot) must not end the gate early or stretch it.
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const reasons: string[] = [];
    for (const check of checks) {
      const reason = await Promise.resolve()
        .then(check)
        .catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
      if (reason !== null) reasons.push(reason);
    }
    if (reasons.length === 0) return null;
    if (abort()) return `the agent is stopping: ${reasons.join('; ')}`;
    if (performance.now() >= deadline)
      return `not healthy within ${Math.round(deadlineMs / 1000)} s: ${reasons.join('; ')}`;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - performance.now()))));
  }
}
