/** The one deadline poll of the tests: every wait on a condition goes through waitFor. */

/**
 * Polls `check` every `everyMs` until it returns a truthy value, and returns that value; throws
 * "timed out after <n> ms waiting for <what>" once `timeoutMs` has passed. An error thrown by
 * `check` ends the wait at once (a process that died will not come back). `what` may be a
 * function, so the message can show the state at the deadline (an inbox, a process's stderr).
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<NonNullable<T>> {
  // Monotonic: some tests step the wall clock.
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
