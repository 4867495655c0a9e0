/**
 * The CI versions of the pipeline fault scenarios (test/reliability/faults.test.ts runs them
 * longer): FFmpeg killed, the capture producer killed, the camera source going away and back, SIGTERM mid-finalisation.
 */
import t from 'tap';
import { ffmpegKills } from '../reliability/scenarios/ffmpegKills.js';
import { producerKills } from '../reliability/scenarios/producer.js';
import { sigtermDuringFinish } from '../reliability/scenarios/sigterm.js';
import { urlSourceOutage, vanishingSource } from '../reliability/scenarios/sources.js';

t.test('FFmpeg killed twice: recovered archives, gaps within the restart time', (t) => ffmpegKills(t, { kills: 2, everyMs: 8000, mode: 'ci' }));
t.test('capture producer killed twice, then FFmpeg under it: lost, found, nothing orphaned', (t) => producerKills(t, { kills: 2, everyMs: 8000, mode: 'ci' }));
t.test('HTTP camera stopped and restarted: lost, found, recording resumes', (t) => urlSourceOutage(t, { cycles: 1, downMs: 5000, mode: 'ci' }));
t.test('camera file vanishes and returns: lost, found, recording resumes', (t) => vanishingSource(t, { cycles: 1, downMs: 4000, mode: 'ci' }));
t.test('SIGTERM during archive finalisation: exit 0, archives complete', (t) => sigtermDuringFinish(t, { times: 1, mode: 'ci' }));
