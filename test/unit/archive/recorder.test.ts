import { execFile } from 'node:child_process';
import { access, appendFile, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import {
  PARTIAL_DIR,
  RecordingRun,
  recoverPartialRecordings,
  segmentIndex,
  type Finished,
  type RunInfo,
} from '../../../agent/archive/recorder.js';
import {
  keyframeExpression,
  RECORDING_LIST,
  RECORDING_PATTERN,
  teeOptionValue,
  teeOutput,
} from '../../../agent/pipeline/ffmpegArgs.js';
import { silentLogger } from '../../../agent/util/logger.js';

const run = promisify(execFile);

// The run's timeline: FFmpeg spawned at 06:09:58.4, archives 5 s long, so timestamps count from
// the 06:09:55 boundary and the first frame sits at 3.4 s.
const BASE = Date.parse('2024-06-10T06:09:55Z');
/** FFmpeg's segment muxer numbers the partials: rec-%06d.ts. */
const rec = (index: number): string => `rec-${String(index).padStart(6, '0')}.ts`;
const [FIRST, SECOND, THIRD] = [rec(0), rec(1), rec(2)];
// What FFmpeg lists: the first entry from 0 (its first packet says where it really starts), and
// float end times a hair off the boundary, which rounding to the ms puts back.
const CSV = `${FIRST},0.000000,4.9999999\n${SECOND},4.9999999,9.999999\n`;

/** Real 2-s MPEG-TS recordings, copied wherever a partial is needed. */
const sample = { first: '', later: '', short: '' };

/** Timestamp (s) of a file's first video packet, as ffprobe reads it. */
async function firstPacket(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-read_intervals',
    '%+#1',
    '-show_entries',
    'packet=pts_time',
    '-of',
    'csv=p=0',
    file,
  ]);
  return Number.parseFloat(stdout.trim().split('\n')[0]!.replace(/,$/, ''));
}

t.before(async () => {
  const dir = t.testdir();
  // -muxdelay 0: as the segment muxer behind the tee writes them. A plain `-f mpegts` output would
  // add FFmpeg's 1.4-s mux delay to every timestamp (3.4 → 4.8), which the pipeline's partials lack.
  const make = async (name: keyof typeof sample, offset: number | null) => {
    sample[name] = path.join(dir, `${name}.ts`);
    await run('ffmpeg', [
      ...['-hide_banner', '-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '2'],
      ...(offset === null ? [] : ['-output_ts_offset', String(offset)]),
      ...[
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-g',
        '10',
        '-muxdelay',
        '0',
        '-muxpreload',
        '0',
        '-f',
        'mpegts',
        sample[name],
      ],
    ]);
  };
  // The first segment keeps the run's timestamps (first frame at 3.4 s); later ones are reset to 0.
  await make('first', 3.4);
  await make('later', null);
  // A run started 0.4 s before a cut: its first segment is that short stretch.
  await make('short', 4.6);
});

t.test('the sample partials hold the timestamps the tests rely on', async (t) => {
  t.equal(await firstPacket(sample.first), 3.4, "first segment: the run's first frame at 3.4 s");
  t.equal(await firstPacket(sample.later), 0, 'later segments: reset to 0');
  t.equal(await firstPacket(sample.short), 4.6);
});

t.test('segmentIndex', async (t) => {
  t.equal(segmentIndex('rec-000000.ts'), 0);
  t.equal(segmentIndex('rec-000012.ts'), 12);
  t.equal(segmentIndex('rec-1234567.ts'), 1234567, 'past six digits FFmpeg just writes more');
  t.equal(segmentIndex('rec-20240610T061000Z.ts'), -1, 'an old clock-named partial');
  t.equal(segmentIndex('rec-000001.ts.tmp'), -1);
  t.equal(segmentIndex('segments.csv'), -1);
});

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

function recorder(root: string, info: Partial<RunInfo> = {}, clockSynced?: () => Promise<boolean>) {
  const finished: Finished[] = [];
  const recording = new RecordingRun({
    archiveRoot: root,
    run: { camera: 'cam0', baseMs: BASE, clockSynced: true, ...info },
    runId: 'run1',
    log: silentLogger(),
    onFinished: (f) => finished.push(f),
    ...(clockSynced ? { clockSynced } : {}),
  });
  return { recording, finished };
}

/** Copies the samples into a run folder: the first as segment 0, the rest as later segments. */
async function partials(dir: string, ...files: string[]): Promise<void> {
  for (const f of files) await copyFile(segmentIndex(f) === 0 ? sample.first : sample.later, path.join(dir, f));
}

/** [file, start, recovered] of each finished archive, in order. */
function summary(finished: Finished[]): Array<[string, string, boolean]> {
  return finished.map((f) => [f.info.file, f.info.start, f.recovered]);
}

t.test('RecordingRun', async (t) => {
  t.test('prepare makes the run folder under .partial with the timeline', async (t) => {
    const root = t.testdir();
    const { recording } = recorder(root, { clockSynced: false });
    await recording.prepare();
    t.equal(recording.dir, path.join(root, 'cam0', PARTIAL_DIR, 'run1'));
    t.same(JSON.parse(await readFile(path.join(recording.dir, 'run.json'), 'utf8')), {
      camera: 'cam0',
      baseMs: BASE,
      clockSynced: false,
    });
  });

  t.test(
    'listed entries are finished as they close: the first from its first packet, then on the boundaries',
    async (t) => {
      const root = t.testdir();
      const { recording, finished } = recorder(root);
      await recording.prepare();
      await partials(recording.dir, FIRST, SECOND, THIRD);
      await recording.poll();
      t.same(finished, [], 'nothing listed yet: nothing finished');
      await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},0.000000,4.9999999\n`);
      await recording.poll();
      t.same(
        summary(finished),
        [['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', false]],
        "base + 3.4 s, from the file, not the list's 0",
      );
      t.ok(await exists(path.join(recording.dir, SECOND)), 'the one being written stays');
      await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
      await recording.poll();
      await recording.poll();
      t.same(
        summary(finished).slice(1),
        [['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false]],
        'base + 4.9999999 s rounded to the ms; each entry once',
      );
      t.notOk(await exists(path.join(recording.dir, FIRST)), 'finished partials removed');
      t.notOk(await exists(path.join(recording.dir, SECOND)));
      t.ok(await exists(path.join(recording.dir, THIRD)), 'the open one stays');
      const info = finished[0]!.info;
      t.match(info, { camera: 'cam0', clockSynced: true });
      t.ok(info.seconds > 1.5 && info.seconds < 2.5, `about 2 s, got ${info.seconds}`);
      t.ok(info.bytes > 0);
      const sidecar = JSON.parse(
        await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T061000Z.json'), 'utf8'),
      );
      t.match(sidecar, { start: '2024-06-10T06:10:00.000Z', clockSynced: true, recovered: false });

      t.test('after a crash the unlisted trailing recording is recovered, starting where the list ended', async (t) => {
        await recording.close(false);
        t.same(
          summary(finished).slice(2),
          [['cam0/2024-06-10/archive_20240610T061005Z.mp4', '2024-06-10T06:10:05.000Z', true]],
          'base + 9.999999 s rounded',
        );
        t.equal(finished.length, 3, 'nothing finished twice');
        t.match(JSON.parse(await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T061005Z.json'), 'utf8')), {
          recovered: true,
        });
        t.notOk(await exists(recording.dir), 'the run folder is gone');
      });
    },
  );

  t.test("each archive carries the clock state of its own span, not of the run's start", async (t) => {
    const root = t.testdir();
    // The run starts before NTP has synchronised (a board without a real-time clock).
    let synced = false;
    const { recording, finished } = recorder(root, { clockSynced: false }, async () => synced);
    await recording.prepare();
    await partials(recording.dir, FIRST, SECOND, THIRD, rec(3));
    const list = path.join(recording.dir, 'segments.csv');
    await recording.poll();
    synced = true; // a slew, no step: the run goes on
    await writeFile(list, `${FIRST},0.000000,4.9999999\n`);
    await recording.poll();
    await recording.poll();
    await appendFile(list, `${SECOND},4.9999999,9.999999\n`);
    await recording.poll();
    synced = false; // synchronisation lost in the middle of the third
    await recording.poll();
    synced = true;
    await recording.poll();
    await appendFile(list, `${THIRD},9.999999,14.999999\n`);
    await recording.poll();
    t.same(
      finished.map((f) => f.info.clockSynced),
      [false, true, false],
      'unsynced at its start; synced for all of it; lost for a second of it',
    );
    await recording.close(true);
    t.same(
      finished.map((f) => f.info.clockSynced),
      [false, true, false, true],
      'the last, closed at stop, synced all along',
    );
    const sidecar = JSON.parse(
      await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T061000Z.json'), 'utf8'),
    );
    t.equal(sidecar.clockSynced, true, 'the sidecar says the same');
  });

  t.test(
    'the list is read on from where the last read stopped; a line still being written waits for its newline',
    async (t) => {
      const root = t.testdir();
      const { recording, finished } = recorder(root);
      await recording.prepare();
      await partials(recording.dir, FIRST, SECOND, THIRD);
      const list = path.join(recording.dir, 'segments.csv');
      await writeFile(list, `${FIRST},0.000000,4.99`);
      await recording.poll();
      t.same(finished, [], 'half a line: nothing finished');
      await appendFile(list, `99999\n${SECOND},4.9`);
      await recording.poll();
      t.same(
        summary(finished).map(([file]) => file),
        ['cam0/2024-06-10/archive_20240610T060958Z.mp4'],
        'the completed line only',
      );
      await appendFile(list, '999999,9.999999\n');
      await recording.poll();
      t.same(
        summary(finished).slice(1),
        [['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false]],
        'its start read from the line joined across two reads',
      );
      t.equal(finished.length, 2, 'each entry once');
    },
  );

  t.test("the first segment's own first packet wins over where the run planned its first frame", async (t) => {
    const root = t.testdir();
    // Planned at 3.0 s; the capture's first frame really came at 3.4 s.
    const { recording, finished } = recorder(root, { firstMs: BASE + 3000 });
    await recording.prepare();
    await partials(recording.dir, FIRST, SECOND, THIRD);
    await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
    await recording.poll();
    t.same(
      summary(finished).map(([file, start]) => [file, start]),
      [
        ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z'],
        ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z'],
      ],
    );
  });

  t.test('a run started just before a cut: two partials opened in the same second, two archives', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    // First frame at 4.6 s (06:09:59.6), cut at 5 s (06:10:00): the old clock names would both
    // have been rec-20240610T060959Z.ts, the second overwriting the first.
    await copyFile(sample.short, path.join(recording.dir, FIRST));
    await partials(recording.dir, SECOND, THIRD);
    await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
    await recording.poll();
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060959Z.mp4', '2024-06-10T06:09:59.600Z', false],
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false],
    ]);
  });

  t.test('a listed segment that is missing is skipped; the later ones are still finished as they close', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    await partials(recording.dir, FIRST, THIRD, rec(3));
    await writeFile(path.join(recording.dir, 'segments.csv'), `${CSV}${THIRD},9.999999,15.000000\n`);
    await recording.poll();
    t.same(
      summary(finished),
      [
        ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', false],
        ['cam0/2024-06-10/archive_20240610T061005Z.mp4', '2024-06-10T06:10:05.000Z', false],
      ],
      'segment 1 skipped, segment 2 on its own listed start',
    );
    t.ok(await exists(path.join(recording.dir, rec(3))), 'the open one stays');
  });

  t.test(
    'a missing first segment (run planned its first frame) is skipped; the later ones are still finished',
    async (t) => {
      const root = t.testdir();
      const { recording, finished } = recorder(root, { firstMs: BASE + 3400 });
      await recording.prepare();
      await partials(recording.dir, SECOND, THIRD);
      await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
      await recording.poll();
      t.same(
        summary(finished).map(([file]) => file),
        ['cam0/2024-06-10/archive_20240610T061000Z.mp4'],
      );
    },
  );

  // Segment 0's start comes from its own first packet, so a missing one used to throw before the
  // skip could catch it and block every later archive until FFmpeg exited.
  t.test(
    'a missing first segment (no planned first frame) is skipped; the later ones are still finished as they close',
    async (t) => {
      const root = t.testdir();
      const { recording, finished } = recorder(root);
      await recording.prepare();
      await partials(recording.dir, SECOND, THIRD);
      await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
      await recording.poll();
      t.same(
        summary(finished).map(([file]) => file),
        ['cam0/2024-06-10/archive_20240610T061000Z.mp4'],
        'segment 1 finished while segment 2 is written',
      );
      await recording.close(true);
      t.same(
        summary(finished),
        [
          ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false],
          ['cam0/2024-06-10/archive_20240610T061005Z.mp4', '2024-06-10T06:10:05.000Z', false],
        ],
        'each once, on the timeline',
      );
    },
  );

  t.test('a clean stop finishes the last recording as not recovered', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    await partials(recording.dir, FIRST, SECOND);
    // FFmpeg lists the last one too when it exits cleanly; a stop racing the list still counts as clean.
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},0.000000,4.9999999\n`);
    await recording.close(true);
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', false],
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false],
    ]);
    t.notOk(await exists(recording.dir));
  });

  t.test('a clean stop with everything listed finishes the last one from the list', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    await partials(recording.dir, FIRST, SECOND);
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},0.000000,4.9999999\n`);
    await recording.poll();
    await writeFile(
      path.join(recording.dir, 'segments.csv'),
      `${FIRST},0.000000,4.9999999\n${SECOND},4.9999999,7.300000\n`,
    );
    await recording.close(true);
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', false],
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false],
    ]);
  });

  t.test('a crash before anything was listed: the unlisted first recording starts at its first packet', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root, { clockSynced: false });
    await recording.prepare();
    await partials(recording.dir, FIRST);
    await recording.close(false);
    t.same(summary(finished), [['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', true]]);
    t.equal(finished[0]!.info.clockSynced, false);
  });

  t.test('an empty partial (FFmpeg died before its first frame) is dropped', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    await writeFile(path.join(recording.dir, FIRST), '');
    await recording.close(false);
    t.same(finished, []);
    t.notOk(await exists(recording.dir));
    t.same(await readdir(path.join(root, 'cam0', '2024-06-10')).catch(() => []), [], 'no archive made for nothing');
  });

  t.test('a name already taken (clock stepped back) gets -1, the old archive untouched', async (t) => {
    const root = t.testdir({
      cam0: { '2024-06-10': { 'archive_20240610T060958Z.mp4': 'older', 'archive_20240610T060958Z.json': '{}' } },
    });
    const { recording, finished } = recorder(root);
    await recording.prepare();
    // FIRST closed and listed; FFmpeg writes SECOND now.
    await partials(recording.dir, FIRST, SECOND);
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},0.000000,4.9999999\n`);
    await recording.poll();
    t.same(summary(finished), [['cam0/2024-06-10/archive_20240610T060958Z-1.mp4', '2024-06-10T06:09:58.400Z', false]]);
    t.equal(await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T060958Z.mp4'), 'utf8'), 'older');
    t.equal(await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T060958Z.json'), 'utf8'), '{}');
  });

  t.test("the partials and list FFmpeg's segment muxer really writes are finished on the run's timeline", async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    // The recording half of the pipeline's command line: first frame moved to 3.4 s on the
    // timeline, 5-s segments behind a tee, timestamps reset after the first segment.
    const target = [
      'f=segment',
      'segment_time=5',
      'segment_format=mpegts',
      'segment_format_options=flush_packets=1',
      'reset_timestamps=1',
      `segment_list=${teeOptionValue(path.join(recording.dir, RECORDING_LIST))}`,
      'segment_list_type=csv',
      'onfail=abort',
    ];
    await run('ffmpeg', [
      ...[
        '-hide_banner',
        '-nostdin',
        '-v',
        'error',
        '-itsoffset',
        '3.400000',
        '-f',
        'lavfi',
        '-t',
        '4',
        '-i',
        'testsrc2=size=160x120:rate=10',
        '-copyts',
        '-start_at_zero',
      ],
      ...[
        '-map',
        '0:v:0',
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-g',
        '10',
        '-pix_fmt',
        'yuv420p',
      ],
      ...['-force_key_frames', keyframeExpression(1, 3.4), '-fps_mode', 'vfr', '-flags', '+global_header', '-an'],
      ...['-f', 'tee', `[${target.join(':')}]${teeOutput(path.join(recording.dir, RECORDING_PATTERN))}`],
    ]);
    // 3.4 s → 7.4 s on the timeline: cut at 5 s.
    const list = (await readFile(path.join(recording.dir, RECORDING_LIST), 'utf8')).trim().split('\n');
    t.same(
      list.map((line) => line.split(',')[0]),
      [FIRST, SECOND],
      `FFmpeg's list: ${list.join(' | ')}`,
    );
    t.equal(await firstPacket(path.join(recording.dir, FIRST)), 3.4, "the first segment keeps the run's timestamps");
    t.equal(await firstPacket(path.join(recording.dir, SECOND)), 0, 'later ones are reset');
    await recording.close(true);
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', false],
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false],
    ]);
    t.ok(
      Math.abs(finished[0]!.info.seconds - 1.6) < 0.15,
      `first archive about 1.6 s, got ${finished[0]!.info.seconds}`,
    );
    t.ok(Math.abs(finished[1]!.info.seconds - 2.4) < 0.15, `second about 2.4 s, got ${finished[1]!.info.seconds}`);
  });
});

t.test('recoverPartialRecordings', async (t) => {
  t.test('every segment an earlier run left is reported recovered, listed ones on their boundaries', async (t) => {
    const root = t.testdir();
    const dir = path.join(root, 'cam0', PARTIAL_DIR, 'run-old');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'run.json'), JSON.stringify({ camera: 'cam0', baseMs: BASE, clockSynced: true }));
    await partials(dir, FIRST, SECOND, THIRD);
    await writeFile(path.join(dir, 'segments.csv'), CSV);
    const finished: Finished[] = [];
    await recoverPartialRecordings({
      archiveRoot: root,
      camera: 'cam0',
      log: silentLogger(),
      onFinished: (f) => finished.push(f),
    });
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', true],
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', true],
      ['cam0/2024-06-10/archive_20240610T061005Z.mp4', '2024-06-10T06:10:05.000Z', true],
    ]);
    t.same(await readdir(path.join(root, 'cam0', PARTIAL_DIR)), [], 'the run folder is removed');
  });

  t.test('several runs, oldest first; an empty partial dropped', async (t) => {
    const root = t.testdir();
    const runA = path.join(root, 'cam0', PARTIAL_DIR, '1718000000000-10');
    const runB = path.join(root, 'cam0', PARTIAL_DIR, '1718000600000-11');
    for (const d of [runA, runB]) await mkdir(d, { recursive: true });
    await writeFile(path.join(runA, 'run.json'), JSON.stringify({ camera: 'cam0', baseMs: BASE, clockSynced: false }));
    await partials(runA, FIRST);
    await writeFile(path.join(runA, SECOND), '');
    await writeFile(
      path.join(runB, 'run.json'),
      JSON.stringify({ camera: 'cam0', baseMs: BASE + 600_000, clockSynced: true }),
    );
    await partials(runB, FIRST);
    const finished: Finished[] = [];
    await recoverPartialRecordings({
      archiveRoot: root,
      camera: 'cam0',
      log: silentLogger(),
      onFinished: (f) => finished.push(f),
    });
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z', true],
      ['cam0/2024-06-10/archive_20240610T061958Z.mp4', '2024-06-10T06:19:58.400Z', true],
    ]);
    t.same(
      finished.map((f) => f.info.clockSynced),
      [false, true],
      'each run keeps its clock state',
    );
    t.same(await readdir(path.join(root, 'cam0', PARTIAL_DIR)), []);
  });

  t.test('no partial folder: nothing happens', async (t) => {
    const finished: Finished[] = [];
    await recoverPartialRecordings({
      archiveRoot: t.testdir(),
      camera: 'cam0',
      log: silentLogger(),
      onFinished: (f) => finished.push(f),
    });
    t.same(finished, []);
  });

  t.test('a partial holding no playable video (not MPEG-TS) is dropped, not retried at every start', async (t) => {
    const root = t.testdir();
    const dir = path.join(root, 'cam0', PARTIAL_DIR, 'run-bad');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'run.json'), JSON.stringify({ camera: 'cam0', baseMs: BASE, clockSynced: true }));
    // Not MPEG-TS at all: FFmpeg says "Invalid data found", which the finisher treats as nothing playable.
    await writeFile(path.join(dir, FIRST), 'garbage'.repeat(100));
    const finished: Finished[] = [];
    await recoverPartialRecordings({
      archiveRoot: root,
      camera: 'cam0',
      log: silentLogger(),
      onFinished: (f) => finished.push(f),
    });
    t.same(finished, []);
    t.notOk(await exists(dir), 'the partial and its run folder are gone');
  });
});
