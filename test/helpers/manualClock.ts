import type { Clock } from '../../agent/util/clock.js';

/** A manual clock: timers fire only when advance() passes them. */
export function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let next = 1;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = next++;
      timers.push({ at: now + ms, fn, id });
      return id as unknown as NodeJS.Timeout;
    },
    clearTimeout(handle) {
      timers = timers.filter((x) => x.id !== (handle as unknown as number));
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((x) => x !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}
