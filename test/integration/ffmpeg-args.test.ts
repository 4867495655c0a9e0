/**
 * The pipeline's FFmpeg command line (agent/pipeline/ffmpegArgs.ts) run by the real FFmpeg on the
 * test pattern: the recording is cut where the timeline says, on keyframes. The argument tables
 * are test/unit/pipeline/ffmpegArgs.test.ts.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { buildPipelineArgs } from '../../agent/pipeline/ffmpegArgs.js';
import { ffmpegEncoderArgs } from '../../device/encoders/args.js';
import { testPatternInput } from '../../device/sources/test.js';
import type { CaptureInput } from '../../device/types.js';

const run = promisify(execFile);

/** Video packets of an MPEG-TS file: presentation time and keyframe flag, in order. */
async function packets(file: string): Promise<Array<{ pts: number; key: boolean }>> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'csv=p=0',
    file,
  ]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.split(','))
    .map(([pts, flags]) => ({ pts: Number(pts), key: (flags ?? '').includes('K') }));
}

/** Runs the command line until the output reaches `untilSeconds` on the timeline. */
async function runUntil(args: string[], untilSeconds: number): Promise<void> {
  // The test pattern is paced to real time and never ends by itself; with -copyts, -t counts on the timeline.
  const tee = args.lastIndexOf('-f');
  const limited = [...args.slice(0, tee), '-t', String(untilSeconds), ...args.slice(tee)];
  await run('ffmpeg', limited, { env: { ...process.env, TZ: 'UTC' }, timeout: 30_000 });
}

t.test('real ffmpeg runs the built command line', async (t) => {
  const spec = { width: 160, height: 120, fps: 10 };
  // Frames are stamped as they arrive: on a starved 2-core machine (the suite next to stress-ng)
  // one came 190 ms after the second instead of within the 100-ms frame interval. Three frame
  // intervals still tell a cut on the second from one anywhere in it.
  const ARRIVAL_SLACK_S = 3 / spec.fps;
  const encoder = ffmpegEncoderArgs('libx264', { ...spec, bitrateKbps: 300, keyframeSeconds: 1 });

  t.test('wall clock: the test pattern stamped on arrival, cut at the clock', async (t) => {
    const dir = t.testdir({ hls: {}, rec: {} });
    const capture = testPatternInput(spec);
    t.equal(capture.wallClock, true);
    const now = Date.now() / 1000;
    const segment = 1;
    // The archive boundary at or before now: output times are wall-clock seconds since it.
    const base = Math.floor(now / segment) * segment;
    const args = buildPipelineArgs({
      capture,
      encoder,
      keyframeSeconds: 1,
      timeline: { baseSeconds: base, offsetSeconds: now - base },
      hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 5 },
      recording: { dir: path.join(dir, 'rec'), segmentSeconds: segment },
    });
    // FFmpeg's probe reads ~2 s of a 10-fps input before any output: run 4 s past that.
    await runUntil(args, Math.ceil(now - base) + 6);
    const playlist = await readFile(path.join(dir, 'hls', 'index.m3u8'), 'utf8');
    t.match(playlist, /#EXTM3U/);
    t.match(playlist, /seg-\d+\.ts/);
    const rows = (await readFile(path.join(dir, 'rec', 'segments.csv'), 'utf8')).trim().split('\n');
    t.ok(rows.length >= 2, `the recording was cut at least once: ${JSON.stringify(rows)}`);
    t.match(rows[0]!, /^rec-000000\.ts,/);
    const files = (await readdir(path.join(dir, 'rec'))).filter((f) => f.endsWith('.ts')).sort();
    t.same(
      files,
      rows.map((row) => row.split(',')[0]),
      'numbered files, as listed',
    );
    const first = await packets(path.join(dir, 'rec', 'rec-000000.ts'));
    t.ok(first[0]!.pts >= 0, `the first packet sits on the timeline at ${first[0]!.pts} s, not before the base`);
    t.ok(first[0]!.key, 'and is a keyframe');
    // Frames before the first whole second were dropped: the first one kept is within a frame of it.
    t.ok(
      first[0]!.pts - Math.floor(first[0]!.pts) < ARRIVAL_SLACK_S,
      `first packet ${first[0]!.pts} s: on a whole second`,
    );
    for (const file of files.slice(1)) {
      const later = await packets(path.join(dir, 'rec', file));
      t.ok(later[0]?.key, `${file} starts on a keyframe`);
    }
    for (const row of rows.slice(1)) {
      // The list keeps timeline times: every cut falls on a keyframe, so just after a whole second.
      const start = Number(row.split(',')[1]);
      t.ok(start - Math.floor(start) < ARRIVAL_SLACK_S, `${row}: cut on a whole second`);
    }
  });

  t.test('relative: timestamps from zero moved by the offset, cut by timestamps', async (t) => {
    const dir = t.testdir({ hls: {}, rec: {} });
    const wall = testPatternInput(spec);
    const capture: CaptureInput = { ...wall, inputArgs: wall.inputArgs.slice(2), wallClock: false };
    t.same(wall.inputArgs.slice(0, 2), ['-use_wallclock_as_timestamps', '1'], 'stripped the wall clock');
    const args = buildPipelineArgs({
      capture,
      encoder,
      keyframeSeconds: 1,
      timeline: { baseSeconds: 1_700_000_400, offsetSeconds: 0.4 },
      hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 5 },
      recording: { dir: path.join(dir, 'rec'), segmentSeconds: 1 },
    });
    await runUntil(args, 3);
    const rows = (await readFile(path.join(dir, 'rec', 'segments.csv'), 'utf8')).trim().split('\n');
    t.ok(rows.length >= 2, `the recording was cut at least once: ${JSON.stringify(rows)}`);
    t.match(rows[0]!, /^rec-000000\.ts,/);
    // Cuts fall on the timeline: the first cut at 1 - 0.4 = 0.6 s of the run.
    t.equal(Math.round(Number(rows[0]!.split(',')[2]) * 10) / 10, 1, 'first recording ends at timeline second 1');
    const first = await packets(path.join(dir, 'rec', 'rec-000000.ts'));
    t.ok(Math.abs(first[0]!.pts - 0.4) < 1e-3, `the first packet sits at the offset: ${first[0]!.pts}`);
  });
});
