/** The CI versions of the disk-filling and clock-jump scenarios (test/reliability/system.test.ts runs them longer). */
import t from 'tap';
import { clockJumps } from '../reliability/scenarios/clockJump.js';
import { diskFilling } from '../reliability/scenarios/diskFull.js';

t.test('disk filling: oldest archives pruned, recording continues', (t) => diskFilling(t, { seconds: 12, mode: 'ci' }));
t.test('clock jumps forward an hour and back: no archive overwritten or lost', (t) => clockJumps(t, { archivesPerPhase: 2, mode: 'ci' }));
