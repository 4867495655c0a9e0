/**
 * The CI versions of the camera source fault scenarios (test/reliability/faults.test.ts runs them
 * longer): an HTTP camera and a camera file going away and coming back.
 */
import t from 'tap';
import { urlSourceOutage, vanishingSource } from '../reliability/scenarios/sources.js';

t.test('HTTP camera stopped and restarted: lost, found, recording resumes', (t) =>
  urlSourceOutage(t, { cycles: 1, downMs: 5000, mode: 'ci' }),
);
t.test('camera file vanishes and returns: lost, found, recording resumes', (t) =>
  vanishingSource(t, { cycles: 1, downMs: 4000, mode: 'ci' }),
);
