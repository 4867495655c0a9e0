import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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
    ...[
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-force_key_frames',
      'expr:gte(t,n_forced*1)',
      '-f',
      'mpegts',
      partial,
    ],
  ]);
  // The partial starts 3 s before a 4-s boundary: archives of 3, 4 and 3 s.
  const startMs = Date.UTC(2026, 10, 25, 10, 0, 1);
  const infos = await finishRecording({
    camera: 'cam1',
    partial,
    startMs,
    archiveRoot: dir,
    clockSynced: true,
    segmentSeconds: 4,
  });
  t.same(
    infos.map((i) => path.basename(i.file)),
    ['archive_20261125T100001Z.mp4', 'archive_20261125T100004Z.mp4', 'archive_20261125T100008Z.mp4'],
    'named by each piece start',
  );
  t.same(
    infos.map((i) => Math.round(i.seconds * 10) / 10),
    [3, 4, 3],
    'each piece lasts up to its boundary',
  );
  for (const info of infos) {
    const file = path.join(dir, info.file);
    t.equal(await decodeErrors(file), '', `${info.file} decodes`);
    t.equal((await keyframeTimes(file))[0], 0, `${info.file} starts on a keyframe`);
    t.ok(Math.abs((await duration(file)) - info.seconds) < 0.01, `${info.file} reports its real length`);
  }
});

t.test('a timestamp gap (the clock stepped before the restart) makes no empty archives', async (t) => {
  const dir = t.testdir();
  const partial = path.join(dir, 'rec-000000.ts');
  // 3 s of video, then 2 s more stamped an hour later, as a wall-clock capture sees a clock step.
  const piece = (seconds: number, offset: number, file: string) =>
    execFileSync('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', String(seconds)],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-force_key_frames', 'expr:gte(t,n_forced*1)'],
      ...['-muxdelay', '0', '-muxpreload', '0', '-output_ts_offset', String(offset), '-f', 'mpegts', file],
    ]);
  piece(3, 0, path.join(dir, 'a.ts'));
  piece(2, 3601, path.join(dir, 'b.ts'));
  // MPEG-TS files concatenate byte by byte.
  writeFileSync(partial, Buffer.concat([readFileSync(path.join(dir, 'a.ts')), readFileSync(path.join(dir, 'b.ts'))]));
  const startMs = Date.UTC(2026, 10, 25, 10, 0, 0);
  const infos = await finishRecording({
    camera: 'cam1',
    partial,
    startMs,
    archiveRoot: dir,
    clockSynced: true,
    segmentSeconds: 4,
  });
  t.same(
    infos.map((i) => path.basename(i.file)),
    ['archive_20261125T100000Z.mp4', 'archive_20261125T110001Z.mp4'],
    'one archive before the step, one after',
  );
  t.same(
    infos.map((i) => Math.round(i.seconds)),
    [3, 2],
    'and neither claims the hour between',
  );
});
