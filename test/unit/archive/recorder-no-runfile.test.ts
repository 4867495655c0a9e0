import { execFile } from 'node:child_process';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PARTIAL_DIR, recoverPartialRecordings, type Finished } from '../../../agent/archive/recorder.js';
import { silentLogger } from '../../../agent/util/logger.js';

const run = promisify(execFile);

/** A real MPEG-TS partial `seconds` long whose last write was at `mtime` (ISO). */
async function partial(file: string, seconds: number, mtime: string, offset = 0): Promise<void> {
  await run('ffmpeg', [
    ...[
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=160x120:rate=10',
      '-t',
      String(seconds),
    ],
    ...[
      '-output_ts_offset',
      String(offset),
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
      file,
    ],
  ]);
  await utimes(file, new Date(mtime), new Date(mtime));
}

// run.json is missing or unreadable (prepare() writes it without fsync, so a power cut early in a
// run can leave it empty): the run's timeline is lost (baseMs 0). The list's times and the first
// packet's timestamp count from that lost base, so they would put archives in 1970 (which the next
// retention pass deletes as decades old). Each partial's own mtime less its length is the guess.
for (const [name, runFile] of [
  ['an empty run.json (written but never flushed before the power cut)', ''],
  ['no run.json at all', null],
] as const) {
  t.test(`recovery with ${name} names archives from mtime less duration, never 1970`, async (t) => {
    const root = t.testdir();
    const dir = path.join(root, 'cam0', PARTIAL_DIR, 'run-cut');
    await mkdir(dir, { recursive: true });
    if (runFile !== null) await writeFile(path.join(dir, 'run.json'), runFile);
    // Segment 0 holds the run's timestamps (first frame at 3.4 s), the others start near 0.
    await partial(path.join(dir, 'rec-000000.ts'), 2, '2024-06-10T06:10:00.000Z', 3.4);
    await partial(path.join(dir, 'rec-000001.ts'), 2, '2024-06-10T06:10:02.000Z');
    await partial(path.join(dir, 'rec-000002.ts'), 1, '2024-06-10T06:10:06.500Z');
    await writeFile(
      path.join(dir, 'segments.csv'),
      'rec-000000.ts,0.000000,5.000000\nrec-000001.ts,5.000000,10.000000\n',
    );
    const finished: Finished[] = [];
    await recoverPartialRecordings({
      archiveRoot: root,
      camera: 'cam0',
      log: silentLogger(),
      onFinished: (f) => finished.push(f),
    });
    t.same(
      finished.map((f) => [f.info.file, f.info.start]),
      [
        ['cam0/2024-06-10/archive_20240610T060958Z.mp4', '2024-06-10T06:09:58.000Z'],
        ['cam0/2024-06-10/archive_20240610T061000Z.mp4', '2024-06-10T06:10:00.000Z'],
        ['cam0/2024-06-10/archive_20240610T061005Z.mp4', '2024-06-10T06:10:05.500Z'],
      ],
    );
    t.notOk(
      finished.some((f) => f.info.file.includes('1970')),
      'nothing in 1970',
    );
    t.same(
      finished.map((f) => f.recovered),
      [true, true, true],
      'all recovered',
    );
    t.same(
      finished.map((f) => f.info.clockSynced),
      [false, false, false],
      'and marked as not clock-synced',
    );
  });
}
