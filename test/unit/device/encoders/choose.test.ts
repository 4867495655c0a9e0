import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { verdictKey } from '../../../../device/encoders/cache.js';
import { chooseEncoders } from '../../../../device/encoders/choose.js';
import type { CommandRunner, RunResult } from '../../../../agent/util/run.js';
import type { BoardInfo, EncoderCandidate } from '../../../../device/types.js';

const BOARD: BoardInfo = { family: 'generic', model: 'Test PC', kernel: '6.1.0-test' };
const S = { width: 320, height: 240, fps: 30, bitrateKbps: 500, keyframeSeconds: 1 };
const LADDER: EncoderCandidate[] = [
  { name: 'h264_qsv', where: 'ffmpeg' },
  { name: 'h264_fake', where: 'ffmpeg' },
  { name: 'libx264', where: 'ffmpeg' },
];
const VERSION = 'ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers';

/** A fake FFmpeg: `-version` answers, every encode fails with an encoder-specific line, unless told otherwise. */
function fakeFfmpeg(encode: (encoder: string) => Partial<RunResult>): { run: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  const run: CommandRunner = async (cmd, args) => {
    calls.push([cmd, ...args]);
    const base = { code: 0, signal: null, stdout: '', stderr: '', timedOut: false };
    if (args[0] === '-version') return { ...base, stdout: `${VERSION}\nbuilt with gcc 12\n` };
    return { ...base, ...encode(args[args.indexOf('-c:v') + 1] ?? '') };
  };
  return { run, calls };
}

const failing = (encoder: string): Partial<RunResult> => ({
  code: 1,
  stderr: `[${encoder} @ 0x1] ${encoder} is not here\n`,
});

function setup(t: Test): { ffmpeg: string; cacheFile: string; tmpDir: string } {
  const root = t.testdir({ bin: { ffmpeg: '#!/bin/sh\n' }, data: {}, tmp: {} });
  const ffmpeg = path.join(root, 'bin/ffmpeg');
  chmodSync(ffmpeg, 0o755);
  return { ffmpeg, cacheFile: path.join(root, 'data/encoder-probe.json'), tmpDir: path.join(root, 'tmp') };
}

t.test('verdicts in ladder order; the second call is answered from the cache without spawning', async (t) => {
  const env = setup(t);
  const fake = fakeFfmpeg(failing);
  const first = await chooseEncoders(LADDER, S, BOARD, { ...env, run: fake.run, concurrency: 3 });
  t.same(
    first.verdicts.map((v) => [v.name, v.works, v.reason]),
    [
      ['h264_qsv', false, 'h264_qsv is not here'],
      ['h264_fake', false, 'h264_fake is not here'],
      ['libx264', false, 'libx264 is not here'],
    ],
  );
  t.same(first.working, []);
  t.equal(fake.calls.filter((c) => c[1] === '-version').length, 1);
  const stored = JSON.parse(readFileSync(env.cacheFile, 'utf8'));
  t.ok(stored.entries[verdictKey(BOARD, VERSION, S)], 'keyed by board, kernel, ffmpeg -version and settings');

  const again = fakeFfmpeg(failing);
  const second = await chooseEncoders(LADDER, S, BOARD, { ...env, run: again.run });
  t.same(again.calls, [], 'no ffmpeg spawned on a cache hit');
  t.same(
    second.verdicts.map((v) => [v.name, v.works, v.cached]),
    [
      ['h264_qsv', false, true],
      ['h264_fake', false, true],
      ['libx264', false, true],
    ],
  );
});

t.test('other settings, or an upgraded ffmpeg, probe again', async (t) => {
  const env = setup(t);
  await chooseEncoders(LADDER, S, BOARD, { ...env, run: fakeFfmpeg(failing).run });
  const bigger = fakeFfmpeg(failing);
  await chooseEncoders(LADDER, { ...S, width: 640, height: 480 }, BOARD, { ...env, run: bigger.run });
  t.equal(bigger.calls.filter((c) => c.includes('lavfi')).length, 3);
  t.equal(bigger.calls.filter((c) => c[1] === '-version').length, 0, 'same binary: its version comes from the cache');

  writeFileSync(env.ffmpeg, '#!/bin/sh\n# a new build\n');
  const upgraded = fakeFfmpeg(failing);
  await chooseEncoders(LADDER, S, BOARD, { ...env, run: upgraded.run });
  t.equal(upgraded.calls.filter((c) => c[1] === '-version').length, 1, 'a changed binary is asked its version');
});

t.test('a timed-out probe is not cached: the board may just have been busy', async (t) => {
  const env = setup(t);
  const slow = fakeFfmpeg((enc) =>
    enc === 'h264_qsv' ? { code: null, signal: 'SIGKILL', timedOut: true } : failing(enc),
  );
  const first = await chooseEncoders(LADDER, S, BOARD, { ...env, run: slow.run });
  t.match(first.verdicts[0]?.reason, /^test encode timed out/);
  const next = fakeFfmpeg(failing);
  const second = await chooseEncoders(LADDER, S, BOARD, { ...env, run: next.run });
  t.equal(next.calls.length, 1, 'only the timed-out candidate is probed again');
  t.equal(second.verdicts[0]?.reason, 'h264_qsv is not here');
  t.equal(second.verdicts[1]?.cached, true);
});

t.test('a corrupt or unwritable cache only costs time', async (t) => {
  const env = setup(t);
  writeFileSync(env.cacheFile, '{ not json');
  const fake = fakeFfmpeg(failing);
  const r = await chooseEncoders(LADDER, S, BOARD, { ...env, run: fake.run });
  t.equal(r.verdicts.length, 3);
  const ro = await chooseEncoders(LADDER, S, BOARD, {
    ...env,
    cacheFile: path.join(env.cacheFile, 'not-a-dir/encoder-probe.json'),
    run: fake.run,
  });
  t.equal(ro.verdicts.length, 3);
});

t.test('without a cache file every call probes', async (t) => {
  const env = setup(t);
  const fake = fakeFfmpeg(failing);
  await chooseEncoders(LADDER, S, BOARD, { ffmpeg: env.ffmpeg, tmpDir: env.tmpDir, run: fake.run });
  await chooseEncoders(LADDER, S, BOARD, { ffmpeg: env.ffmpeg, tmpDir: env.tmpDir, run: fake.run });
  t.equal(fake.calls.filter((c) => c.includes('lavfi')).length, 6);
});
