import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { finishRecording, splitPoints } from '../../../agent/archive/finisher.js';
import { decodeErrors, duration, keyframeTimes } from '../../helpers/media.js';

t.test('splitPoints: the boundaries strictly inside a partial', async (t) => {
  const cases: Array<[string, number, number, number | undefined, number[]]> = [
    ['no archive length: never split', 1_000, 30, undefined, []],
    ['inside one period', 4_000, 3.9, 4, []],
    ['starts a frame after a boundary', 4_033, 3.967, 4, []],
    ['ends a frame before a boundary', 4_000, 3.95, 4, []],
    ['spans one boundary', 2_000, 4, 4, [4_000]],
    ['spans two', 1_000, 10, 4, [4_000, 8_000]],
    ['no duration known', 1_000, 0, 4, []],
  ];
  for (const [name, start, seconds, segment, want] of cases) t.same(splitPoints(start, seconds, segment), want, name);
});

t.test('a partial that spans boundaries becomes one archive per period, cut on the keyframes there', async (t) => {
  const dir = t.testdir();
  const partial = path.join(dir, 'rec-000000.ts');
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '10'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-force_key_frames', 'expr:gte(t,n_forced*1)', '-f', 'mpegts', partial],
  ]);
  // The partial starts 3 s before a 4-s boundary: archives of 3, 4 and 3 s.
  const startMs = Date.UTC(2026, 10, 25, 10, 0, 1);
  const infos = await finishRecording({ camera: 'cam1', partial, startMs, archiveRoot: dir, clockSynced: true, segmentSeconds: 4 });
  t.same(
    infos.map((i) => path.basename(i.file)),
    ['archive_20261125T100001Z.mp4', 'archive_20261125T100004Z.mp4', 'archive_20261125T100008Z.mp4'],
    'named by each piece start',
  );
  t.same(infos.map((i) => Math.round(i.seconds * 10) / 10), [3, 4, 3], 'each piece lasts up to its boundary');
  for (const info of infos) {
    const file = path.join(dir, info.file);
    t.equal(await decodeErrors(file), '', `${info.file} decodes`);
    t.equal((await keyframeTimes(file))[0], 0, `${info.file} starts on a keyframe`);
    t.ok(Math.abs((await duration(file)) - info.seconds) < 0.01, `${info.file} reports its real length`);
  }
});
