/** The long system runs (npm run reliability): 90 s on a full disk, clock jumps with 3 archives per phase. */
import t from 'tap';
import { clockJumps } from './scenarios/clockJump.js';
import { diskFilling } from './scenarios/diskFull.js';

t.setTimeout(20 * 60_000);
t.test('disk filling for 90 s past the first prune', (t) => diskFilling(t, { seconds: 90, mode: 'long' }));
t.test('clock jumps forward an hour and back, 3 archives per phase', (t) =>
  clockJumps(t, { archivesPerPhase: 3, mode: 'long' }),
);
