/** The CI version of the reliability soak (test/reliability/soak.test.ts runs it for 5 or 30 minutes). */
import t from 'tap';
import { soak } from '../reliability/scenarios/soak.js';

t.test('soak: two cameras for 3 minutes, resources flat, no missing archive, no HLS stall', async (t) => {
  await soak(t, { durationMs: 180_000, mode: 'ci' });
});
