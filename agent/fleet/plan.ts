/**
 * A roll-out's stages: `--stages 1,10%,50%,100%` names how many boards have had the release once
 * each stage is through (a count or a share of the fleet, cumulative). The first is the canary.
 */

/** One stage as written: a count of boards, or a percentage of the fleet. */
export type StageSpec = { count: number } | { percent: number };

/** Parses `1,10%,50%,100%`; throws naming the bad part. */
export function parseStages(text: string): StageSpec[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error('--stages needs at least one stage, e.g. 1,10%,50%,100%');
  return parts.map((part) => {
    const percent = /^(\d{1,3}(?:\.\d+)?)%$/.exec(part);
    if (percent) {
      const value = Number(percent[1]);
      if (value <= 0 || value > 100) throw new Error(`--stages: ${part} is not a share between 0 and 100 %`);
      return { percent: value };
    }
    if (/^\d{1,6}$/.test(part) && Number(part) > 0) return { count: Number(part) };
    throw new Error(`--stages: ${JSON.stringify(part)} is neither a count of boards nor a percentage`);
  });
}

/**
 * Splits `devices` (in their given order) into stages: stage i holds the boards that bring the
 * total to its target. Targets never go down; stages that add nobody are left out. A last target
 * under 100 % leaves the rest of the fleet out of this roll-out on purpose.
 */
export function planStages(devices: readonly string[], specs: readonly StageSpec[]): string[][] {
  const stages: string[][] = [];
  let done = 0;
  for (const spec of specs) {
    const target = 'count' in spec ? spec.count : Math.ceil((spec.percent / 100) * devices.length);
    const upTo = Math.min(devices.length, Math.max(done, target));
    if (upTo > done) stages.push(devices.slice(done, upTo));
    done = upTo;
  }
  return stages;
}

/** True when the failures so far say stop: at least `min` boards finished and `percent` % or more of them failed. */
export function shouldAbort(finished: number, failed: number, rule: { percent: number; min: number }): boolean {
  return finished >= rule.min && finished > 0 && (failed / finished) * 100 >= rule.percent;
}
