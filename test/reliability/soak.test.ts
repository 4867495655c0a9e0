/** The long soak: 5 minutes, or 30 with RELIABILITY_LONG=1. */
import t from 'tap';
import { LONG } from './lib/results.js';
import { soak } from './scenarios/soak.js';

const minutes = LONG ? 30 : 5;
t.setTimeout((minutes + 3) * 60_000);
t.test(`soak: two cameras for ${minutes} minutes`, async (t) => {
  t.setTimeout((minutes + 2) * 60_000);
  await soak(t, { durationMs: minutes * 60_000, mode: 'long' });
});
