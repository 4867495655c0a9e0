/**
 * The CI versions of the pipeline's kill scenarios (test/reliability/faults.test.ts runs them
 * longer): FFmpeg killed, the capture producer killed, SIGTERM mid-finalisation. The camera
 * source scenarios are reliability-faults-sources.test.ts.
 */
import t from 'tap';
import { ffmpegKills } from '../reliability/scenarios/ffmpegKills.js';
import { producerKills } from '../reliability/scenarios/producer.js';
import { sigtermDuringFinish } from '../reliability/scenarios/sigterm.js';

t.test('FFmpeg killed twice: recovered archives, gaps within the restart time', (t) =>
  ffmpegKills(t, { kills: 2, everyMs: 8000, mode: 'ci' }),
);
t.test('capture producer killed twice, then FFmpeg under it: lost, found, nothing orphaned', (t) =>
  producerKills(t, { kills: 2, everyMs: 8000, mode: 'ci' }),
);
t.test('SIGTERM during archive finalisation: exit 0, archives complete', (t) =>
  sigtermDuringFinish(t, { times: 1, mode: 'ci' }),
);
