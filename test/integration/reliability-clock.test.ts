/** The CI version of the clock-jump scenario (test/reliability/system.test.ts runs it longer). */
import t from 'tap';
import { clockJumps } from '../reliability/scenarios/clockJump.js';

t.test('clock jumps forward an hour and back: no archive overwritten or lost', (t) =>
  clockJumps(t, { archivesPerPhase: 2, mode: 'ci' }),
);
