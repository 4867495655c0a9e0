import { execFile } from 'node:child_process';
import { access, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PARTIAL_DIR, RecordingRun, recoverPartialRecordings, type Finished, type RunInfo } from '../../../agent/archive/recorder.js';
import { silentLogger } from '../../../agent/util/logger.js';

const run = promisify(execFile);

// The run's timeline: FFmpeg spawned at 06:09:58.4, archives 5 s long, so timestamps count from
// the 06:09:55 boundary and the first frame sits at 3.4 s.
const BASE = Date.parse('2024-06-10T06:09:55Z');
const FIRST = 'rec-20240610T060958Z.ts';
const SECOND = 'rec-20240610T061000Z.ts';
const THIRD = 'rec-20240610T061005Z.ts';
// FFmpeg's float end times land a hair off the boundary; rounding to the ms puts them back.
const CSV = `${FIRST},3.400000,4.9999999\n${SECOND},4.9999999,9.999999\n`;

let sample = '';
t.before(async () => {
  // One real 2-s MPEG-TS recording, copied wherever a partial is needed.
  const dir = t.testdir();
  sample = path.join(dir, 'sample.ts');
  await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mpegts', sample]);
});

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

function recorder(root: string, info: Partial<RunInfo> = {}) {
  const finished: Finished[] = [];
  const recording = new RecordingRun({
    archiveRoot: root,
    run: { camera: 'cam0', baseMs: BASE, clockSynced: true, ...info },
    runId: 'run1',
    log: silentLogger(),
    onFinished: (f) => finished.push(f),
  });
  return { recording, finished };
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
    t.same(JSON.parse(await readFile(path.join(recording.dir, 'run.json'), 'utf8')), { camera: 'cam0', baseMs: BASE, clockSynced: false });
  });

  t.test('listed entries are finished as they close: first named from its file, then on the boundaries', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    await copyFile(sample, path.join(recording.dir, FIRST));
    await copyFile(sample, path.join(recording.dir, SECOND));
    await copyFile(sample, path.join(recording.dir, THIRD));
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},3.400000,4.9999999\n`);
    await recording.poll();
    t.same(summary(finished), [['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.000Z', false]], 'the first entry: its file name stamp');
    await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
    await recording.poll();
    await recording.poll();
    t.same(summary(finished).slice(1), [['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false]], 'base + 4.9999999 s rounded to the ms; each entry once');
    t.notOk(await exists(path.join(recording.dir, FIRST)), 'finished partials removed');
    t.ok(await exists(path.join(recording.dir, THIRD)), 'the open one stays');
    const info = finished[0]!.info;
    t.match(info, { camera: 'cam0', clockSynced: true });
    t.ok(info.seconds > 1.5 && info.seconds < 2.5, `about 2 s, got ${info.seconds}`);
    t.ok(info.bytes > 0);
    const sidecar = JSON.parse(await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T061000Z.json'), 'utf8'));
    t.match(sidecar, { start: '2024-06-10T06:10:00.000Z', clockSynced: true, recovered: false });

    t.test('after a crash the unlisted trailing recording is recovered, starting where the list ended', async (t) => {
      await recording.close(false);
      t.same(summary(finished).slice(2), [['cam0/2024-06-10/archive_20240610T061005Z.mp4', '2024-06-10T06:10:05.000Z', true]]);
      t.match(JSON.parse(await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T061005Z.json'), 'utf8')), { recovered: true });
      t.notOk(await exists(recording.dir), 'the run folder is gone');
    });
  });

  t.test('a run that knows where its first frame sits starts its first archive there, not on the file stamp', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root, { firstMs: BASE + 3400 });
    await recording.prepare();
    for (const f of [FIRST, SECOND, THIRD]) await copyFile(sample, path.join(recording.dir, f));
    await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
    await recording.poll();
    t.same(summary(finished).map(([file, start]) => [file, start]), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.400Z'],
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z'],
    ], 'same name (whole seconds), exact start');
  });

  t.test('two segments in one second (a backlog caught up): the later one, which holds the file, is finished; later archives go on', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    for (const f of [FIRST, SECOND, THIRD]) await copyFile(sample, path.join(recording.dir, f));
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},3.400000,5.000000\n${FIRST},5.000000,10.000000\n${SECOND},10.000000,15.000000\n`);
    await recording.poll();
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false],
      ['cam0/2024-06-10/archive_20240610T061005Z.mp4', '2024-06-10T06:10:05.000Z', false],
    ], 'the overwritten entry is skipped, the file goes out under the later entry\'s start');
  });

  t.test('the last listed name still being written to (the next segment reopened it) is not finished yet', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    await copyFile(sample, path.join(recording.dir, FIRST));
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},3.400000,5.000000\n`);
    await recording.poll();
    t.same(finished, [], 'waits while the newest partial has the listed name');
    await copyFile(sample, path.join(recording.dir, SECOND));
    await recording.poll();
    t.equal(finished.length, 1, 'finished once FFmpeg has moved on to a new name');
  });

  t.test('a listed segment that is missing is skipped; the next ones are still finished', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    for (const f of [SECOND, THIRD]) await copyFile(sample, path.join(recording.dir, f));
    await writeFile(path.join(recording.dir, 'segments.csv'), CSV);
    await recording.poll();
    t.same(summary(finished).map(([file]) => file), ['cam0/2024-06-10/archive_20240610T061000Z.mp4']);
  });

  t.test('a clean stop finishes the last recording as not recovered', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root);
    await recording.prepare();
    for (const f of [FIRST, SECOND]) await copyFile(sample, path.join(recording.dir, f));
    // FFmpeg lists the last one too when it exits cleanly; a stop racing the list still counts as clean.
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},3.400000,4.9999999\n`);
    await recording.close(true);
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.000Z', false],
      ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z', false],
    ]);
  });

  t.test('a crash before anything was listed: the unlisted recording is named from its file', async (t) => {
    const root = t.testdir();
    const { recording, finished } = recorder(root, { clockSynced: false });
    await recording.prepare();
    await copyFile(sample, path.join(recording.dir, FIRST));
    await recording.close(false);
    t.same(summary(finished), [['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.000Z', true]]);
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
    const root = t.testdir({ cam0: { '2024-06-10': { 'archive_20240610T060958Z.mp4': 'older', 'archive_20240610T060958Z.json': '{}' } } });
    const { recording, finished } = recorder(root);
    await recording.prepare();
    // FIRST closed and listed; FFmpeg writes SECOND now.
    for (const f of [FIRST, SECOND]) await copyFile(sample, path.join(recording.dir, f));
    await writeFile(path.join(recording.dir, 'segments.csv'), `${FIRST},3.400000,4.9999999\n`);
    await recording.poll();
    t.same(summary(finished), [['cam0/2024-06-10/archive_20240610T060958Z-1.mp4', '2024-06-10T06:09:58.000Z', false]]);
    t.equal(await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T060958Z.mp4'), 'utf8'), 'older');
    t.equal(await readFile(path.join(root, 'cam0/2024-06-10/archive_20240610T060958Z.json'), 'utf8'), '{}');
  });
});

t.test('recoverPartialRecordings', async (t) => {
  t.test('every segment an earlier run left is reported recovered, listed ones on their boundaries', async (t) => {
    const root = t.testdir();
    const dir = path.join(root, 'cam0', PARTIAL_DIR, 'run-old');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'run.json'), JSON.stringify({ camera: 'cam0', baseMs: BASE, clockSynced: true }));
    for (const f of [FIRST, SECOND, THIRD]) await copyFile(sample, path.join(dir, f));
    await writeFile(path.join(dir, 'segments.csv'), CSV);
    const finished: Finished[] = [];
    await recoverPartialRecordings({ archiveRoot: root, camera: 'cam0', log: silentLogger(), onFinished: (f) => finished.push(f) });
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.000Z', true],
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
    await copyFile(sample, path.join(runA, FIRST));
    await writeFile(path.join(runA, 'rec-20240610T061000Z.ts'), '');
    await writeFile(path.join(runB, 'run.json'), JSON.stringify({ camera: 'cam0', baseMs: BASE + 600_000, clockSynced: true }));
    await copyFile(sample, path.join(runB, 'rec-20240610T062001Z.ts'));
    const finished: Finished[] = [];
    await recoverPartialRecordings({ archiveRoot: root, camera: 'cam0', log: silentLogger(), onFinished: (f) => finished.push(f) });
    t.same(summary(finished), [
      ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.000Z', true],
      ['cam0/2024-06-10/archive_20240610T062001Z.mp4', '2024-06-10T06:20:01.000Z', true],
    ]);
    t.same(finished.map((f) => f.info.clockSynced), [false, true], 'each run keeps its clock state');
    t.same(await readdir(path.join(root, 'cam0', PARTIAL_DIR)), []);
  });

  t.test('no partial folder: nothing happens', async (t) => {
    const finished: Finished[] = [];
    await recoverPartialRecordings({ archiveRoot: t.testdir(), camera: 'cam0', log: silentLogger(), onFinished: (f) => finished.push(f) });
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
    await recoverPartialRecordings({ archiveRoot: root, camera: 'cam0', log: silentLogger(), onFinished: (f) => finished.push(f) });
    t.same(finished, []);
    t.notOk(await exists(dir), 'the partial and its run folder are gone');
  });
});
