/**
 * The CI version of the disk-filling scenario (test/reliability/system.test.ts runs it longer).
 * The clock jumps have a file of their own: together the two passed the 240-s per-file limit on
 * a loaded machine (the suite next to stress-ng --cpu 1).
 */
import t from 'tap';
import { diskFilling } from '../reliability/scenarios/diskFull.js';

t.test('disk filling: oldest archives pruned, recording continues', (t) => diskFilling(t, { seconds: 12, mode: 'ci' }));
