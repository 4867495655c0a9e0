/** The long pipeline fault runs (npm run reliability): FFmpeg and the capture producer killed every 20 s, sources lost and found, SIGTERM mid-finalisation. */
import t from 'tap';
import { ffmpegKills } from './scenarios/ffmpegKills.js';
import { producerKills } from './scenarios/producer.js';
import { sigtermDuringFinish } from './scenarios/sigterm.js';
import { urlSourceOutage, vanishingSource } from './scenarios/sources.js';

t.setTimeout(30 * 60_000);
t.test('FFmpeg killed every 20 s, 10 times', (t) => ffmpegKills(t, { kills: 10, everyMs: 20_000, mode: 'long' }));
t.test('capture producer killed every 20 s, 6 times', (t) =>
  producerKills(t, { kills: 6, everyMs: 20_000, mode: 'long' }),
);
t.test('HTTP camera stopped and restarted 3 times', (t) =>
  urlSourceOutage(t, { cycles: 3, downMs: 10_000, mode: 'long' }),
);
t.test('camera file vanishes and returns 3 times', (t) =>
  vanishingSource(t, { cycles: 3, downMs: 8000, mode: 'long' }),
);
t.test('SIGTERM during archive finalisation, 6 times', (t) => sigtermDuringFinish(t, { times: 6, mode: 'long' }));
