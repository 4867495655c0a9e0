/** Random `R/config/desired` sets: valid edits, invalid values, unknown keys, restart-only keys and bricks. */
import type { Prng } from '../reliability/lib/prng.js';

/** What one random set is expected to do, when known in advance. */
export type Expect = 'valid' | 'invalid' | 'brick';

/** One random `set` object and what it should lead to. */
export interface RandomSet {
  set: Record<string, unknown>;
  expect: Expect;
}

const VALID: Array<(r: Prng) => [string, unknown]> = [
  (r) => ['encoder.bitrateKbps', r.int(200, 900)],
  (r) => ['hls.listSize', r.int(3, 10)],
  (r) => ['archive.maxAgeHours', r.int(1, 500)],
  (r) => ['archive.minFreePercent', r.int(5, 10)], // 5: the remote floor (config/remote.ts)
  (r) => ['mqtt.healthIntervalSeconds', r.int(5, 120)],
  (r) => ['analysis.maxPerDay', r.int(0, 500)],
  (r) => ['cameras[0].fps', r.int(5, 15)],
];

const INVALID: Array<(r: Prng) => [string, unknown]> = [
  () => ['encoder.bitrateKbps', 'fast'],
  (r) => ['hls.listSize', -r.int(0, 5)],
  () => ['cameras[0].fps', 0],
  () => ['no.such.key', 1],
  () => ['__proto__.polluted', true],
  () => ['dataDir', '/elsewhere'],
  () => ['device.id', 'renamed'],
  () => ['archive.dir', '/tmp/other-archive'],
  () => ['http.listen', 'not a host'],
  () => ['cameras', 'none'],
  () => ['mqtt.url', 'ftp://nowhere'],
];

/**
 * One random set. `bricks` are keys that validate but fail the health gate (a dead broker,
 * a missing camera device); they are rare, since each costs a gate deadline.
 */
export function randomSet(r: Prng, bricks: Array<[string, unknown]>): RandomSet {
  const roll = r.int(0, 99);
  const set: Record<string, unknown> = {};
  if (roll < 4 && bricks.length > 0) {
    const [key, value] = bricks[r.int(0, bricks.length - 1)]!;
    set[key] = value;
    return { set, expect: 'brick' };
  }
  for (let i = r.int(1, 3); i > 0; i -= 1) {
    const [key, value] = VALID[r.int(0, VALID.length - 1)]!(r);
    set[key] = value;
  }
  if (roll < 40) {
    const [key, value] = INVALID[r.int(0, INVALID.length - 1)]!(r);
    set[key] = value;
    return { set, expect: 'invalid' };
  }
  return { set, expect: 'valid' };
}
