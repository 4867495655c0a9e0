import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { PARTIAL_DIR, recoverPartialRecordings, type Finished } from '../../../agent/archive/recorder.js';
import { silentLogger } from '../../../agent/util/logger.js';

const run = promisify(execFile);

// BUG (fails today): recorder.ts:189 falls back to `baseMs: 0` when a run folder's run.json is
// missing or unreadable (prepare() writes it without fsync, so a power cut early in a run can leave
// it empty). Every listed entry after the first, and the unlisted trailing one, are then placed at
// 0 + their timeline offset: archives named `1970-01-01/archive_19700101T0000xxZ.mp4`, which the
// next retention pass deletes as decades old. Each partial's own file name carries its wall-clock
// start (FFmpeg strftime), which parseStamp already reads for the first entry.
t.test('recovery without run.json names archives from their file stamps, not from 1970', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'cam0', PARTIAL_DIR, 'run-cut');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'run.json'), ''); // written but never flushed before the power cut
  for (const name of ['rec-20240610T060958Z.ts', 'rec-20240610T061000Z.ts', 'rec-20240610T061005Z.ts']) {
    await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mpegts', path.join(dir, name)]);
  }
  await writeFile(path.join(dir, 'segments.csv'), 'rec-20240610T060958Z.ts,3.400000,5.000000\nrec-20240610T061000Z.ts,5.000000,10.000000\n');
  const finished: Finished[] = [];
  await recoverPartialRecordings({ archiveRoot: root, camera: 'cam0', log: silentLogger(), onFinished: (f) => finished.push(f) });
  t.same(finished.map((f) => f.info.file), [
    'cam0/2024-06-10/archive_20240610T060958Z.mp4',
    'cam0/2024-06-10/archive_20240610T061000Z.mp4',
    'cam0/2024-06-10/archive_20240610T061005Z.mp4',
  ]);
  t.same(finished.map((f) => f.info.clockSynced), [false, false, false], 'and marked as not clock-synced');
});
